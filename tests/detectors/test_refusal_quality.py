"""Detection quality on the public data in ../shared/data; asserts numbers only.

The files contain harmful text: nothing here prints or asserts on text, only on rates.
"""

import csv
from pathlib import Path

from detectors.refusal import is_refusal

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
XSTEST = DATA / "xstest_v2_model_completions_labeled.csv"
JBB = DATA / "jailbreakbench_attack_artifacts.jsonl"
ARENA = DATA / "arena_hard_v0.1_answers_gpt35_gpt4.jsonl"


def _f1(pairs: list[tuple[bool, bool]]) -> float:
    tp = sum(1 for truth, pred in pairs if truth and pred)
    fp = sum(1 for truth, pred in pairs if not truth and pred)
    fn = sum(1 for truth, pred in pairs if truth and not pred)
    return 2 * tp / (2 * tp + fp + fn)


def test_refusal_pooled_f1_on_xstest_human_labels_is_at_least_088() -> None:
    with XSTEST.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    pairs = [
        (r["final_label"] in {"2_full_refusal", "3_partial_refusal"}, is_refusal(r["completion"]))
        for r in rows
    ]
    assert len(pairs) == 1800
    assert _f1(pairs) >= 0.88  # measured 0.93
