"""Quality of the harmful-output signal, and of a user-trained text classifier, on public data.

Rows (each a dict with ``check``, ``slice``, ``metric``, ``n`` and ``value``):

* JailbreakBench attack artifacts, non-empty responses, scored with the prompt as input:
  ROC-AUC of :func:`detectors.harmful_output.harmful_output_score` against the JBB judge's
  ``jailbroken`` label (pooled, per attack method, per target model), the same without the
  input, the compliance-only baseline ``1 - refusal_score``, ROC-AUC against the Llama Guard
  1 label (``jailbroken_llama_guard1``, absent for DSN), and agreement of
  :func:`~detectors.harmful_output.is_harmful_output` at the shipped threshold with each
  label (percent agreement, Cohen's kappa, true and false positive rates), beside the
  agreement of the two judges with each other.
* Anthropic HH-RLHF harmless-base test pairs: share of pairs whose rejected final assistant
  turn scores above, equal to and below the chosen one, each scored with its own preceding
  dialogue as input. The lexicon was not built from these texts (only two combination
  weights were chosen while these numbers were printed), so this is the cleanest
  out-of-sample check; the JBB and Arena numbers informed the hand-written lexicon.
* XSTest v2 completions (never looked at while building the detector): ROC-AUC against
  harmful compliance (an unsafe prompt fully complied with, by the human ``final_label``),
  beside the compliance-only baseline, and the share flagged among full compliances to
  safe prompts (XSTest's safe prompts are built to sound harmful: "kill a Python process")
  and to unsafe ones.
* Arena-Hard answers (benign traffic): share flagged at the threshold.
* ``textclf, leave-one-target-model-out``: :func:`detectors.textclf.train` fitted on three
  target models' responses with their ``jailbroken`` labels, scoring the fourth: what
  ``postwatch evaluator train`` gives a user who has labels.

Run ``python bench/quality/harmful_output.py [--data-dir DIR] [--timing]``. Nothing here
prints dataset text: only counts and metrics.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from sklearn.metrics import cohen_kappa_score, roc_auc_score

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.quality import format_table
from detectors.harmful_output import (
    HARMFUL_OUTPUT_THRESHOLD,
    harmful_output_score,
)
from detectors.refusal import refusal_score
from detectors.textclf import train

JBB = "jailbreakbench_attack_artifacts.jsonl"
HH = "hh_rlhf_harmless_base_test.jsonl.gz"
ARENA = "arena_hard_v0.1_answers_gpt35_gpt4.jsonl"
XSTEST = "xstest_v2_model_completions_labeled.csv"
DEFAULT_DATA_DIR = Path(__file__).resolve().parents[3] / "shared" / "data"


def _row(check: str, slice_: str, metric: str, n: int, value: float) -> dict[str, object]:
    return {"check": check, "slice": slice_, "metric": metric, "n": n,
            "value": round(float(value), 3)}


def load_jbb(data_dir: Path) -> list[dict[str, object]]:
    """JBB rows with a non-empty response (the 163 null responses are skipped)."""
    out = []
    with (data_dir / JBB).open(encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if r.get("response"):
                out.append(r)
    return out


def _split_last_turn(transcript: str) -> tuple[str, str]:
    """(dialogue before the last assistant turn, last assistant turn)."""
    marker = "\n\nAssistant:"
    i = transcript.rfind(marker)
    if i < 0:
        return "", transcript
    return transcript[:i], transcript[i + len(marker):].strip()


def _agreement(label: np.ndarray, flag: np.ndarray) -> list[tuple[str, float]]:
    return [
        ("percent agreement", float(np.mean(label == flag))),
        ("Cohen's kappa", float(cohen_kappa_score(label, flag))),
        ("true positive rate", float(np.mean(flag[label]))),
        ("false positive rate", float(np.mean(flag[~label]))),
    ]


def jbb_rows(data_dir: Path,
             score: Callable[[str, str | None], float] = harmful_output_score
             ) -> list[dict[str, object]]:
    """AUC and agreement rows of the shipped score on JailbreakBench."""
    rows = load_jbb(data_dir)
    y = np.array([bool(r["jailbroken"]) for r in rows])
    s = np.array([score(str(r["response"]), str(r["prompt"] or "")) for r in rows])
    check = "JBB jailbroken"
    out = [_row(check, "pooled", "ROC-AUC", len(y), roc_auc_score(y, s))]
    for key in ("method", "target_model"):
        for value in sorted({str(r[key]) for r in rows}):
            m = np.array([r[key] == value for r in rows])
            if len(set(y[m])) == 2:
                out.append(_row(check, f"{key}={value}", "ROC-AUC", int(m.sum()),
                                roc_auc_score(y[m], s[m])))
    s_out = np.array([score(str(r["response"]), None) for r in rows])
    out.append(_row(check, "pooled, output only (no input)", "ROC-AUC", len(y),
                    roc_auc_score(y, s_out)))
    base = np.array([1.0 - refusal_score(str(r["response"])) for r in rows])
    out.append(_row(check, "baseline 1 - refusal_score", "ROC-AUC", len(y),
                    roc_auc_score(y, base)))
    flag = s >= HARMFUL_OUTPUT_THRESHOLD
    for name, value in _agreement(y, flag):
        out.append(_row(check, f"is_harmful_output (t={HARMFUL_OUTPUT_THRESHOLD})", name,
                        len(y), value))
    has_lg = np.array([r.get("jailbroken_llama_guard1") is not None for r in rows])
    lg = np.array([bool(r.get("jailbroken_llama_guard1")) for r in rows])
    check = "JBB Llama Guard 1"
    out.append(_row(check, "pooled (no DSN)", "ROC-AUC", int(has_lg.sum()),
                    roc_auc_score(lg[has_lg], s[has_lg])))
    for name, value in _agreement(lg[has_lg], flag[has_lg]):
        out.append(_row(check, f"is_harmful_output (t={HARMFUL_OUTPUT_THRESHOLD})", name,
                        int(has_lg.sum()), value))
    for name, value in _agreement(lg[has_lg], y[has_lg])[:2]:
        out.append(_row(check, "jailbroken label vs Llama Guard", name, int(has_lg.sum()),
                        value))
    return out


def hh_rows(data_dir: Path,
            score: Callable[[str, str | None], float] = harmful_output_score
            ) -> list[dict[str, object]]:
    """Pairwise HH-RLHF harmless check: rejected's last assistant turn vs chosen's."""
    gt = eq = lt = 0
    with gzip.open(data_dir / HH, "rt", encoding="utf-8") as f:
        for line in f:
            pair = json.loads(line)
            ri, ro = _split_last_turn(pair["rejected"])
            ci, co = _split_last_turn(pair["chosen"])
            a, b = score(ro, ri), score(co, ci)
            gt += a > b
            eq += a == b
            lt += a < b
    n = gt + eq + lt
    check = "HH-RLHF harmless pairs"
    return [
        _row(check, "rejected scores higher", "share of pairs", n, gt / n),
        _row(check, "tie", "share of pairs", n, eq / n),
        _row(check, "chosen scores higher", "share of pairs", n, lt / n),
        _row(check, "ties counted half", "pairwise AUC", n, (gt + 0.5 * eq) / n),
    ]


def xstest_rows(data_dir: Path) -> list[dict[str, object]]:
    """Harmful compliance on XSTest: unsafe prompt and full compliance (human label)."""
    with (data_dir / XSTEST).open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    complied = np.array([r["final_label"] == "1_full_compliance" for r in rows])
    unsafe = np.array([r["prompt_label"] == "unsafe" for r in rows])
    y = complied & unsafe
    s = np.array([harmful_output_score(r["completion"], r["prompt"]) for r in rows])
    base = np.array([1.0 - refusal_score(r["completion"]) for r in rows])
    flag = s >= HARMFUL_OUTPUT_THRESHOLD
    check = "XSTest harmful compliance"
    t = f"is_harmful_output (t={HARMFUL_OUTPUT_THRESHOLD})"
    return [
        _row(check, "unsafe prompt fully complied", "ROC-AUC", len(y), roc_auc_score(y, s)),
        _row(check, "baseline 1 - refusal_score", "ROC-AUC", len(y), roc_auc_score(y, base)),
        _row(check, f"{t}, unsafe prompt complied", "share flagged", int(y.sum()),
             float(np.mean(flag[y]))),
        _row(check, f"{t}, safe prompt complied", "share flagged",
             int((complied & ~unsafe).sum()), float(np.mean(flag[complied & ~unsafe]))),
    ]


def arena_rows(data_dir: Path) -> list[dict[str, object]]:
    """Flag rate on benign Arena-Hard answers."""
    with (data_dir / ARENA).open(encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    s = np.array([harmful_output_score(r["response"], r["prompt"]) for r in rows])
    return [_row("Arena-Hard benign answers", f"is_harmful_output (t={HARMFUL_OUTPUT_THRESHOLD})",
                 "share flagged", len(s), float(np.mean(s >= HARMFUL_OUTPUT_THRESHOLD)))]


def textclf_rows(data_dir: Path, *, seed: int = 0) -> list[dict[str, object]]:
    """Train textclf on three target models' responses, score the fourth, per fold."""
    rows = load_jbb(data_dir)
    texts = [str(r["response"]) for r in rows]
    y = np.array([bool(r["jailbroken"]) for r in rows])
    models = np.array([str(r["target_model"]) for r in rows])
    pred = np.zeros(len(rows))
    check = "textclf, leave-one-target-model-out"
    out = []
    for held in sorted(set(models)):
        test = models == held
        clf = train([(t, bool(lab)) for t, lab, m in zip(texts, y, test, strict=True) if not m],
                    seed=seed)
        pred[test] = clf.score_many([t for t, m in zip(texts, test, strict=True) if m])
        out.append(_row(check, f"held out target_model={held}", "ROC-AUC", int(test.sum()),
                        roc_auc_score(y[test], pred[test])))
    out.insert(0, _row(check, "pooled held-out scores", "ROC-AUC", len(y), roc_auc_score(y, pred)))
    return out


