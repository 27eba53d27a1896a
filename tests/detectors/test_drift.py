import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from detectors.drift import (
    chi2_test,
    ks_exact,
    ks_pvalue,
    ks_test,
    rate_drift,
    silent,
    volume_test,
)
from detectors.sketch import QuantileSketch

sample = st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), min_size=1,
                  max_size=120)


def exact_d(a, b) -> float:
    grid = np.union1d(a, b)
    fa = np.searchsorted(np.sort(a), grid, side="right") / len(a)
    fb = np.searchsorted(np.sort(b), grid, side="right") / len(b)
    return float(np.max(np.abs(fa - fb)))


def sk(values) -> QuantileSketch:
    s = QuantileSketch()
    s.add_many(values)
    return s


@given(sample, sample, st.sampled_from([1, 5, 50]))
@settings(max_examples=200, deadline=None)
def test_sketch_ks_is_never_more_significant_than_exact_and_within_the_bound(a, b, res) -> None:
    sa, sb = QuantileSketch(res), QuantileSketch(res)
    sa.add_many(a)
    sb.add_many(b)
    t = ks_test(sa, sb)
    d_exact = exact_d(a, b)
    d_upper = float(t.detail.split("=")[1])
    assert t.statistic <= d_exact + 1e-12
    assert d_exact <= d_upper + 1e-9
    assert d_exact - t.statistic <= sa.cdf_error() + sb.cdf_error() + 1e-12
    assert t.p_value >= ks_pvalue(d_exact, len(a), len(b)) * (1 - 1e-9)


def test_ks_p_value_uses_the_exact_law_for_small_samples_and_a_conservative_limit_beyond() -> None:
    a = np.random.default_rng(1).normal(0, 1, 300)
    b = np.random.default_rng(2).normal(0.3, 1, 3000)
    exact = stats.ks_2samp(a, b, method="exact")
    assert ks_pvalue(exact.statistic, 300, 3000) == pytest.approx(exact.pvalue, rel=1e-9)
    big = ks_pvalue(0.02, 5000, 25000)  # n * m above the exact limit
    assert big == pytest.approx(stats.kstwobign.sf(0.02 * math.sqrt(5000 * 25000 / 30000)))


def test_latency_effect_is_on_a_log_scale_and_ks_ignores_the_scale() -> None:
    rng = np.random.default_rng(4)
    ref, cur = rng.lognormal(6, 0.5, 3000), rng.lognormal(6.25, 0.5, 500)
    raw, log = ks_test(sk(cur), sk(ref)), ks_test(sk(cur), sk(ref), log_scale=True)
    assert raw.statistic == log.statistic and raw.p_value == log.p_value
    assert log.effect == pytest.approx(0.5, abs=0.1)
    assert log.effect_name == "wasserstein_over_std"
    assert log.observed == pytest.approx(np.median(cur), rel=0.02)
    assert ks_exact(cur, ref, log_scale=True).effect == pytest.approx(log.effect, rel=0.05)


def test_unseen_category_is_explicit_and_gives_a_finite_effect() -> None:
    t = chi2_test({"stop": 150, "tool_calls": 50}, {"stop": 2000}, "finish_reason")
    assert t.p_value < 1e-10 and t.test == "fisher_exact"
    assert math.isfinite(t.effect) and 0 < t.effect <= math.sqrt(math.log(2))
    assert t.detail.startswith("most changed: ") and "columns 2 of 2" in t.detail
    assert (t.observed, t.reference) in {(0.25, 0.0), (0.75, 1.0)}


def test_sparse_columns_are_pooled_and_empty_columns_dropped() -> None:
    cur = {"a": 500, "b": 480, "rare1": 1, "rare2": 2, "gone": 0}
    ref = {"a": 5000, "b": 5000, "rare1": 3, "rare2": 1, "gone": 0}
    t = chi2_test(cur, ref, "x")
    assert "columns 2 of 4" in t.detail  # rare1 + rare2 pooled, then joined with b
    assert 0 < t.p_value <= 1


def test_chi_square_of_one_column_or_empty_side_is_not_a_test() -> None:
    assert chi2_test({"a": 5}, {"a": 50}, "x").p_value == 1.0
    assert chi2_test({}, {"a": 50, "b": 3}, "x").p_value == 1.0


def test_design_effect_deflates_the_statistic() -> None:
    cur, ref = {1: 80, 2: 120}, {1: 1000, 2: 1000}
    plain, deflated = chi2_test(cur, ref, "t"), chi2_test(cur, ref, "t", kind="text", deff=4.0)
    assert deflated.statistic == pytest.approx(plain.statistic / 4)
    assert deflated.p_value > plain.p_value


def test_rate_drift_uses_fisher_in_the_far_tail() -> None:
    t = rate_drift("jailbreak_rate", 18, 221, 25, 1105)
    assert t.test == "fisher_exact"
    assert t.p_value == pytest.approx(stats.fisher_exact([[18, 203], [25, 1080]]).pvalue)
    assert rate_drift("refusal_rate", 55, 1000, 50, 1000).test == "two_proportion_z"


def test_volume_spike_drop_and_steady() -> None:
    ref = [100, 96, 104, 99, 101, 95, 103, 102]
    assert volume_test(260, ref).p_value < 1e-20
    assert volume_test(30, ref).p_value < 1e-10
    assert volume_test(100, ref).p_value > 0.5
    over = [100, 60, 140, 80, 120, 90, 110, 100]
    t = volume_test(150, over)
    assert t.test == "negative_binomial" and 0.01 < t.p_value < 0.5
    assert volume_test(5, [0, 0, 0, 0]).p_value < 0.01
    assert volume_test(5, [3]).p_value == 1.0


def test_volume_null_is_calibrated_for_poisson_counts() -> None:
    rng = np.random.default_rng(9)
    p = [volume_test(int(rng.poisson(200)), rng.poisson(200, 12).tolist()).p_value
         for _ in range(2000)]
    assert np.mean(np.array(p) < 0.05) < 0.06


def test_silence_rule() -> None:
    assert silent(0, 599_999, 600_000) is False
    assert silent(0, 600_000, 600_000) is True


def test_results_are_json_serialisable() -> None:
    t = rate_drift("refusal_rate", 3, 20, 0, 500)
    assert json.loads(json.dumps(t.to_dict()))["metric"] == "refusal_rate"
