"""Jailbreak quality on the public data in ../shared/data, held out; asserts numbers only.

Calls bench/quality/jailbreak.py (leave-one-attack-method-out, negatives split into hash
folds, a model refitted per fold). The files contain harmful text: nothing here prints or
asserts on text, only on counts and rates.
"""

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "bench_quality_jailbreak", REPO / "bench" / "quality" / "jailbreak.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def lomo() -> dict[str, dict]:
    return {r["subset"].removeprefix("held out "): r for r in _bench().lomo_rows(DATA)}


def test_deduplicated_counts(lomo: dict[str, dict]) -> None:
    # 1,237 non-null attack prompts; JailbreakChat's 400 rows are 100 distinct prompts.
    assert {m: r["n_pos"] for m, r in lomo.items()} == {
        "PAIR": 237, "GCG": 200, "JailbreakChat": 100, "DSN": 195}
    # 500 Arena-Hard + 450 XSTest unique prompts.
    assert {r["n_neg"] for r in lomo.values()} == {950}


def test_held_out_auc_is_at_least_095_for_every_attack_method(lomo: dict[str, dict]) -> None:
    # measured: PAIR 0.975, GCG 0.993, JailbreakChat 1.000, DSN 0.987
    for method, row in lomo.items():
        assert row["auc"] >= 0.95, method
    # The fixed rules do not carry it: the learned part alone reaches the same.
    for method, row in lomo.items():
        assert row["auc_learned_only"] >= 0.95, method


def test_held_out_recall_at_one_percent_false_positives(lomo: dict[str, dict]) -> None:
    # measured: PAIR 0.806, GCG 0.870, JailbreakChat 1.000, DSN 0.969
    floors = {"PAIR": 0.75, "GCG": 0.82, "JailbreakChat": 0.95, "DSN": 0.92}
    for method, floor in floors.items():
        assert lomo[method]["recall_at_1pct_fpr"] >= floor, method


def test_shipped_detector_keeps_false_positives_at_or_under_one_percent(
    lomo: dict[str, dict],
) -> None:
    # In-sample (the shipped weights saw every method): recall 0.886 / 0.945 / 1.0 / 0.969.
    row = next(iter(lomo.values()))
    assert row["shipped_fpr"] <= 0.01
    assert min(r["shipped_recall"] for r in lomo.values()) >= 0.85
