"""Quality of the PII detector on the seeded Faker corpus (tests/detectors/pii_corpus.py).

Per kind and split: expected spans, found spans, correct found spans, precision and
recall (span level: a found span is correct when it overlaps an expected span of the same
kind). ``main`` uses the main carrier templates, ``heldback`` a second seed and other
carrier templates (JSON, logs, CSV, signatures). Also prints the detector's cost: µs per
``scrub`` call on a typical 500-character text and µs per KB on a 64 KB text, both CPU
time (``time.process_time``), and a regex-free baseline (``str.translate`` of the same
text) measured in the same run. No dataset text is read: ``data_dir`` is accepted for the
common ``rows(data_dir)`` interface and unused.

Run: ``/tmp/pwvenv/bin/python bench/quality/pii.py`` (about 10 s).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
if str(ROOT / "tests" / "detectors") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests" / "detectors"))

from pii_corpus import KINDS, build_corpus, score  # noqa: E402

from detectors.pii import find_pii, scrub  # noqa: E402

SPLITS = {"main": 20260601, "heldback": 7331}
N_PER_KIND = 300


def rows(data_dir: Path | None = None, n_per_kind: int = N_PER_KIND) -> list[dict]:
    """One row per (split, kind): n expected, found, correct, precision, recall."""
    del data_dir  # the corpus is generated, not read
    out: list[dict] = []
    for split, seed in SPLITS.items():
        samples = build_corpus(seed, n_per_kind, split=split)
        res = score(samples, lambda t: [(m.kind, m.start, m.end) for m in find_pii(t)])
        for kind in KINDS:
            r = res[kind]
            out.append({
                "split": split,
                "seed": seed,
                "kind": kind,
                "expected": int(r["expected"]),
                "found": int(r["found"]),
                "correct": int(r["correct"]),
                "precision": round(r["precision"], 4),
                "recall": round(r["recall"], 4),
                "negatives": sum(1 for s in samples if not s.spans),
            })  # fmt: skip
    return out


def _cpu(fn, arg, repeat: int) -> float:
    best = float("inf")
    for _ in range(3):
        t0 = time.process_time()
        for _ in range(repeat):
            fn(arg)
        best = min(best, (time.process_time() - t0) / repeat)
    return best


def cost() -> dict[str, float]:
    """CPU µs per scrub of a typical 500-char text, and µs per KB on a 64 KB text."""
    samples = build_corpus(99, 20, split="main")
    text = ""
    i = 0
    while len(text) < 500:
        text += samples[i % len(samples)].text + " "
        i += 1
    text = text[:500]
    big = (" ".join(s.text for s in samples) * 40)[:65536]
    drop = dict.fromkeys(map(ord, "\u200b"))
    return {
        "scrub_us_500": _cpu(scrub, text, 200) * 1e6,
        "baseline_us_500": _cpu(lambda t: t.translate(drop), text, 200) * 1e6,
        "scrub_us_per_kb": _cpu(scrub, big, 3) * 1e6 / 64,
        "baseline_us_per_kb": _cpu(lambda t: t.translate(drop), big, 20) * 1e6 / 64,
    }


def main() -> None:
    table = rows()
    header = f"{'split':9} {'kind':12} {'expected':>8} {'found':>6} {'correct':>7} " \
             f"{'precision':>9} {'recall':>7}"
    print(header)
    print("-" * len(header))
    for r in table:
        print(f"{r['split']:9} {r['kind']:12} {r['expected']:8d} {r['found']:6d} "
              f"{r['correct']:7d} {r['precision']:9.4f} {r['recall']:7.4f}")
    negs = {r["split"]: r["negatives"] for r in table}
    print(f"negatives per split: {negs}; n_per_kind={N_PER_KIND}; seeds={SPLITS}")
    c = cost()
    print(f"scrub, 500-char text: {c['scrub_us_500']:.0f} µs/call CPU "
          f"(baseline str.translate {c['baseline_us_500']:.1f} µs, "
          f"ratio {c['scrub_us_500'] / c['baseline_us_500']:.0f}x)")
    print(f"scrub, 64 KB text: {c['scrub_us_per_kb']:.0f} µs/KB CPU "
          f"(baseline {c['baseline_us_per_kb']:.1f} µs/KB, "
          f"ratio {c['scrub_us_per_kb'] / c['baseline_us_per_kb']:.0f}x)")
    print("command: /tmp/pwvenv/bin/python bench/quality/pii.py")


if __name__ == "__main__":
    main()
