import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.sketch import QuantileSketch

finite = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False)
values_st = st.lists(finite, min_size=1, max_size=300)


def sketch_of(values, resolution=50) -> QuantileSketch:
    s = QuantileSketch(resolution)
    for v in values:
        s.add(v)
    return s


@given(values_st)
@settings(max_examples=150, deadline=None)
def test_same_values_give_identical_bytes_whatever_the_path(values) -> None:
    one = sketch_of(values)
    bulk = QuantileSketch()
    bulk.add_many(np.array(values))
    assert one.to_bytes() == bulk.to_bytes()
    assert QuantileSketch.from_bytes(one.to_bytes()).to_bytes() == one.to_bytes()
    assert sketch_of(values).to_bytes() == one.to_bytes()


@given(values_st, values_st, values_st)
@settings(max_examples=100, deadline=None)
def test_merge_is_exact_associative_and_commutative(a, b, c) -> None:
    whole = sketch_of(a + b + c).to_bytes()
    left = sketch_of(a).merge(sketch_of(b)).merge(sketch_of(c))
    right = sketch_of(c).merge(sketch_of(b).merge(sketch_of(a)))
    assert left.to_bytes() == right.to_bytes() == whole
    assert left.n == len(a) + len(b) + len(c)


@given(values_st, st.floats(min_value=0.0, max_value=1.0))
@settings(max_examples=200, deadline=None)
def test_quantile_is_within_relative_accuracy_of_a_true_order_statistic(values, q) -> None:
    s = sketch_of(values)
    x = np.sort(values)
    got = s.quantile(q)
    rank = q * (len(x) - 1)
    # the answer is the bucket of the order statistic at rank ceil-ish; allow either neighbour
    candidates = x[max(0, math.floor(rank)) : math.ceil(rank) + 1]
    alpha = 1 / (2 * 50 + 1)
    assert any(abs(got - v) <= alpha * abs(v) + 1e-300 for v in candidates)
    assert s.min == x[0] and s.max == x[-1]


@given(values_st, finite)
@settings(max_examples=200, deadline=None)
def test_cdf_error_bounds_the_cdf(values, probe) -> None:
    s = sketch_of(values)
    exact = float(np.mean(np.array(values) <= probe))
    assert abs(s.cdf(probe) - exact) <= s.cdf_error() / 2 + 1e-12


def test_zero_and_negative_values_are_kept_apart() -> None:
    s = sketch_of([0.0, 0.0, -1.0, 1.0, 0.5])
    assert s.quantile(0.0) == -1.0
    assert s.quantile(0.5) == 0.0
    assert s.cdf(0.0) == pytest.approx(0.6)
    assert s.cdf(-2.0) == 0.0 and s.cdf(1.0) == 1.0


def test_empty_and_small_sketches_cost_bytes_not_kilobytes() -> None:
    assert len(QuantileSketch().to_bytes()) == 3
    s = QuantileSketch()
    s.add_many(np.round(np.random.default_rng(3).lognormal(6.0, 0.5, 40)))
    assert len(s.to_bytes()) < 140
    big = QuantileSketch()
    big.add_many(np.random.default_rng(3).lognormal(6.0, 0.5, 100_000))
    assert len(big.to_bytes()) < 1_200
    assert big.cdf_error() < 0.02


def test_large_sample_quantiles_are_within_one_percent() -> None:
    x = np.random.default_rng(5).lognormal(5.0, 1.0, 50_000)
    s = QuantileSketch()
    s.add_many(x)
    for q in (0.01, 0.1, 0.5, 0.9, 0.99):
        exact = np.quantile(x, q, method="lower")
        assert s.quantile(q) == pytest.approx(exact, rel=0.011)


def test_non_finite_values_and_mismatched_merges_are_rejected() -> None:
    with pytest.raises(ValueError):
        QuantileSketch().add(math.nan)
    with pytest.raises(ValueError):
        QuantileSketch().add_many([1.0, math.inf])
    with pytest.raises(ValueError):
        QuantileSketch(50).merge(QuantileSketch(100))
    with pytest.raises(ValueError):
        QuantileSketch.from_bytes(QuantileSketch().to_bytes() + b"\x00")
