"""Refusal detector quality on XSTest, leave-one-configuration-out (LOCO), and over-refusal.

XSTest v2 holds 450 prompts (250 safe, 200 unsafe) answered by four model configurations
(gpt4, llama2orig, llama2new, mistralinstruct), each answer labelled by humans
(``final_label``); a refusal is ``2_full_refusal`` or ``3_partial_refusal``. For each
held-out configuration, :func:`detectors.refusal.fit_refusal_model` is refitted on the other
three configurations' rows only (it picks its ridge strength and threshold by an inner
leave-one-configuration-out over those three) and scores the held-out rows; the table shows
precision, recall and F1 per held-out configuration and pooled over the four held-out sets,
beside the dataset's own baselines on the same rows: its string match (``strmatch_label``)
and its GPT-4 judge (``gpt4_label``), both counted as refusal when the label is
``2_full_refusal`` or ``3_partial_refusal``. Eleven mistralinstruct rows hold an unparsed
judge output instead of a label; they count as "no refusal" here (counted as refusals the
judge scores 0.803 pooled and 0.225 on mistralinstruct instead of 0.809 and 0.244).

Over-refusal is a refusal of a safe prompt (``prompt_label`` safe). Per configuration (and
pooled) the table shows the number of safe prompts, the human over-refusals (``final_label``
a refusal), the detector's (its held-out LOCO prediction is a refusal) and both, with the
detector's precision, recall and F1 against the human over-refusals.

The last rows run the shipped detector (fitted on all of XSTest) on model versions it never
saw: Arena-Hard answers of gpt-3.5-turbo-0125 and gpt-4-0613 to benign prompts (a flagged
answer is mostly a false alarm; some are real capability refusals), and JailbreakBench
responses per target model, split by the JBB judge's ``jailbroken`` label (not a refusal
label: a non-jailbroken answer is usually, not always, a refusal).

No dataset text is printed: only counts and metrics.

    python bench/quality/refusal.py [--data-dir ../shared/data]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.quality import format_table as _format  # noqa: E402
from detectors.refusal import fit_refusal_model, is_refusal  # noqa: E402

XSTEST = "xstest_v2_model_completions_labeled.csv"
CONFIGS = ("gpt4", "llama2orig", "llama2new", "mistralinstruct")
REFUSAL_LABELS = frozenset({"2_full_refusal", "3_partial_refusal"})
COLUMNS = (
    "evaluator", "subset", "n", "positives", "precision", "recall", "f1", "strmatch_f1",
    "gpt4_f1", "human_over", "detector_over", "both_over", "threshold", "refusal_rate",
)


def load_xstest(data_dir: Path) -> list[dict[str, str]]:
    """The XSTest rows (all columns, as strings)."""
    with (Path(data_dir) / XSTEST).open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def is_labelled_refusal(label: str) -> bool:
    """Whether an XSTest label (human, judge or string match) means a full or partial refusal."""
    return label in REFUSAL_LABELS


def prf(truth: Sequence[bool], pred: Sequence[bool]) -> tuple[float, float, float]:
    """Precision, recall and F1 of ``pred`` against ``truth`` (0.0 where undefined)."""
    tp = sum(1 for t, p in zip(truth, pred, strict=True) if t and p)
    fp = sum(1 for t, p in zip(truth, pred, strict=True) if p and not t)
    fn = sum(1 for t, p in zip(truth, pred, strict=True) if t and not p)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    return precision, recall, f1


def loco_predictions(
    table: list[dict[str, str]], configs: Sequence[str] = CONFIGS
) -> tuple[list[bool], dict[str, float]]:
    """Held-out refusal predictions for every row, and the threshold chosen per fold.

    For each configuration the model is refitted on the rows of the other configurations
    only (labels of the held-out rows are never seen) and predicts the held-out rows.
    """
    pred = [False] * len(table)
    thresholds: dict[str, float] = {}
    for held in configs:
        train = [r for r in table if r["model_config"] != held]
        model = fit_refusal_model(
            [r["completion"] for r in train],
            [int(is_labelled_refusal(r["final_label"])) for r in train],
            [r["model_config"] for r in train],
        )
        thresholds[held] = model.threshold
        for i, r in enumerate(table):
            if r["model_config"] == held:
                pred[i] = model.score(r["completion"]) >= model.threshold
    return pred, thresholds


def loco_rows(table: list[dict[str, str]], pred: list[bool],
              thresholds: dict[str, float]) -> list[dict]:
    """Per held-out configuration and pooled: detector vs the dataset's baselines."""
    out = []
    for cfg in (*CONFIGS, None):
        idx = [i for i, r in enumerate(table) if cfg is None or r["model_config"] == cfg]
        truth = [is_labelled_refusal(table[i]["final_label"]) for i in idx]
        p, r, f = prf(truth, [pred[i] for i in idx])
        out.append({
            "evaluator": "refusal",
            "subset": f"LOCO held out {cfg}" if cfg else "LOCO pooled",
            "n": len(idx), "positives": sum(truth), "precision": p, "recall": r, "f1": f,
            "strmatch_f1": prf(truth, [is_labelled_refusal(table[i]["strmatch_label"])
                                       for i in idx])[2],
            "gpt4_f1": prf(truth, [is_labelled_refusal(table[i]["gpt4_label"]) for i in idx])[2],
            "threshold": thresholds.get(cfg) if cfg else None,
        })
    return out


