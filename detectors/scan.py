"""Tail scan: rate and mean shifts found within a few dozen events, wherever windows start.

A window test decides when its window closes, so a change that starts in the middle of a
window of 1,000 events waits for that close and is diluted by the events before it. Per-event
detectors such as ADWIN have no windows and find it sooner. :class:`TailScan` gives the
segment the same property at the cost of a few integers of state: it keeps the segment's last
events in chunks of ``chunk`` events (default 32) regardless of window boundaries, each chunk
holding only its count, its Bernoulli flag counts, its categorical counts and, per numeric
metric, the count, sum and sum of squares (on a log scale for the metrics judged on one).
When a chunk completes, :func:`scan_tests` tests the merged last 1, 2, 4, 8 and 16 chunks
(the dyadic tails: 32 to 512 events) against the segment's reference:

* a flag's rate: the two-proportion / Fisher test of :func:`detectors.drift.rate_drift`;
* a categorical field's counts (finish reason, category, model; a chunk holds at most
  ``chunk`` values of each): the two-sample contingency chi-square of
  :func:`detectors.drift.chi2_test`, unseen categories included;
* a numeric metric's mean: a z-test of the tail's mean against the reference's, with the
  reference's variance (under no change both come from one distribution), the reference's
  moments taken from its sketch's bucket centres and made conservative for the sketch's 1 %
  relative accuracy (the difference shrunk and the variance widened by the bias bound);
  effect size = difference of means / reference standard deviation.

False alarms are controlled per chunk: the tests of one chunk (every metric at every scale)
go through one Benjamini–Hochberg procedure at level ``alpha / multiplicity``, so under no
change a segment raises a false scan alarm on at most a fraction ``alpha`` of its chunks
(with ``multiplicity`` segments sharing it, the context as a whole). At the default
``alpha = 1e-4`` that is at most one per 320,000 events of a segment. A finding also needs the
same minimum effect as a window test (the caller's :class:`~detectors.judge.JudgeConfig`).

Shape changes without a shift of the mean and text (4,096 hashed buckets: too much state for
32-event chunks) wait for the interim looks and the window tests.

Examples
--------
>>> from detectors.summary import WindowSummary
>>> ref = WindowSummary()
>>> for i in range(4000):
...     ref.add({"refusal": i % 20 == 0}, {}, {}, None)
>>> scan = TailScan()
>>> found = []
>>> for i in range(256):   # the refusal rate goes from 5 % to 25 %
...     if scan.add({"refusal": i % 4 == 0}, {}):
...         found += [v.test.metric for v in scan_tests(scan, ref) if v.finding]
>>> scan.events, found[0]
(256, 'refusal_rate:tail64')
>>> TailScan.from_dict(scan.to_dict()).to_dict() == scan.to_dict()
True
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from detectors.drift import DriftTest, chi2_test, rate_drift
from detectors.judge import TAIL_SUFFIX, JudgeConfig, effect_reaches
from detectors.rates import benjamini_hochberg
from detectors.summary import WindowSummary

__all__ = ["TAIL_SUFFIX", "ScanVerdict", "TailScan", "scan_tests"]

DEFAULT_ALPHA = 1e-4


def _transform(value: float, log_scale: bool) -> float:
    return math.copysign(math.log1p(abs(value)), value) if log_scale else value


class TailScan:
    """The last ``chunk * max_chunks`` events of a segment, in chunks of ``chunk`` events.

    Parameters
    ----------
    chunk
        Events per chunk; the scan tests when a chunk completes (32).
    max_chunks
        Completed chunks kept; the longest tail tested (16, so 512 events).
    log_scale_metrics
        Numeric metrics accumulated on ``sign(x) * log1p(|x|)``, as their window tests.

    """

    def __init__(self, chunk: int = 32, max_chunks: int = 16,
                 log_scale_metrics: tuple[str, ...] = JudgeConfig().log_scale_metrics) -> None:
        if chunk < 1 or max_chunks < 1:
            raise ValueError("chunk and max_chunks must be positive")
        self.chunk = chunk
        self.max_chunks = max_chunks
        self.log_scale = frozenset(log_scale_metrics)
        self.events = 0
        self.done: list[dict[str, Any]] = []  # oldest first
        self.current = self._empty()

    @staticmethod
    def _empty() -> dict[str, Any]:
        return {"n": 0, "flags": {}, "num": {}, "cat": {}}

    def add(self, flags: Mapping[str, bool], numeric: Mapping[str, float | None],
            categorical: Mapping[str, str | None] | None = None) -> bool:
        """Add one event; True when it completed a chunk (time to call :func:`scan_tests`)."""
        cur = self.current
        for name, value in (categorical or {}).items():
            if value is not None:
                counts = cur.setdefault("cat", {}).setdefault(name, {})
                counts[value] = counts.get(value, 0) + 1
        cur["n"] += 1
        self.events += 1
        for name, raised in flags.items():
            cur["flags"][name] = cur["flags"].get(name, 0) + bool(raised)
        for name, value in numeric.items():
            if value is None or not math.isfinite(value):
                continue
            x = _transform(value, name in self.log_scale)
            acc = cur["num"].setdefault(name, [0, 0.0, 0.0])
            acc[0] += 1
            acc[1] += x
            acc[2] += x * x
        if cur["n"] < self.chunk:
            return False
        self.done.append(cur)
        del self.done[:-self.max_chunks]
        self.current = self._empty()
        return True

    def tails(self) -> list[tuple[int, dict[str, Any]]]:
        """(chunks, merged stats) of the dyadic tails 1, 2, 4, ... of the completed chunks."""
        out = []
        k = 1
        while k <= len(self.done):
            merged = self._empty()
            for c in self.done[-k:]:
                merged["n"] += c["n"]
                for name, x in c["flags"].items():
                    merged["flags"][name] = merged["flags"].get(name, 0) + x
                for name, (n, s, ss) in c["num"].items():
                    acc = merged["num"].setdefault(name, [0, 0.0, 0.0])
                    acc[0] += n
                    acc[1] += s
                    acc[2] += ss
                for name, counts in c.get("cat", {}).items():
                    into = merged["cat"].setdefault(name, {})
                    for value, x in counts.items():
                        into[value] = into.get(value, 0) + x
            out.append((k, merged))
            k *= 2
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-able state (for a Faust table value)."""
        return {"chunk": self.chunk, "max": self.max_chunks, "events": self.events,
                "log": sorted(self.log_scale), "done": self.done, "cur": self.current}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TailScan:
        scan = cls(d["chunk"], d["max"], tuple(d["log"]))
        scan.events = d["events"]
        scan.done = [dict(c) for c in d["done"]]
        scan.current = dict(d["cur"])
        return scan


