"""User-trainable text classifier: learning, safe save/load, labelled JSONL reading."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from detectors.textclf import (
    FORMAT,
    VERSION,
    LabeledDataError,
    ModelFileError,
    TextClassifier,
    load,
    read_labeled_jsonl,
    train,
)

NEUTRAL = [f"w{i}" for i in range(300)]
POSITIVE = ["refund", "urgent", "password", "wire", "gift", "verify", "suspend", "prize",
            "winner", "click", "account", "bitcoin"]
NEGATIVE = ["meeting", "agenda", "lunch", "report", "draft", "review", "schedule", "notes",
            "thanks", "team", "project", "minutes"]


def _synthetic(n: int, seed: int) -> list[tuple[str, bool]]:
    """Noisy two-class task: 20-word texts, each word a class cue with probability 0.2;
    cues come from the own class's list 80% of the time and the other's 20%. Counting
    cues (the oracle) reaches a held-out AUC of about 0.96, not 1."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        label = bool(rng.random() < 0.4)
        own, other = (POSITIVE, NEGATIVE) if label else (NEGATIVE, POSITIVE)
        words = []
        for _ in range(20):
            if rng.random() < 0.2:
                pool = own if rng.random() < 0.8 else other
                words.append(pool[rng.integers(len(pool))])
            else:
                words.append(NEUTRAL[rng.integers(len(NEUTRAL))])
        out.append((" ".join(words), label))
    return out


@pytest.fixture(scope="module")
def trained() -> TextClassifier:
    return train(_synthetic(600, seed=1), seed=0)


def test_trained_classifier_separates_a_held_out_synthetic_set(trained: TextClassifier) -> None:
    test = _synthetic(400, seed=2)
    scores = trained.score_many([t for t, _ in test])
    auc = roc_auc_score([y for _, y in test], scores)
    assert auc >= 0.9  # measured 0.953 (cue-counting oracle: 0.961)
    assert scores.shape == (400,)
    assert np.all((scores >= 0.0) & (scores <= 1.0))
    assert trained.score(test[0][0]) == pytest.approx(scores[0])


def test_training_is_deterministic_for_a_seed() -> None:
    data = _synthetic(200, seed=3)
    a, b = train(data, seed=5), train(data, seed=5)
    assert np.array_equal(a.coef, b.coef)
    assert a.params_sha256() == b.params_sha256()


def test_training_needs_both_labels() -> None:
    with pytest.raises(ValueError, match="both labels"):
        train([("x", False), ("y", False)])


def test_save_load_round_trip_gives_identical_scores(trained: TextClassifier,
                                                     tmp_path: Path) -> None:
    path = tmp_path / "clf.json"
    digest = trained.save(path)
    doc = json.loads(path.read_text())
    assert (doc["format"], doc["version"], doc["sha256"]) == (FORMAT, VERSION, digest)
    assert doc["config"]["n_features"] == 2**18
    loaded = load(path)
    texts = [t for t, _ in _synthetic(100, seed=4)] + ["", "unseen words only"]
    assert np.array_equal(loaded.score_many(texts), trained.score_many(texts))
    assert loaded.params_sha256() == digest
    assert (loaded.n_train, loaded.n_positive) == (trained.n_train, trained.n_positive)
    assert path.stat().st_size < 2_000_000


def test_an_edited_coefficient_is_rejected_by_the_hash(trained: TextClassifier,
                                                       tmp_path: Path) -> None:
    path = tmp_path / "clf.json"
    trained.save(path)
    doc = json.loads(path.read_text())
    doc["values"][0] += 1.0
    path.write_text(json.dumps(doc))
    with pytest.raises(ModelFileError, match="hash mismatch"):
        load(path)


@pytest.mark.parametrize(("edit", "reason"), [
    (lambda d: d.update(version=2), "version is 2"),
    (lambda d: d.update(format="sklearn-pickle"), "format is 'sklearn-pickle'"),
    (lambda d: d.pop("sha256"), r"missing \['sha256'\]"),
    (lambda d: d.update(extra=1), r"unexpected \['extra'\]"),
    (lambda d: d.update(indices=[-1, *d["indices"][1:]]), "strictly increasing"),
    (lambda d: d.update(values=d["values"][:-1]), "equal length"),
    (lambda d: d["config"].update(n_features=3.5), "n_features"),
    (lambda d: d.update(intercept="0"), "intercept"),
])
def test_malformed_model_files_are_rejected_with_the_reason(trained: TextClassifier,
                                                            tmp_path: Path, edit: object,
                                                            reason: str) -> None:
    path = tmp_path / "clf.json"
    trained.save(path)
    doc = json.loads(path.read_text())
    edit(doc)  # type: ignore[operator]
    path.write_text(json.dumps(doc))
    with pytest.raises(ModelFileError, match=reason):
        load(path)


def test_a_pickle_file_is_rejected_without_being_unpickled(tmp_path: Path) -> None:
    path = tmp_path / "clf.json"
    path.write_bytes(pickle.dumps({"format": FORMAT}))
    with pytest.raises(ModelFileError, match="not a JSON model file"):
        load(path)


def test_non_finite_numbers_are_rejected(trained: TextClassifier, tmp_path: Path) -> None:
    path = tmp_path / "clf.json"
    trained.save(path)
    path.write_text(path.read_text().replace('"intercept": ', '"intercept": NaN, "x": ', 1))
    with pytest.raises(ModelFileError, match="NaN"):
        load(path)


def test_read_labeled_jsonl_accepts_booleans_and_zero_one(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text('{"text": "a", "label": true}\n\n{"text": "b", "label": 0, "id": 7}\n'
                    '{"text": "c", "label": 1}\n{"text": "", "label": false}\n')
    assert read_labeled_jsonl(path) == [("a", True), ("b", False), ("c", True), ("", False)]


@pytest.mark.parametrize(("line", "reason"), [
    ("not json", "not JSON"),
    ('["text", 1]', "expected a JSON object, got list"),
    ('{"label": 1}', 'missing "text"'),
    ('{"text": "x"}', 'missing "label"'),
    ('{"text": 5, "label": 1}', "text must be a string, got int"),
    ('{"text": "x", "label": 2}', "label must be true, false, 0 or 1, got 2"),
    ('{"text": "x", "label": "true"}', "got 'true'"),
    ('{"text": "x", "label": null}', "got None"),
])
def test_read_labeled_jsonl_names_the_bad_line_and_reason(tmp_path: Path, line: str,
                                                          reason: str) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text('{"text": "ok", "label": 1}\n\n' + line + "\n")
    with pytest.raises(LabeledDataError, match=r"labels\.jsonl:3: ") as info:
        read_labeled_jsonl(path)
    assert reason in str(info.value)


def test_read_labeled_jsonl_rejects_invalid_utf8(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_bytes(b'{"text": "\xff", "label": 1}\n')
    with pytest.raises(LabeledDataError, match=r":1: not valid UTF-8"):
        read_labeled_jsonl(path)
