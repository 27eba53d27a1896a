"""Every per-event evaluator runs in time linear in the length of its text.

This is a relative-growth check, as the issue allows, not a wall-clock assertion: each
evaluator runs on adversarial strings of n and 8n characters (16 KB and 128 KB), the CPU
time (``time.process_time``, the minimum of 3 runs, each run repeated until it lasts a few
milliseconds) is measured for both, and the ratio must stay at most 24. Linear work gives
about 8, quadratic work 64; the margin absorbs noise, caches and allocation. ``evaluate``
is called with a ``max_chars`` larger than the text, so the check covers the detectors
themselves and not only the truncation in front of them.

The adversarial strings are those that make backtracking engines blow up: one repeated
character, nested brackets, long digit runs, digit-and-separator runs, ``a@`` runs, mixed
scripts, lone surrogates, zero-width characters, and repeated prefixes of the PII
patterns (``+1 ``, ``eyJ``, ``-----BEGIN ``, ``sk-``, ``token=``). A hypothesis property
test then checks invariants of the detectors on random texts over an alphabet made of the
same pieces.
"""

from __future__ import annotations

import importlib.util
import itertools
import math
import time
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detectors.evaluate import evaluate
from detectors.jailbreak import jailbreak_score
from detectors.pii import KINDS, find_pii, scrub
from detectors.refusal import refusal_score

N = 16 * 1024
GROWTH = 8
MAX_RATIO = 24.0

UNITS = {
    "a": "a",
    "1": "1",
    "@": "@",
    ".": ".",
    "space": " ",
    "-": "-",
    ":": ":",
    "nested_brackets": None,  # "(" * k + ")" * k, built below
    "mixed_brackets": "([{<",
    "digits": "1234567890",
    "1-": "1-",
    "1 ": "1 ",
    "1.": "1.",
    "a@": "a@",
    "a.a@": "a.a@",
    "mixed_scripts": "Latin Кириллица 中文字符 العربية 😀 ",
    "lone_surrogate": "a\ud800 \udfff1",
    "zero_width": "1\u200b",
    "+1 ": "+1 ",
    "1.1.1.1 ": "1.1.1.1 ",
    "ab12:": "ab12:",
    "eyJ": "eyJ",
    "-----BEGIN ": "-----BEGIN ",
    "sk-": "sk-",
    "token=": "token=",
    "AB12 ": "AB12 ",
}


def _text(unit: str, size: int) -> str:
    if UNITS[unit] is None:
        return "(" * (size // 2) + ")" * (size // 2)
    piece = UNITS[unit]
    return (piece * (size // len(piece) + 1))[:size]


def _evaluators() -> dict[str, Callable[[str], object]]:
    found: dict[str, Callable[[str], object]] = {
        "pii.scrub": scrub,
        "refusal.refusal_score": refusal_score,
        "jailbreak.jailbreak_score": jailbreak_score,
        "evaluate.evaluate": lambda t: evaluate(t, t, max_chars=len(t) + 1),
    }
    # Written alongside this test; included whenever they are present.
    if importlib.util.find_spec("detectors.harmful_output") is not None:
        from detectors.harmful_output import harmful_output_score

        found["harmful_output.harmful_output_score"] = lambda t: harmful_output_score(t, t)
    if importlib.util.find_spec("detectors.harmful_request") is not None:
        from detectors.harmful_request import harmful_request_score

        found["harmful_request.harmful_request_score"] = harmful_request_score
    return found


EVALUATORS = _evaluators()


def _cpu(fn: Callable[[str], object], text: str, reps: int) -> float:
    best = math.inf
    for _ in range(3):
        t0 = time.process_time()
        for _ in range(reps):
            fn(text)
        best = min(best, time.process_time() - t0)
    return best / reps


def growth(fn: Callable[[str], object], unit: str) -> tuple[float, float, float]:
    """CPU seconds at n and 8n characters, and their ratio."""
    small, large = _text(unit, N), _text(unit, N * GROWTH)
    t0 = time.process_time()
    fn(small)
    once = max(time.process_time() - t0, 1e-6)
    reps = max(1, math.ceil(0.004 / once))  # each timed run lasts at least ~4 ms
    t_small = _cpu(fn, small, reps)
    t_large = _cpu(fn, large, max(1, reps // GROWTH))
    return t_small, t_large, t_large / max(t_small, 1e-6)


# The slowest entry points (evaluate runs every detector, jailbreak_score costs tens of ms
# per call at these sizes) get a subset of the strings, to keep the test under ~15 s; the
# detectors evaluate() calls are each checked on every string.
_SUBSET = ("a", "1 ", "nested_brackets", "mixed_scripts", "lone_surrogate", "zero_width", "a@",
           "1.1.1.1 ")
SUBSETS = {"evaluate.evaluate": _SUBSET[2:7], "jailbreak.jailbreak_score": _SUBSET}
CASES = [(name, unit) for name in sorted(EVALUATORS) for unit in SUBSETS.get(name, sorted(UNITS))]


@pytest.mark.parametrize(("name", "unit"), CASES)
def test_cpu_time_grows_linearly_on_adversarial_text(name: str, unit: str) -> None:
    t_small, t_large, ratio = growth(EVALUATORS[name], unit)
    assert ratio <= MAX_RATIO, (name, unit, t_small, t_large, ratio)


def test_all_issue_entry_points_are_covered() -> None:
    assert {"pii.scrub", "refusal.refusal_score", "jailbreak.jailbreak_score",
            "evaluate.evaluate"} <= set(EVALUATORS)


ALPHABET = st.sampled_from(
    list("0123456789") * 3
    + list(" .-/+()[]{}@:_=#,;\n")
    + list("aAbBcCdDeEfFxXzZ")
    + ["+44 ", "(0)", "sk-", "ghp_", "eyJ", "AKIA", "@ex.com", "192.168.", "::", "GB82",
       "-----BEGIN PRIVATE KEY-----", "call ", "order ", "SSN ", "v", "token=", "\u200b",
       "\ud800", "中", "й"]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ALPHABET, max_size=600).map("".join))
def test_detectors_keep_their_invariants_on_random_text(text: str) -> None:
    kinds, redacted = scrub(text)
    clean = text.translate(dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad")))
    matches = find_pii(clean)
    # Spans are sorted, disjoint, non-empty, of known kinds, and the kinds are reported.
    assert all(a.end <= b.start for a, b in itertools.pairwise(matches))
    assert all(m.start < m.end and m.kind in KINDS for m in matches)
    assert kinds == frozenset(m.kind for m in matches)
    # Each span is replaced by its placeholder and everything else is kept as it was.
    rebuilt, pos = [], 0
    for m in matches:
        rebuilt += [clean[pos : m.start], f"[REDACTED:{m.kind}]"]
        pos = m.end
    assert redacted == "".join([*rebuilt, clean[pos:]])
    # Scrubbing again never reaches into a placeholder.
    _, again = scrub(redacted)
    assert again.count("[REDACTED:") >= redacted.count("[REDACTED:")
    for name, fn in EVALUATORS.items():
        if name.endswith("_score"):
            score = fn(text)
            assert isinstance(score, float) and 0.0 <= score <= 1.0, (name, score)