@dataclass(frozen=True)
class ScanVerdict:
    """A tail test, its BH decision at the chunk, and whether it is a finding."""

    test: DriftTest
    bh_rejected: bool
    finding: bool


def _moments(summary: WindowSummary, name: str, log_scale: bool
             ) -> tuple[int, float, float, float]:
    """Count, mean, variance and the bias bound of the mean of a reference metric, from its
    sketch's bucket centres: each value is known within the sketch's relative accuracy
    ``a``, so its transformed value within ``a`` on a log scale (``log1p`` moves less than the
    relative change) and within ``a * |x|`` on a linear one."""
    sketch = summary.numeric[name]
    values, counts = sketch.points()
    accuracy = 1.0 / (2 * sketch.resolution + 1)
    if log_scale:
        values = np.sign(values) * np.log1p(np.abs(values))
        bias = accuracy
    else:
        bias = accuracy * float(np.average(np.abs(values), weights=counts))
    n = int(counts.sum())
    mean = float(np.average(values, weights=counts))
    var = float(np.average((values - mean) ** 2, weights=counts))
    return n, mean, var, bias


def _mean_test(metric: str, n: int, s: float, n_ref: int, mean_ref: float, var_ref: float,
               bias: float) -> DriftTest:
    """z-test of a tail's mean against the reference's, conservative for the sketch: the
    difference is shrunk by the reference mean's bias bound and the variance widened by it,
    so values that all fall in one bucket never look like a change."""
    mean = s / n
    diff = mean - mean_ref
    shrunk = math.copysign(max(0.0, abs(diff) - bias), diff)
    sd = math.sqrt(var_ref + bias * bias)
    if sd > 0.0:
        z = shrunk / (sd * math.sqrt(1.0 / n + 1.0 / n_ref))
        p = float(2.0 * stats.norm.sf(abs(z)))
        effect = shrunk / sd
    else:  # a constant reference of exact zeros
        z, p, effect = 0.0, 1.0, 0.0
        if shrunk:
            z = effect = math.copysign(1e300, shrunk)
            p = 0.0
    return DriftTest(metric=metric, kind="numeric", test="mean_z", statistic=z, p_value=p,
                     effect=effect, effect_name="mean_diff_over_std", n=n, n_ref=n_ref,
                     observed=mean, reference=mean_ref)


def scan_tests(scan: TailScan, reference: WindowSummary | None,
               cfg: JudgeConfig | None = None, alpha: float = DEFAULT_ALPHA,
               multiplicity: int = 1) -> list[ScanVerdict]:
    """Test the scan's dyadic tails against ``reference`` (metric ``<metric>:tail<n>``).

    Nothing is tested before the reference has ``cfg.min_reference_events``. Rates use the
    rate floors of ``cfg``, means its ``numeric`` floor (on the difference of means over the
    reference's standard deviation).
    """
    cfg = cfg or JudgeConfig()
    if reference is None or reference.n < cfg.min_reference_events:
        return []
    memo = reference.memo()
    key = ("scan_moments", scan.log_scale, cfg.min_reference_events)
    moments = memo.get(key)
    if moments is None:
        moments = memo[key] = {
            name: _moments(reference, name, name in scan.log_scale)
            for name, sk in reference.numeric.items() if sk.n >= cfg.min_reference_events}
    tests: list[DriftTest] = []
    for _k, tail in scan.tails():
        n = tail["n"]
        suffix = f"{TAIL_SUFFIX}{n}"
        for name in sorted(set(tail["flags"]) & set(reference.flags)):
            tests.append(rate_drift(f"{name}_rate{suffix}", tail["flags"][name], n,
                                    reference.flags[name], reference.n,
                                    exact_below_p=cfg.rate_exact_below_p))
        for name in sorted(set(tail["num"]) & set(moments)):
            m, s, _ss = tail["num"][name]
            if m >= min(scan.chunk, cfg.min_window_events):
                tests.append(_mean_test(name + suffix, m, s, *moments[name]))
        for name in sorted(set(tail["cat"]) & set(reference.categorical)):
            tests.append(chi2_test(tail["cat"][name], reference.categorical[name],
                                   name + suffix, min_expected=cfg.min_expected))
    # the same tail can test equal at consecutive chunks: say which chunk it was
    at = f"tail ending at the segment's event {scan.events}"
    tests = [dataclasses.replace(t, detail=f"{t.detail}; {at}" if t.detail else at)
             for t in tests]
    rejected = benjamini_hochberg([t.p_value for t in tests], q=alpha / max(1, multiplicity))
    return [ScanVerdict(t, rej, rej and effect_reaches(t, cfg))
            for t, rej in zip(tests, rejected, strict=True)]
