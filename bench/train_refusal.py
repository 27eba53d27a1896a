"""Fit the shipped refusal weights (detectors/refusal_weights.json) on XSTest's human labels.

All 1,800 XSTest v2 rows (four model configurations); label 1 when ``final_label`` is
``2_full_refusal`` or ``3_partial_refusal``. :func:`detectors.refusal.fit_refusal_model`
chooses the ridge strength and the decision threshold by leave-one-configuration-out over
the four configurations, then fits on all rows. Held-out quality is measured by
``bench/quality/refusal.py``, which refits with one configuration left out each time.

    python bench/train_refusal.py [--data-dir ../shared/data] \
        [--out detectors/refusal_weights.json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.quality.refusal import XSTEST, is_labelled_refusal, load_xstest  # noqa: E402
from detectors.refusal import fit_refusal_model  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "detectors" / "refusal_weights.json")
    args = parser.parse_args(argv)

    table = load_xstest(args.data_dir)
    model = fit_refusal_model(
        [r["completion"] for r in table],
        [int(is_labelled_refusal(r["final_label"])) for r in table],
        [r["model_config"] for r in table],
    )
    digest = hashlib.sha256((args.data_dir / XSTEST).read_bytes()).hexdigest()
    data = {
        "about": "Refusal detector weights; written by bench/train_refusal.py, do not edit.",
        **model.to_dict(),
        "trained_on": {"file": XSTEST, "sha256": digest, "rows": len(table),
                       "configs": sorted({r["model_config"] for r in table})},
    }
    args.out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    nonzero = sum(1 for v in model.coef.values() if v)
    print(f"wrote {args.out} (threshold {model.threshold}, {nonzero} non-zero coefficients)")


if __name__ == "__main__":
    main()