def rows(data_dir: Path, *, with_textclf: bool = True) -> list[dict[str, object]]:
    """Every row of this benchmark (see the module docstring)."""
    out = jbb_rows(data_dir) + hh_rows(data_dir) + xstest_rows(data_dir) + arena_rows(data_dir)
    if with_textclf:
        out += textclf_rows(data_dir)
    return out


def timing(data_dir: Path, reps: int = 5) -> list[dict[str, object]]:
    """Median microseconds per JBB event (best of ``reps`` runs per event)."""
    rows = load_jbb(data_dir)
    pairs = [(str(r["response"]), str(r["prompt"] or "")) for r in rows]
    refusals = [refusal_score(o) for o, _ in pairs]

    def med(fn: Callable[[int], object]) -> float:
        best = []
        for i in range(len(pairs)):
            t_min = float("inf")
            for _ in range(reps):
                t0 = time.perf_counter()
                fn(i)
                t_min = min(t_min, time.perf_counter() - t0)
            best.append(t_min)
        return statistics.median(best) * 1e6

    clf = train([(o, bool(r["jailbroken"])) for (o, _), r in zip(pairs, rows, strict=True)])
    check = "cost per JBB event"
    n = len(pairs)
    return [
        _row(check, "harmful_output_score(output, input, refusal=given)", "median µs", n,
             med(lambda i: harmful_output_score(pairs[i][0], pairs[i][1],
                                                refusal=refusals[i]))),
        _row(check, "harmful_output_score(output, refusal=given)", "median µs", n,
             med(lambda i: harmful_output_score(pairs[i][0], refusal=refusals[i]))),
        _row(check, "refusal_score(output) alone", "median µs", n,
             med(lambda i: refusal_score(pairs[i][0]))),
        _row(check, "TextClassifier.score(output)", "median µs", n,
             med(lambda i: clf.score(pairs[i][0]))),
    ]


def format_rows(table: Sequence[dict[str, object]]) -> str:
    """Aligned text table of the rows."""
    return format_table(table, ["check", "slice", "metric", "n", "value"])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path,
                        default=Path(os.environ.get("POSTWATCH_DATA_DIR", DEFAULT_DATA_DIR)))
    parser.add_argument("--timing", action="store_true",
                        help="also print the median cost per event")
    parser.add_argument("--no-textclf", action="store_true",
                        help="skip the leave-one-target-model-out textclf rows")
    args = parser.parse_args(argv)
    table = rows(args.data_dir, with_textclf=not args.no_textclf)
    if args.timing:
        table += timing(args.data_dir)
    print(format_rows(table))
    print()
    print("reproduce: python bench/quality/harmful_output.py"
          + (" --timing" if args.timing else "") + (" --no-textclf" if args.no_textclf else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
