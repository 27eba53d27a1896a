"""Canary gate: false rollbacks with no difference, power and windows to decision, for the
anytime-valid gate (:mod:`detectors.canary`) and a naive fixed-sample z-test re-checked at
every window, on the same simulated rollouts in one run.

    PYTHONPATH=. python bench/canary.py --rollouts 2000 --windows 50 --events 200 --seed 1

Each rollout has ``Poisson(2 x events)`` events per window split 50/50, checked after every
window for up to ``windows`` windows; a rollout stops at its first promote or rollback.
Null rows disable promotion (min_samples unreachable), so every look can roll back.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from detectors.canary import CanaryConfig, MetricSpec, run_gate, simulate_windows

NO_PROMOTION = 10**9


def _row(name: str, method: str, r: dict[str, np.ndarray]) -> str:
    v, w = r["verdict"], r["window"]
    rb = v == 2
    med = f"{np.median(w[rb]):.0f}" if rb.any() else "-"
    p90 = f"{np.percentile(w[rb], 90):.0f}" if rb.any() else "-"
    hard = int((r["reason"][rb] == 2).sum())
    return (f"| {name} | {method} | {rb.mean():.3f} | {(v == 1).mean():.3f} | {med} | {p90} "
            f"| {hard} |")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rollouts", type=int, default=2000)
    ap.add_argument("--windows", type=int, default=50)
    ap.add_argument("--events", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--alpha", type=float, default=0.05)
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    ref0 = MetricSpec("refusal", "rate", 0.0, 0.0, critical=True)
    ref = MetricSpec("refusal", "rate", 0.02, 0.01, critical=True)
    pii = MetricSpec("pii_output", "rate", 0.001, 0.0005, critical=True)

    def cfg(*specs: MetricSpec, **kw: object) -> CanaryConfig:
        return CanaryConfig(metrics=specs, alpha=a.alpha, **kw)  # type: ignore[arg-type]

    full = CanaryConfig(alpha=a.alpha, min_samples=NO_PROMOTION)
    full_rates = {m.name: 0.05 for m in full.metrics if m.kind == "rate"}
    full_rates["pii_output"] = full_rates["jailbreak_success"] = 0.002
    full_num = {"latency_ms": (6.0, 6.0, 0.8), "output_tokens": (5.0, 5.0, 1.0)}
    scenarios = [
        ("no difference, refusal 5 %, margin 0", cfg(ref0, min_samples=NO_PROMOTION),
         {"refusal": 0.05}, {"refusal": 0.05}, None, None),
        ("no difference, refusal 20 %, margin 0", cfg(ref0, min_samples=NO_PROMOTION),
         {"refusal": 0.20}, {"refusal": 0.20}, None, None),
        ("no difference, default 8 metrics", full, full_rates, full_rates, full_num, None),
        ("refusal 10 % -> 20 %, margin 2 pts", cfg(ref), {"refusal": 0.10},
         {"refusal": 0.20}, None, None),
        ("PII 0.2 % -> 1 %, margin 0.1 pt, test only", cfg(pii, pii_hard_stop=0),
         {"pii_output": 0.002}, {"pii_output": 0.01}, None, None),
        ("PII 0.2 % -> 1 %, hard stop 10 flagged leaks", cfg(pii, pii_hard_stop=10),
         {"pii_output": 0.002}, {"pii_output": 0.01}, None, "pii_output"),
        ("no difference PII 0.2 %, hard stop 10 flagged", cfg(pii, pii_hard_stop=10,
                                                             min_samples=NO_PROMOTION),
         {"pii_output": 0.002}, {"pii_output": 0.002}, None, "pii_output"),
    ]
    print(f"canary gate: {a.rollouts} rollouts x up to {a.windows} windows, ~{a.events} "
          f"events per arm per window, alpha {a.alpha} (Bonferroni over metrics), seed {a.seed}")
    print()
    print("| scenario | method | rollback rate | promote rate | median windows to rollback "
          "| p90 windows | by hard stop |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for i, (name, c, rb, rc, num, hard) in enumerate(scenarios):
        data = simulate_windows(a.rollouts, a.windows, a.events, rb, rc, num,
                                seed=a.seed * 1000 + i)
        for method in ("anytime", "naive"):
            r = run_gate(c, data, method, hard_stop_on_flags=hard)
            label = ("anytime-valid (this)" if method == "anytime"
                     else "naive z, re-checked each window")
            print(_row(name, label, r))
    print()
    print(f"runtime {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
