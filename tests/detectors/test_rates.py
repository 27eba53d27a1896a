import json
import math
from dataclasses import asdict

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from detectors.rates import (
    RateTest,
    _finite,
    benjamini_hochberg,
    fisher_exact_2x2,
    is_finding,
    rate_test,
)


def test_z_test_matches_hand_computed_pooled_statistic() -> None:
    # 30/200 vs 100/2000: pooled p = 130/2200, se = sqrt(p(1-p)(1/200 + 1/2000))
    t = rate_test("refusal", 30, 200, 100, 2000)
    p = 130 / 2200
    z = (0.15 - 0.05) / math.sqrt(p * (1 - p) * (1 / 200 + 1 / 2000))
    assert t.method == "two_proportion_z"
    assert t.statistic == pytest.approx(z, rel=1e-12)
    assert t.statistic == pytest.approx(5.7185, abs=1e-4)
    assert t.p_value == pytest.approx(2 * stats.norm.sf(z), rel=1e-9)
    assert (t.observed, t.reference) == (0.15, 0.05)
    assert t.effect == pytest.approx(0.10)


def test_z_test_agrees_with_chi_square_without_continuity_correction() -> None:
    t = rate_test("jailbreak", 45, 300, 120, 1000)
    table = [[45, 255], [120, 880]]
    chi2, p, _, _ = stats.chi2_contingency(table, correction=False)
    assert t.statistic**2 == pytest.approx(chi2, rel=1e-9)
    assert t.p_value == pytest.approx(p, rel=1e-9)


def test_z_statistic_is_negative_when_window_rate_drops() -> None:
    t = rate_test("refusal", 10, 500, 100, 1000)
    assert t.statistic < 0
    assert t.effect == pytest.approx(0.02 - 0.1)


def test_fisher_is_chosen_when_an_expected_count_is_below_five() -> None:
    # expected flagged count in the window: 20 * 4/120 = 0.67
    t = rate_test("pii_output", 3, 20, 1, 100)
    assert t.method == "fisher_exact"
    res = stats.fisher_exact([[3, 17], [1, 99]])
    assert t.statistic == pytest.approx(res.statistic)
    assert t.p_value == pytest.approx(res.pvalue)
    assert t.p_value == pytest.approx(0.0145, abs=1e-4)


def test_z_is_chosen_when_every_expected_count_is_at_least_five() -> None:
    # expected counts: 50*10/100 = 5 exactly in the smallest cell
    t = rate_test("refusal", 5, 50, 5, 50)
    assert t.method == "two_proportion_z"
    assert t.statistic == 0.0
    assert t.p_value == pytest.approx(1.0)


def test_fisher_infinite_odds_ratio_is_mapped_to_large_finite_number() -> None:
    t = rate_test("jailbreak", 4, 10, 0, 50)
    assert t.method == "fisher_exact"
    assert t.statistic == 1e300
    json.dumps(asdict(t), allow_nan=False)


def test_fisher_zero_odds_ratio_is_reported_as_zero() -> None:
    t = rate_test("jailbreak", 0, 3, 4, 4)
    assert t.method == "fisher_exact"
    assert t.statistic == 0.0
    assert t.p_value == pytest.approx(stats.fisher_exact([[0, 3], [4, 0]]).pvalue)


def test_non_finite_statistics_map_to_json_safe_numbers() -> None:
    assert _finite(math.nan) == 0.0
    assert _finite(math.inf) == 1e300
    assert _finite(-math.inf) == -1e300


@pytest.mark.parametrize("x,n,x_ref,n_ref", [(0, 10, 0, 1000), (0, 5000, 0, 5000),
                                              (10, 10, 1000, 1000), (3, 3, 2, 2)])
def test_both_rates_zero_or_both_one_give_p_value_one(x: int, n: int, x_ref: int,
                                                      n_ref: int) -> None:
    t = rate_test("refusal", x, n, x_ref, n_ref)
    assert t.p_value == 1.0
    assert t.effect == 0.0
    json.dumps(asdict(t), allow_nan=False)


@pytest.mark.parametrize(
    "x,n,x_ref,n_ref",
    [(1, 0, 1, 10), (0, 10, 0, 0), (11, 10, 1, 10), (1, 10, 11, 10), (-1, 10, 1, 10),
     (1, 10, -1, 10), (0, -5, 0, 10)],
)
def test_invalid_counts_raise_value_error(x: int, n: int, x_ref: int, n_ref: int) -> None:
    with pytest.raises(ValueError):
        rate_test("refusal", x, n, x_ref, n_ref)


