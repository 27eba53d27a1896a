"""Fit the shipped jailbreak weights (detectors/jailbreak_weights.json) on the public data.

Positives: deduplicated JailbreakBench attack prompts of all four methods (each method the
same total weight); negatives: deduplicated Arena-Hard and XSTest prompts (the same total
weight as the positives). The model is :func:`detectors.jailbreak.fit`. The default
threshold of ``is_jailbreak`` is the larger of two cuts, each the lowest score that keeps
the false-positive rate at or under 1%: one on out-of-fold scores of the negatives (5 folds
by a hash of the text, refitted per fold on all methods and the other folds' negatives),
one on the final model's own scores of all negatives. Held-out quality is measured by
``bench/quality/jailbreak.py``, which refits per held-out attack method.

    python bench/train_jailbreak.py [--data-dir ../shared/data] \
        [--out detectors/jailbreak_weights.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.quality.jailbreak import (  # noqa: E402
    METHODS,
    N_FOLDS,
    TARGET_FPR,
    _FeatureCache,
    fold_of,
    load_attacks,
    negatives,
    training_set,
)
from detectors.jailbreak import fit  # noqa: E402


def _cut(neg_scores: np.ndarray, fpr: float = TARGET_FPR) -> float:
    """Lowest threshold t (to 4 decimals) with mean(neg >= t) <= fpr."""
    k = int(np.floor(fpr * len(neg_scores)))
    top = np.sort(neg_scores)[::-1][k]
    return float(np.ceil(top * 10_000 + 1e-9) / 10_000)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "detectors" / "jailbreak_weights.json")
    args = parser.parse_args(argv)

    attacks = load_attacks(args.data_dir)
    negs = negatives(args.data_dir)
    cache = _FeatureCache()
    pos = {m: attacks[m] for m in METHODS}

    oof = []
    for f in range(N_FOLDS):
        texts, y, w = training_set(pos, [t for t in negs if fold_of(t) != f])
        model = fit(cache.x(texts), y, w)
        oof.append(cache.scores(model, [t for t in negs if fold_of(t) == f])[0])
    texts, y, w = training_set(pos, negs)
    model = fit(cache.x(texts), y, w)
    own = cache.scores(model, negs)[0]
    model.threshold = max(_cut(np.concatenate(oof)), _cut(own))

    args.out.write_text(json.dumps(model.to_dict(), indent=1) + "\n", encoding="utf-8")
    n_pos = sum(len(v) for v in pos.values())
    print(f"wrote {args.out} from {n_pos} attack prompts and {len(negs)} benign prompts; "
          f"threshold {model.threshold}; in-sample FPR {np.mean(own >= model.threshold):.4f}")


if __name__ == "__main__":
    main()
