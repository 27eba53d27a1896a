"""Tail scan and interim looks: false alarms stay under their level, shifts are found within a
few chunks wherever windows start, and the sketch's rounding never reads as a change."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.judge import JudgeConfig, JudgeItem, interim_judge, look_number
from detectors.scan import TailScan, scan_tests
from detectors.summary import WindowSummary


def reference(rng: np.random.Generator, n: int, rate: float) -> WindowSummary:
    ref = WindowSummary()
    flags = rng.random(n) < rate
    lat = rng.lognormal(6.0, 0.5, n)
    for f, x in zip(flags.tolist(), lat.tolist(), strict=True):
        ref.add({"refusal": f}, {"latency_ms": x}, {}, None)
    return ref


@pytest.mark.parametrize("seed", [1, 2])
def test_null_false_alarms_per_chunk_stay_under_alpha(seed: int) -> None:
    """At a raised level (alpha 0.01, so that false alarms happen at all) a stationary stream
    raises a finding on at most about alpha of its chunks; 40,000 events = 1,250 chunks."""
    rng = np.random.default_rng(seed)
    ref = reference(rng, 6000, 0.05)
    scan = TailScan()
    chunks = alarms = tests = 0
    flags = rng.random(40_000) < 0.05
    lat = rng.lognormal(6.0, 0.5, 40_000)
    for f, x in zip(flags.tolist(), lat.tolist(), strict=True):
        if scan.add({"refusal": f}, {"latency_ms": x}):
            chunks += 1
            verdicts = scan_tests(scan, ref, JudgeConfig(), alpha=0.01)
            tests += len(verdicts)
            alarms += any(v.finding for v in verdicts)
    # two metrics at every dyadic tail the kept chunks allow (1, 2, 4, 8, 16 chunks)
    scales = sum(min(c, 16).bit_length() for c in range(1, chunks + 1))
    assert chunks == 1250 and tests == 2 * scales == 12448
    # BH over a chunk's tests bounds that chunk's false-alarm probability by alpha
    assert alarms <= 0.01 * chunks * 1.5


def test_a_rate_shift_is_found_within_a_few_chunks_of_its_onset() -> None:
    delays = []
    for seed in range(10):
        rng = np.random.default_rng(100 + seed)
        ref = reference(rng, 6000, 0.05)
        scan = TailScan()
        for f in (rng.random(1000 + seed * 7) < 0.05).tolist():  # onset not on a chunk edge
            scan.add({"refusal": f}, {})
        onset = scan.events
        for i, f in enumerate((rng.random(2000) < 0.15).tolist(), 1):
            if scan.add({"refusal": f}, {}) and any(
                    v.finding for v in scan_tests(scan, ref)):
                delays.append(i)
                break
    assert onset > 1000 and len(delays) == 10
    assert sorted(delays)[5] <= 256  # median within 8 chunks at alpha 1e-4


def test_a_latency_shift_is_found_on_the_log_scale() -> None:
    rng = np.random.default_rng(7)
    ref = reference(rng, 6000, 0.05)
    scan = TailScan()
    found = None
    for i, x in enumerate(rng.lognormal(6.4, 0.5, 1000).tolist(), 1):  # +0.8 sd in log
        if scan.add({}, {"latency_ms": x}):
            hits = [v.test for v in scan_tests(scan, ref) if v.finding]
            if hits:
                found = (i, hits[0])
                break
    assert found is not None and found[0] <= 128
    t = found[1]
    assert t.metric.startswith("latency_ms:tail") and t.test == "mean_z"
    assert t.effect == pytest.approx(0.8, abs=0.35) and t.observed > t.reference


def test_values_within_one_sketch_bucket_are_not_a_change() -> None:
    """The reference's moments come from bucket centres: a reference whose values all sit in
    one bucket has a variance of 0 there, and a tail of other values of the same bucket must
    not look shifted."""
    ref = WindowSummary()
    for i in range(1000):
        ref.add({}, {"x": 100.0 + (i % 3) * 0.1}, {}, None)
    scan = TailScan(log_scale_metrics=())
    hits = []
    for i in range(512):
        if scan.add({}, {"x": 100.2 + (i % 2) * 0.3}):  # same bucket, higher values
            hits += [v for v in scan_tests(scan, ref) if v.finding]
    assert hits == []
    for _ in range(64):  # 10 % higher: many buckets away
        scan.add({}, {"x": 110.0})
    assert any(v.finding for v in scan_tests(scan, ref))


def test_scan_state_round_trips_and_is_bounded() -> None:
    scan = TailScan(chunk=4, max_chunks=3)
    for i in range(50):
        scan.add({"refusal": i % 3 == 0}, {"latency_ms": float(i)})
    d = scan.to_dict()
    again = TailScan.from_dict(d)
    assert again.to_dict() == d and len(d["done"]) == 3 and d["cur"]["n"] == 2
    assert [k for k, _ in scan.tails()] == [1, 2]
    # the last two chunks are events 40..47, of which 42 and 45 are multiples of 3
    assert scan.tails()[1][1]["n"] == 8 and scan.tails()[1][1]["flags"]["refusal"] == 2


def test_interim_looks_spend_the_level_over_looks() -> None:
    """The p-value of look j is multiplied by (j + 1)(j + 2) and by the multiplicity."""
    rng = np.random.default_rng(3)
    ref = reference(rng, 6000, 0.05)
    w = WindowSummary()
    for i in range(128):
        w.add({"refusal": i % 8 == 0}, {}, {}, None)
    item = JudgeItem(("c", "*", "*"), 0, w, ref, None)
    one = interim_judge([item], JudgeConfig(), look_number(128))
    three = interim_judge([item], JudgeConfig(), look_number(128), multiplicity=3)
    assert look_number(128) == 2
    raw = float(one[0].test.detail.split("raw p=")[1].split()[0])
    assert one[0].test.p_value == pytest.approx(min(1.0, raw * 12), rel=1e-2)
    assert three[0].test.p_value == pytest.approx(min(1.0, raw * 36), rel=1e-2)
    assert one[0].test.metric == "refusal_rate:look128"