@given(
    n=st.integers(1, 5000),
    n_ref=st.integers(1, 5000),
    fx=st.floats(0, 1),
    fr=st.floats(0, 1),
)
def test_any_valid_counts_give_finite_json_serialisable_result(n: int, n_ref: int, fx: float,
                                                               fr: float) -> None:
    t = rate_test("m", round(fx * n), n, round(fr * n_ref), n_ref)
    assert 0.0 <= t.p_value <= 1.0
    assert math.isfinite(t.statistic)
    assert t.method in {"fisher_exact", "two_proportion_z"}
    json.dumps(asdict(t), allow_nan=False)


def test_benjamini_hochberg_textbook_example_rejects_first_four() -> None:
    # Benjamini & Hochberg (1995), section 4: 15 p-values, q = 0.05, four rejections.
    p = [0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459, 0.3240,
         0.4262, 0.5719, 0.6528, 0.7590, 1.000]
    assert benjamini_hochberg(p, 0.05) == [True] * 4 + [False] * 11


def test_benjamini_hochberg_keeps_input_order_and_steps_up() -> None:
    # Sorted thresholds 0.0125, 0.025, 0.0375, 0.05: only 0.01 passes its own.
    assert benjamini_hochberg([0.04, 0.5, 0.01, 0.03], 0.05) == [False, False, True, False]
    # 0.04 fails its own threshold (0.0125) but is rescued by the step-up at rank 4.
    assert benjamini_hochberg([0.04, 0.041, 0.042, 0.043], 0.05) == [True, True, True, True]


def test_benjamini_hochberg_empty_input_returns_empty_list() -> None:
    assert benjamini_hochberg([], 0.05) == []


def _t(observed_x: int, n: int, ref_x: int, n_ref: int) -> RateTest:
    return rate_test("m", observed_x, n, ref_x, n_ref)


def test_finding_requires_bh_rejection() -> None:
    t = _t(100, 1000, 10, 1000)
    assert is_finding(t, True, 0.01, 2.0)
    assert not is_finding(t, False, 0.01, 2.0)


def test_finding_requires_minimum_absolute_effect() -> None:
    t = _t(30, 10000, 10, 10000)  # 0.003 vs 0.001: ratio 3, effect 0.002
    assert not is_finding(t, True, 0.01, 2.0)
    assert is_finding(t, True, 0.001, 2.0)


def test_finding_requires_minimum_ratio_in_either_direction() -> None:
    up = _t(120, 1000, 100, 1000)  # ratio 1.2
    down = _t(50, 1000, 100, 1000)  # ratio 2 downwards
    assert not is_finding(up, True, 0.01, 1.5)
    assert is_finding(down, True, 0.01, 1.5)


def test_zero_reference_rate_counts_as_infinite_ratio() -> None:
    t = _t(20, 100, 0, 1000)
    assert is_finding(t, True, 0.05, 1000.0)
    t = _t(0, 1000, 20, 100)
    assert is_finding(t, True, 0.05, 1000.0)


@given(
    n=st.integers(1, 600),
    n_ref=st.integers(1, 50_000),
    fx=st.floats(0, 1),
    fr=st.floats(0, 1),
)
def test_fisher_exact_2x2_equals_scipy(n: int, n_ref: int, fx: float, fr: float) -> None:
    x, x_ref = round(fx * n), round(fr * n_ref)
    odds, p = fisher_exact_2x2(x, n, x_ref, n_ref)
    ref = stats.fisher_exact([[x, n - x], [x_ref, n_ref - x_ref]])
    assert p == pytest.approx(ref.pvalue, rel=1e-8, abs=1e-300)
    if math.isnan(ref.statistic):
        assert math.isnan(odds)
    else:
        assert odds == pytest.approx(ref.statistic, rel=1e-12)


def test_fisher_exact_2x2_small_table_by_hand() -> None:
    # 3/5 vs 0/5: hypergeometric probabilities of k = 0..3 successes in the first row are
    # 1/12, 5/12, 5/12, 1/12; the two-sided p sums the two tails of probability <= 1/12
    odds, p = fisher_exact_2x2(3, 5, 0, 5)
    assert p == pytest.approx(2 / 12, rel=1e-12)
    assert odds == math.inf
