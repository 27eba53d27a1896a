"""Jailbreak and harmful-request quality on the public data, held out.

Jailbreak, leave-one-attack-method-out (LOMO). Positives are JailbreakBench attack prompts
(methods PAIR, GCG, JailbreakChat, DSN; null prompts skipped), negatives are Arena-Hard and
XSTest prompts (XSTest's unsafe prompts are plain harmful requests without a technique, so
they are negatives here). Every set is deduplicated on the whitespace-normalised text first
(JailbreakChat's 400 rows are one template around 100 goals; Arena and XSTest prompts
repeat across models). Negatives are split into 5 folds by a hash of their text. For each
held-out method and each fold, the logistic regression of :mod:`detectors.jailbreak` is
refitted on the other three methods' prompts and the negatives outside the fold, and scores
the held-out method's prompts in that fold (positives are assigned to folds by the same
hash) and the negatives in the fold; scores are pooled over the folds. So no method and no
negative that a model was fitted on is scored by it. Reported per held-out method: ROC-AUC of
the full score (learned part plus fixed rules) and of the learned part alone, recall at a 1%
false-positive rate (threshold set on the pooled held-out negatives), and the shipped
detector's recall and false-positive rate at its own threshold (its weights were fitted on
all methods, so that column is in-sample).

Harmful request: :func:`detectors.harmful_request.harmful_request_score` is a hand-set
lexicon (nothing fitted). Reported: ROC-AUC on XSTest unsafe vs safe prompts (all, and the
two halves by a hash of the prompt id: half 0 was looked at while revising the lexicon,
half 1 was not), on JailbreakBench goals vs Arena-Hard prompts (the development set), and on
the OpenAI moderation samples per category (rows where the label is known).

No dataset text is printed: only counts and metrics.

    python bench/quality/jailbreak.py [--data-dir ../shared/data] [--timing]

``--timing`` adds the cost per event of each scorer on the real prompts (mean over all
prompts, median of 5 runs; and the median and 90th percentile prompt); the jailbreak score
includes its harmful-request feature.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import json
import sys
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.quality import format_table as _format
from detectors.harmful_request import harmful_request_score
from detectors.jailbreak import (
    FEATURE_NAMES,
    JailbreakModel,
    _analyse,
    fit,
    load_model,
)

JBB_FILE = "jailbreakbench_attack_artifacts.jsonl"
ARENA_FILE = "arena_hard_v0.1_answers_gpt35_gpt4.jsonl"
XSTEST_FILE = "xstest_v2_model_completions_labeled.csv"
MODERATION_FILE = "openai_moderation_samples_1680.jsonl.gz"
METHODS = ("PAIR", "GCG", "JailbreakChat", "DSN")
MODERATION_CATEGORIES = ("S", "H", "V", "HR", "SH", "S3", "H2", "V2")
N_FOLDS = 5
TARGET_FPR = 0.01
COLUMNS = (
    "evaluator", "subset", "n_pos", "n_neg", "auc", "auc_learned_only",
    "recall_at_1pct_fpr", "shipped_recall", "shipped_fpr",
)


def _norm(text: str) -> str:
    return " ".join(text.split())


def _dedup(texts: Iterable[str]) -> list[str]:
    """Unique texts by whitespace-normalised content, in first-seen order."""
    seen: dict[str, str] = {}
    for t in texts:
        if t and t.strip():
            seen.setdefault(_norm(t), t)
    return list(seen.values())


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.sha256(_norm(text).encode("utf-8")).digest()[:8], "big")


def fold_of(text: str, n_folds: int = N_FOLDS) -> int:
    """Fold of a prompt: a hash of its normalised text modulo ``n_folds``."""
    return _hash(text) % n_folds


def xstest_half(prompt_id: str) -> int:
    """Half (0 or 1) of an XSTest prompt: parity of the SHA-256 of its id.

    Half 0 was looked at while the harmful-request lexicon was revised; half 1 was not.
    """
    return int(hashlib.sha256(prompt_id.encode("utf-8")).hexdigest(), 16) % 2


def load_attacks(data_dir: Path) -> dict[str, list[str]]:
    """Deduplicated JailbreakBench attack prompts per method (null prompts skipped)."""
    out: dict[str, list[str]] = {m: [] for m in METHODS}
    with (data_dir / JBB_FILE).open(encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            if row.get("prompt") and row["method"] in out:
                out[row["method"]].append(row["prompt"])
    return {m: _dedup(v) for m, v in out.items()}


def load_goals(data_dir: Path) -> list[str]:
    """Deduplicated JailbreakBench goal strings (the plain harmful behaviours)."""
    with (data_dir / JBB_FILE).open(encoding="utf-8") as f:
        return _dedup(json.loads(line)["goal"] for line in f)


def load_arena(data_dir: Path) -> list[str]:
    """Deduplicated Arena-Hard prompts."""
    with (data_dir / ARENA_FILE).open(encoding="utf-8") as f:
        return _dedup(json.loads(line).get("prompt") or "" for line in f)


def load_xstest(data_dir: Path) -> list[tuple[str, str, bool]]:
    """Unique XSTest prompts as (prompt_id, prompt, unsafe)."""
    out: dict[str, tuple[str, str, bool]] = {}
    with (data_dir / XSTEST_FILE).open(newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            out.setdefault(_norm(r["prompt"]), (r["prompt_id"], r["prompt"],
                                                r["prompt_label"] == "unsafe"))
    return list(out.values())


def load_moderation(data_dir: Path) -> list[dict]:
    """OpenAI moderation samples, deduplicated on the prompt (first row kept)."""
    out: dict[str, dict] = {}
    with gzip.open(data_dir / MODERATION_FILE, "rt", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            if row.get("prompt"):
                out.setdefault(_norm(row["prompt"]), row)
    return list(out.values())


def negatives(data_dir: Path) -> list[str]:
    """Deduplicated jailbreak negatives: Arena-Hard and XSTest (safe and unsafe) prompts."""
    return _dedup(load_arena(data_dir) + [p for _, p, _ in load_xstest(data_dir)])


def training_set(
    positives: dict[str, list[str]], negs: list[str]
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Texts, labels and weights: each method the same total weight, negatives as much."""
    texts: list[str] = []
    labels: list[int] = []
    weights: list[float] = []
    for prompts in positives.values():
        texts += prompts
        labels += [1] * len(prompts)
        weights += [1.0 / (len(positives) * len(prompts))] * len(prompts)
    texts += negs
    labels += [0] * len(negs)
    weights += [1.0 / len(negs)] * len(negs)
    return texts, np.array(labels), np.array(weights)


