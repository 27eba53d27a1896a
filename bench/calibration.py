"""Calibration of the judge over many seeds: realised FDR and power per sample-size band.

Runs :func:`detectors.calibration.run_calibration` (window summaries and references
serialised to bytes and read back, then :func:`detectors.judge.judge` once per tick) for each
seed twice: with no change (every finding is false) and with 2 % of segments shifted (refusal
rate x3, or latency log-mean +0.5 sd). Prints one table and the command that reproduces it.

    PYTHONPATH=. python bench/calibration.py --seeds 20 --ticks 5 --segments 2000
"""

from __future__ import annotations

import argparse
import statistics
import sys
from concurrent.futures import ProcessPoolExecutor

from detectors.calibration import BANDS, CalibrationResult, run_calibration
from detectors.judge import JudgeConfig


def _run(args: tuple[int, int, int, float]) -> CalibrationResult:
    seed, ticks, segments, shifted = args
    return run_calibration(seed=seed, ticks=ticks, segments=segments, shifted=shifted)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--first-seed", type=int, default=1000)
    ap.add_argument("--ticks", type=int, default=5)
    ap.add_argument("--segments", type=int, default=2000)
    ap.add_argument("--shifted", type=float, default=0.02)
    ap.add_argument("--workers", type=int, default=4)
    a = ap.parse_args(argv)
    q = JudgeConfig().fdr_q
    seeds = list(range(a.first_seed, a.first_seed + a.seeds))
    jobs = [(s, a.ticks, a.segments, 0.0) for s in seeds]
    jobs += [(s, a.ticks, a.segments, a.shifted) for s in seeds]
    with ProcessPoolExecutor(a.workers) as pool:
        results = list(pool.map(_run, jobs))
    null, shifted = results[: len(seeds)], results[len(seeds) :]

    print(f"judge calibration: {len(seeds)} seeds x {a.ticks} ticks x {a.segments} "
          f"segment-windows, q = {q}, shifted share {a.shifted:.0%}")
    print()
    print("| scenario | band (window n) | windows | findings | false | realised FDR "
          "(pooled) | max per-seed FDP | shifted | found | power |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, runs in (("no change", null), (f"{a.shifted:.0%} shifted", shifted)):
        for band in (*BANDS, None):
            label = "all" if band is None else f"{band[0]}-{band[1] - 1}"
            if band is None:
                f = sum(r.findings for r in runs)
                fa = sum(r.false_findings for r in runs)
                sh = sum(r.shifted_windows for r in runs)
                fo = sum(r.found for r in runs)
                per_seed = [r.fdp for r in runs]
                windows = sum(r.windows for r in runs)
            else:
                f = sum(r.band_findings.get(band, 0) for r in runs)
                fa = sum(r.band_false.get(band, 0) for r in runs)
                sh = sum(r.band_shifted.get(band, 0) for r in runs)
                fo = sum(r.band_found.get(band, 0) for r in runs)
                per_seed = [r.band_false.get(band, 0) / r.band_findings[band]
                            if r.band_findings.get(band) else 0.0 for r in runs]
                windows = None
            fdr = fa / f if f else 0.0
            power = f"{fo / sh:.3f}" if sh else "-"
            print(f"| {name} | {label} | {windows if windows is not None else ''} | {f} | {fa} | "
                  f"{fdr:.4f} | {max(per_seed):.4f} | {sh} | {fo} | {power} |")
    eligible = sum(r.eligible for r in shifted)
    eligible_found = sum(r.eligible_found for r in shifted)
    per_seed_power = [r.power for r in shifted]
    print()
    print(f"shifted windows with n >= min_detectable_n: {eligible_found}/{eligible} found "
          f"(power {eligible_found / eligible:.3f}; lowest seed {min(per_seed_power):.3f})")
    print(f"seeds with realised FDP > q: no change {sum(r.fdp > q for r in null)}, "
          f"shifted {sum(r.fdp > q for r in shifted)}; mean FDP shifted "
          f"{statistics.mean(r.fdp for r in shifted):.4f}")
    wb = [b for r in shifted for b in r.window_bytes]
    rb = [b for r in shifted for b in r.reference_bytes]
    print(f"bytes per window summary: median {statistics.median(wb):.0f}; "
          f"per reference summary: median {statistics.median(rb):.0f}")
    print()
    print("reproduce: PYTHONPATH=. python bench/calibration.py " + " ".join(
        argv if argv is not None else sys.argv[1:]))


if __name__ == "__main__":
    main()
