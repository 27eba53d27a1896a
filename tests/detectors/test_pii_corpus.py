"""Per-kind precision and recall of the PII detector on the seeded Faker corpus.

Two splits: the ``main`` carrier templates with one seed, and the ``heldback`` templates
(JSON, log lines, CSV rows, signatures, other wording) with another seed, so a detector
tuned on one set of sentences is checked on sentences it was not tuned on. Scoring is
span-level (see ``pii_corpus.score``).
"""

from __future__ import annotations

from functools import cache

import pytest
from pii_corpus import KINDS, Sample, build_corpus, score

from detectors.pii import find_pii, scrub

SPLITS = {"main": 20260601, "heldback": 7331}
N_PER_KIND = 200


@cache
def corpus(split: str) -> tuple[Sample, ...]:
    return tuple(build_corpus(SPLITS[split], N_PER_KIND, split=split))


@cache
def results(split: str) -> dict[str, dict[str, float]]:
    return score(corpus(split), lambda t: [(m.kind, m.start, m.end) for m in find_pii(t)])


@pytest.mark.parametrize("split", sorted(SPLITS))
@pytest.mark.parametrize("kind", KINDS)
def test_precision_and_recall_per_kind_are_at_least_095(split: str, kind: str) -> None:
    r = results(split)[kind]
    assert r["expected"] >= N_PER_KIND
    assert r["precision"] >= 0.95, (split, kind, r)
    assert r["recall"] >= 0.95, (split, kind, r)


@pytest.mark.parametrize("split", sorted(SPLITS))
def test_nothing_is_found_in_most_tricky_negatives(split: str) -> None:
    negatives = [s for s in corpus(split) if not s.spans]
    assert len({s.label for s in negatives}) >= 15
    flagged = [s.label for s in negatives if find_pii(s.text)]
    assert len(flagged) <= 0.01 * len(negatives), flagged[:10]


@pytest.mark.parametrize("split", sorted(SPLITS))
def test_redacted_text_keeps_no_raw_value_that_was_found(split: str) -> None:
    leaked, missed = [], 0
    for sample in corpus(split):
        _, redacted = scrub(sample.text)
        for span in sample.spans:
            if span.value in redacted:
                missed += 1
                # Only a value the detector did not find at all may survive redaction.
                found = find_pii(sample.text)
                if any(m.start < span.end and span.start < m.end for m in found):
                    leaked.append(span.source)
    assert leaked == []
    assert missed <= 0.05 * sum(len(s.spans) for s in corpus(split))


def test_corpus_is_deterministic_and_spans_point_at_their_values() -> None:
    a = build_corpus(5, 10)
    b = build_corpus(5, 10)
    assert [s.text for s in a] == [s.text for s in b]
    assert all(s.text[x.start : x.end] == x.value for s in a for x in s.spans)
    assert [s.text for s in build_corpus(6, 10)] != [s.text for s in a]


def test_splits_use_different_carrier_sentences() -> None:
    main = {s.text for s in build_corpus(5, 20, split="main")}
    held = {s.text for s in build_corpus(5, 20, split="heldback")}
    assert not main & held
    assert any(t.startswith("{") for t in held) and not any(t.startswith('{"') for t in main)
