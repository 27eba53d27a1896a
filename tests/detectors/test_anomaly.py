import json

import numpy as np
import pytest

from detectors.anomaly import MultivariateIsolation, RobustBaseline


def test_no_score_during_warm_up() -> None:
    b = RobustBaseline(warmup=5)
    assert all(b.update(v).p_value == 1.0 for v in [1, 100, 1, 1, 1])


def test_fires_only_after_consecutive_breaches_and_resets() -> None:
    b = RobustBaseline(window=20, warmup=8, threshold=4.0, consecutive=2)
    for v in np.random.default_rng(0).normal(10, 1, 10):
        b.update(v)
    one = b.update(30.0)
    assert one.breach and not one.firing
    assert not b.update(10.0).breach
    assert not b.update(30.0).firing
    assert b.update(31.0).firing


def test_stable_series_raises_no_alarm() -> None:
    b = RobustBaseline()
    results = [b.update(v) for v in np.random.default_rng(1).normal(0.05, 0.005, 5000)]
    assert sum(r.firing for r in results) <= 5


def test_constant_series_scale_floor_handles_a_first_non_zero_rate() -> None:
    b = RobustBaseline(warmup=4, consecutive=1)
    for _ in range(6):
        b.update(0.0)
    r = b.update(0.02)
    assert r.breach and r.firing and r.p_value < 1e-6


def test_state_round_trips_through_json() -> None:
    b = RobustBaseline(window=6, warmup=3)
    for v in [1.0, 2.0, 3.0, 2.5, 9.0]:
        b.update(v)
    c = RobustBaseline.from_dict(json.loads(json.dumps(b.to_dict())))
    assert c.to_dict() == b.to_dict()
    assert c.update(20.0) == b.update(20.0)


def test_isolation_p_values_are_valid_and_deterministic() -> None:
    rng = np.random.default_rng(2)
    ref = rng.normal(0, 1, (100, 4))
    m1, m2 = MultivariateIsolation().fit(ref), MultivariateIsolation().fit(ref)
    fresh = rng.normal(0, 1, (400, 4))
    p = np.array([m1.score(v) for v in fresh])
    assert p.tolist() == [m2.score(v) for v in fresh]
    assert np.mean(p <= 0.1) <= 0.15  # conformal: P(p <= a) <= a, up to noise
    assert m1.score([8, 8, -8, 8]) == pytest.approx(1 / 51)
    t = m1.test([8, 8, -8, 8], "context")
    assert t.kind == "multivariate" and t.p_value == pytest.approx(1 / 51)


def test_isolation_needs_enough_reference_windows() -> None:
    with pytest.raises(ValueError):
        MultivariateIsolation().fit(np.zeros((5, 3)))
