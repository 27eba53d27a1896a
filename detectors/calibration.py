"""Synthetic segment-windows for checking the judge's false discovery rate and power.

:func:`run_calibration` builds, for each of ``ticks x segments`` segment-windows, a window
summary and its trailing reference the way the pipeline would hold them, serialises both to
bytes and reads them back (as Faust state would), and runs :func:`detectors.judge.judge` once
per tick. Each segment draws its own parameters: a window size ``n`` log-uniform on
[20, 5000] (the reference holds ``ref_windows`` windows of the same size, at least 200 events),
two Bernoulli flags with base rates log-uniform on [0.5 %, 20 %], a log-normal latency
(log-mean uniform on [5, 7], log-sd 0.5, rounded to whole milliseconds, so with ties), a
four-valued finish reason and 200-word input vocabulary hashed into text buckets. A share of
segments (``shifted``) is changed in the window only, half of them with the refusal rate
times 3, half with the latency's log-mean raised by 0.5 sd. Every other test is a true null.

A *false discovery* is a finding on any metric that was not changed; a shifted window is
*found* when its changed metric is a finding. :func:`min_detectable_n` gives the sample size
below which a change of that size cannot be a finding with the judge's defaults (the effect
floor and the test's power), so power is reported for the windows above it, and per band.

Examples
--------
>>> r = run_calibration(seed=1, ticks=1, segments=200, shifted=0.05)
>>> r.windows, r.false_findings, r.shifted_windows, r.found
(200, 1, 12, 8)

"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field

import numpy as np

from detectors.judge import JudgeConfig, JudgeItem, judge
from detectors.sketch import QuantileSketch
from detectors.summary import WindowSummary

__all__ = ["BANDS", "CalibrationResult", "min_detectable_n", "run_calibration"]

BANDS = ((20, 100), (100, 500), (500, 2000), (2000, 5001))
_FINISH = ("stop", "length", "content_filter", "tool_calls")
_FINISH_P = np.array([0.8, 0.12, 0.05, 0.03])
_VOCAB = 200


def _vocab_buckets(buckets: int) -> np.ndarray:
    return np.array([zlib.crc32(f"w{i}".encode()) % buckets for i in range(_VOCAB)])


def min_detectable_n(kind: str, base: float, ref_windows: int = 5) -> int:
    """Window size above which the simulated change is detectable with the judge defaults.

    ``rate`` (``base`` is the reference rate, change x3): the window must expect at least 15
    flagged events at the reference rate, ``n * base >= 15``, i.e. 45 after the change. With
    fewer, a x3 change is not separable from Poisson noise at the level Benjamini–Hochberg
    needs across thousands of tests (about 1e-4 here). ``numeric`` (+0.5 sd): ``n >= 300``,
    where the KS distance of the shift (0.197) is 3.4 standard errors. Both are floored at the
    judge's ``min_window_events`` (20).
    """
    if kind == "rate":
        return max(20, math.ceil(15.0 / base))
    if kind == "numeric":
        return 300
    raise ValueError(f"unknown kind {kind!r}")


@dataclass
class CalibrationResult:
    windows: int = 0
    tests: int = 0
    null_tests: int = 0
    raw_null_rejections: int = 0  # p < 0.05 on null tests
    bh_rejections: int = 0
    findings: int = 0
    false_findings: int = 0
    shifted_windows: int = 0
    found: int = 0
    eligible: int = 0  # shifted windows with n >= min_detectable_n
    eligible_found: int = 0
    false_by_kind: dict[str, int] = field(default_factory=dict)
    band_shifted: dict[tuple[int, int], int] = field(default_factory=dict)
    band_found: dict[tuple[int, int], int] = field(default_factory=dict)
    band_findings: dict[tuple[int, int], int] = field(default_factory=dict)
    band_false: dict[tuple[int, int], int] = field(default_factory=dict)
    window_bytes: list[int] = field(default_factory=list)
    reference_bytes: list[int] = field(default_factory=list)

    @property
    def fdp(self) -> float:
        return self.false_findings / self.findings if self.findings else 0.0

    @property
    def power(self) -> float:
        return self.eligible_found / self.eligible if self.eligible else math.nan


def _summary(rng: np.random.Generator, n: int, rates: tuple[float, float], mu: float,
             presence: np.ndarray, buckets: np.ndarray) -> WindowSummary:
    w = WindowSummary()
    w.n = n
    w.flags = {"refusal": int(rng.binomial(n, rates[0])),
               "jailbreak": int(rng.binomial(n, rates[1]))}
    s = QuantileSketch()
    s.add_many(np.round(rng.lognormal(mu, 0.5, n)))
    w.numeric = {"latency_ms": s}
    counts = rng.multinomial(n, _FINISH_P)
    w.categorical = {
        "finish_reason": {k: int(c) for k, c in zip(_FINISH, counts, strict=True) if c}
    }
    present = rng.binomial(n, presence)
    text: dict[int, int] = {}
    for b, c in zip(buckets.tolist(), present.tolist(), strict=True):
        if c:
            text[b] = text.get(b, 0) + c
    w.text = text
    w.text_n = n
    return w


def _band(n: int) -> tuple[int, int]:
    return next(b for b in BANDS if b[0] <= n < b[1])


def run_calibration(seed: int, ticks: int = 5, segments: int = 2000, shifted: float = 0.02,
                    ref_windows: int = 5, cfg: JudgeConfig | None = None) -> CalibrationResult:
    """Simulate ``ticks`` evaluation ticks of ``segments`` segment-windows each; see module."""
    cfg = cfg or JudgeConfig()
    rng = np.random.default_rng(seed)
    buckets = _vocab_buckets(WindowSummary().text_buckets)
    presence = np.minimum(0.5, 0.8 / np.arange(1, _VOCAB + 1) ** 0.8)
    res = CalibrationResult()
    for tick in range(ticks):
        items, truth = [], {}
        for s in range(segments):
            n = round(math.exp(rng.uniform(math.log(20), math.log(5000))))
            n_ref = max(200, ref_windows * n)
            rates = tuple(float(math.exp(rng.uniform(math.log(0.005), math.log(0.2))))
                          for _ in range(2))
            mu = float(rng.uniform(5.0, 7.0))
            change = None
            if rng.random() < shifted:
                change = "refusal_rate" if rng.random() < 0.5 else "latency_ms"
            ref = _summary(rng, n_ref, rates, mu, presence, buckets)
            cur_rates = (rates[0] * 3, rates[1]) if change == "refusal_rate" else rates
            cur_mu = mu + 0.25 if change == "latency_ms" else mu
            cur = _summary(rng, n, cur_rates, cur_mu, presence, buckets)
            wb, rb = cur.to_bytes(), ref.to_bytes()
            res.window_bytes.append(len(wb))
            res.reference_bytes.append(len(rb))
            seg = (f"ctx{s}", "*", "*")
            items.append(JudgeItem(seg, tick, WindowSummary.from_bytes(wb),
                                   WindowSummary.from_bytes(rb), seg))
            truth[seg] = (change, n, rates[0])
        res.windows += len(items)
        verdicts = judge(items, cfg)
        found_segments = set()
        for v in verdicts:
            change, n, _ = truth[v.segment]
            res.tests += 1
            is_true = change is not None and v.test.metric == change
            if not is_true:
                res.null_tests += 1
                res.raw_null_rejections += v.test.p_value < 0.05
            res.bh_rejections += v.bh_rejected
            if v.finding:
                res.findings += 1
                band = _band(n)
                res.band_findings[band] = res.band_findings.get(band, 0) + 1
                if is_true:
                    found_segments.add(v.segment)
                else:
                    res.false_findings += 1
                    res.band_false[band] = res.band_false.get(band, 0) + 1
                    res.false_by_kind[v.test.kind] = res.false_by_kind.get(v.test.kind, 0) + 1
        for seg, (change, n, base) in truth.items():
            if change is None:
                continue
            band = _band(n)
            hit = seg in found_segments
            res.shifted_windows += 1
            res.found += hit
            res.band_shifted[band] = res.band_shifted.get(band, 0) + 1
            res.band_found[band] = res.band_found.get(band, 0) + hit
            kind = "rate" if change == "refusal_rate" else "numeric"
            if n >= min_detectable_n(kind, base, ref_windows):
                res.eligible += 1
                res.eligible_found += hit
    return res