def recall_at_fpr(pos: np.ndarray, neg: np.ndarray, fpr: float = TARGET_FPR) -> float:
    """Recall at the strictest threshold that keeps the false-positive rate <= ``fpr``.

    A positive counts when it scores strictly above the ``floor(fpr * n_neg) + 1``-th
    highest negative score.
    """
    k = int(np.floor(fpr * len(neg)))
    cut = np.sort(neg)[::-1][k]
    return float(np.mean(pos > cut))


def _auc(pos: np.ndarray, neg: np.ndarray) -> float:
    y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
    return float(roc_auc_score(y, np.r_[pos, neg]))


class _FeatureCache:
    def __init__(self) -> None:
        self._f: dict[str, list[float]] = {}
        self._r: dict[str, float] = {}

    def x(self, texts: list[str]) -> np.ndarray:
        for t in texts:
            if t not in self._f:
                self._f[t], self._r[t] = _analyse(t)
        return np.array([self._f[t] for t in texts]).reshape(len(texts), len(FEATURE_NAMES))

    def scores(self, model: JailbreakModel, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        x = self.x(texts)
        learned = np.array([model.learned(row) for row in x])
        rules = np.array([self._r[t] for t in texts])
        return 1.0 - (1.0 - learned) * (1.0 - rules), learned


def lomo_rows(data_dir: Path, n_folds: int = N_FOLDS) -> list[dict]:
    """Leave-one-method-out rows for the jailbreak detector (see the module docstring)."""
    attacks = load_attacks(data_dir)
    negs = negatives(data_dir)
    cache = _FeatureCache()
    shipped = load_model()
    rows = []
    for held in METHODS:
        train_pos = {m: attacks[m] for m in METHODS if m != held}
        full_p, full_n, lrn_p, lrn_n = [], [], [], []
        for f in range(n_folds):
            tr_neg = [t for t in negs if fold_of(t, n_folds) != f]
            texts, y, w = training_set(train_pos, tr_neg)
            model = fit(cache.x(texts), y, w)
            te_pos = [t for t in attacks[held] if fold_of(t, n_folds) == f]
            te_neg = [t for t in negs if fold_of(t, n_folds) == f]
            for texts_, full, lrn in ((te_pos, full_p, lrn_p), (te_neg, full_n, lrn_n)):
                if texts_:
                    s, s_learned = cache.scores(model, texts_)
                    full.append(s)
                    lrn.append(s_learned)
        pos, neg = np.concatenate(full_p), np.concatenate(full_n)
        lpos, lneg = np.concatenate(lrn_p), np.concatenate(lrn_n)
        ship_pos = np.array([shipped.score(t) for t in attacks[held]])
        ship_neg = np.array([shipped.score(t) for t in negs])
        rows.append({
            "evaluator": "jailbreak LOMO",
            "subset": f"held out {held}",
            "n_pos": len(pos),
            "n_neg": len(neg),
            "auc": _auc(pos, neg),
            "auc_learned_only": _auc(lpos, lneg),
            "recall_at_1pct_fpr": recall_at_fpr(pos, neg),
            "shipped_recall": float(np.mean(ship_pos >= shipped.threshold)),
            "shipped_fpr": float(np.mean(ship_neg >= shipped.threshold)),
        })
    return rows


def harmful_rows(data_dir: Path) -> list[dict]:
    """ROC-AUC rows of the harmful-request score (nothing fitted; see the module docstring)."""
    rows = []

    def add(subset: str, pos: list[str], neg: list[str]) -> None:
        sp = np.array([harmful_request_score(t) for t in pos])
        sn = np.array([harmful_request_score(t) for t in neg])
        rows.append({"evaluator": "harmful_request", "subset": subset, "n_pos": len(pos),
                     "n_neg": len(neg), "auc": _auc(sp, sn),
                     "recall_at_1pct_fpr": recall_at_fpr(sp, sn)})

    xs = load_xstest(data_dir)
    add("XSTest unsafe vs safe", [p for _, p, u in xs if u], [p for _, p, u in xs if not u])
    for half in (0, 1):
        part = [(p, u) for i, p, u in xs if xstest_half(i) == half]
        label = "looked at" if half == 0 else "not looked at"
        add(f"XSTest half {half} ({label})", [p for p, u in part if u],
            [p for p, u in part if not u])
    add("JBB goals vs Arena (dev)", load_goals(data_dir), load_arena(data_dir))
    mod = load_moderation(data_dir)
    scores = {id(r): harmful_request_score(r["prompt"]) for r in mod}
    for cat in MODERATION_CATEGORIES:
        known = [r for r in mod if cat in r]
        sp = np.array([scores[id(r)] for r in known if r[cat]])
        sn = np.array([scores[id(r)] for r in known if not r[cat]])
        rows.append({"evaluator": "harmful_request", "subset": f"moderation {cat}",
                     "n_pos": len(sp), "n_neg": len(sn), "auc": _auc(sp, sn),
                     "recall_at_1pct_fpr": recall_at_fpr(sp, sn)})
    return rows


def rows(data_dir: Path) -> list[dict]:
    """All rows: jailbreak LOMO, then harmful request. Keys are :data:`COLUMNS`."""
    out = lomo_rows(data_dir) + harmful_rows(data_dir)
    return [{k: r.get(k) for k in COLUMNS} for r in out]


def format_table(table: list[dict]) -> str:
    """Aligned text table of :func:`rows`."""
    return _format(table, COLUMNS)


def timing_rows(data_dir: Path, runs: int = 5) -> list[dict]:
    """CPU microseconds per event of each scorer on the real prompts, per source.

    Each run scores every deduplicated prompt of a source once. ``mean``: a run's CPU time
    divided by the number of prompts, median over ``runs`` runs. ``p50``/``p90``: each
    prompt's fastest wall time over the runs, then the median and 90th percentile over
    prompts (a typical prompt, and a long one). The first call of each scorer (loading the
    weights) happens before timing.
    """
    import time

    from detectors.jailbreak import jailbreak_score

    sources = {
        "Arena-Hard": load_arena(data_dir),
        "XSTest": [p for _, p, _ in load_xstest(data_dir)],
        "JBB attacks": [t for v in load_attacks(data_dir).values() for t in v],
    }
    sources["all"] = [t for v in sources.values() for t in v]
    jailbreak_score("warm up")
    harmful_request_score("warm up")
    out = []
    for name, texts in sources.items():
        row: dict[str, object] = {"source": name, "n": len(texts),
                                  "median_chars": int(np.median([len(t) for t in texts]))}
        for label, fn in (("jailbreak_us", jailbreak_score),
                          ("harmful_request_us", harmful_request_score)):
            per_run = []
            per_prompt = np.zeros((runs, len(texts)))
            for r in range(runs):
                t0 = time.process_time()
                for i, t in enumerate(texts):
                    t1 = time.perf_counter()
                    fn(t)
                    per_prompt[r, i] = time.perf_counter() - t1
                per_run.append((time.process_time() - t0) / len(texts) * 1e6)
            row[label] = float(np.median(per_run))
            fastest = per_prompt.min(axis=0) * 1e6
            row[label.replace("_us", "_p50_us")] = float(np.median(fastest))
            row[label.replace("_us", "_p90_us")] = float(np.percentile(fastest, 90))
        out.append(row)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path,
                        default=Path(__file__).resolve().parents[3] / "shared" / "data")
    parser.add_argument("--timing", action="store_true",
                        help="also print CPU microseconds per event of each scorer")
    args = parser.parse_args(argv)
    print(format_table(rows(args.data_dir)))
    if args.timing:
        print()
        for r in timing_rows(args.data_dir):
            print(f"{r['source']:<12} n={r['n']:<5} median_chars={r['median_chars']:<5} "
                  f"jailbreak mean {r['jailbreak_us']:6.1f} p50 {r['jailbreak_p50_us']:6.1f} "
                  f"p90 {r['jailbreak_p90_us']:6.1f} us/event   harmful_request mean "
                  f"{r['harmful_request_us']:6.1f} p50 {r['harmful_request_p50_us']:6.1f} "
                  f"p90 {r['harmful_request_p90_us']:6.1f} us/event")
    flag = " --timing" if args.timing else ""
    print(f"\npython bench/quality/jailbreak.py --data-dir {args.data_dir}{flag}")


if __name__ == "__main__":
    main()