def over_refusal_rows(table: list[dict[str, str]], pred: list[bool]) -> list[dict]:
    """Over-refusal (safe prompt refused) per configuration and pooled: human vs detector."""
    out = []
    for cfg in (*CONFIGS, None):
        idx = [i for i, r in enumerate(table)
               if r["prompt_label"] == "safe" and (cfg is None or r["model_config"] == cfg)]
        human = [is_labelled_refusal(table[i]["final_label"]) for i in idx]
        det = [pred[i] for i in idx]
        p, r, f = prf(human, det)
        out.append({
            "evaluator": "refusal",
            "subset": f"over-refusal {cfg}" if cfg else "over-refusal pooled",
            "n": len(idx), "precision": p, "recall": r, "f1": f,
            "human_over": sum(human), "detector_over": sum(det),
            "both_over": sum(1 for h, d in zip(human, det, strict=True) if h and d),
        })
    return out


def unseen_rows(data_dir: Path) -> list[dict]:
    """The shipped detector's refusal rate on model versions outside XSTest."""
    out = []
    arena: dict[str, list[bool]] = {}
    with (Path(data_dir) / "arena_hard_v0.1_answers_gpt35_gpt4.jsonl").open(encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if r.get("response"):
                arena.setdefault(r["model"], []).append(is_refusal(r["response"]))
    for model, flags in sorted(arena.items()):
        out.append({"evaluator": "refusal", "subset": f"unseen Arena-Hard {model} (benign)",
                    "n": len(flags), "refusal_rate": sum(flags) / len(flags)})
    jbb: dict[tuple[str, bool], list[bool]] = {}
    with (Path(data_dir) / "jailbreakbench_attack_artifacts.jsonl").open(encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if r.get("response"):
                key = (r["target_model"], bool(r["jailbroken"]))
                jbb.setdefault(key, []).append(is_refusal(r["response"]))
    for (model, broken), flags in sorted(jbb.items()):
        state = "jailbroken" if broken else "not jailbroken"
        out.append({"evaluator": "refusal", "subset": f"unseen JBB {model} {state}",
                    "n": len(flags), "refusal_rate": sum(flags) / len(flags)})
    return out


def rows(data_dir: Path) -> list[dict]:
    """All rows: LOCO per held-out configuration and pooled, over-refusal, unseen models.

    Every row has the keys :data:`COLUMNS` (None where a column does not apply).
    """
    table = load_xstest(data_dir)
    pred, thresholds = loco_predictions(table)
    out = (loco_rows(table, pred, thresholds) + over_refusal_rows(table, pred)
           + unseen_rows(data_dir))
    return [{k: r.get(k) for k in COLUMNS} for r in out]


def format_table(table: list[dict]) -> str:
    """Aligned text table of :func:`rows`."""
    return _format(table, COLUMNS)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args(argv)
    print(format_table(rows(args.data_dir)))
    print(f"\npython bench/quality/refusal.py --data-dir {args.data_dir}")


if __name__ == "__main__":
    main()
