import json
import math

import numpy as np
import pytest
from scipy import stats

from detectors.canary import (
    ArmWindow,
    CanaryConfig,
    CanaryState,
    MetricSpec,
    log1p_stats,
    log_mean_bounds,
    mixture_boundary,
    rate_log_e_increment,
    run_gate,
    simulate_windows,
    srm_check,
)

ALPHA = 0.05
NO_PROMOTION = 10**9  # min_samples that can never be met: every look can roll back


def boundary_config(name: str = "refusal", min_samples: int = NO_PROMOTION) -> CanaryConfig:
    """One critical rate with harm margin 0: the null 'no difference' sits on the boundary
    of 'difference <= margin', the hardest case for the false rollback rate."""
    return CanaryConfig(metrics=(MetricSpec(name, "rate", 0.0, 0.0, critical=True),),
                        alpha=ALPHA, min_samples=min_samples, min_windows=1, max_windows=50)


def summary(r: dict[str, np.ndarray]) -> tuple[float, float, float]:
    v, w = r["verdict"], r["window"]
    rb = v == 2
    return float(rb.mean()), float((v == 1).mean()), float(np.median(w[rb])) if rb.any() else 0


# --------------------------------------------------------------------------- exact values


def test_rate_e_value_equals_the_hand_computed_likelihood_ratio() -> None:
    # 30/100 flagged in the canary, 10/100 in the baseline, alternative (0.3, 0.1), null
    # "difference <= 0". Equal arm sizes: the projection pi solves
    # (0.3 - pi)/v(pi) + (0.1 - pi)/v(pi) = 0, pi = 0.2, so
    # E = (0.3/0.2)^30 (0.7/0.8)^70 (0.1/0.2)^10 (0.9/0.8)^90.
    e = math.exp(float(rate_log_e_increment(30, 100, 10, 100, 0.3, 0.1, 0.0, +1)))
    assert e == pytest.approx(1.5**30 * 0.875**70 * 0.5**10 * 1.125**90, rel=1e-10)
    assert e == pytest.approx(655.7353, abs=1e-4)
    # the other side does not bet when the alternative is on the harm side
    assert float(rate_log_e_increment(30, 100, 10, 100, 0.3, 0.1, 0.0, -1)) == 0.0


@pytest.mark.parametrize(("n_c", "n_b", "theta_c", "theta_b", "delta"), [
    (7, 13, 0.4, 0.1, 0.05), (20, 5, 0.02, 0.3, -0.1), (10, 10, 0.6, 0.2, 0.2)])
def test_rate_e_value_has_expectation_at_most_one_under_every_null_rate(
        n_c: int, n_b: int, theta_c: float, theta_b: float, delta: float) -> None:
    # exact expectation: sum over the whole binomial support of both arms
    side = 1 if theta_c - theta_b > delta else -1
    xc, xb = np.meshgrid(np.arange(n_c + 1), np.arange(n_b + 1), indexing="ij")
    log_e = rate_log_e_increment(xc, n_c, xb, n_b, theta_c, theta_b, delta, side)
    assert np.ptp(log_e) > 1.0  # it does bet
    worst = 0.0
    for p in np.linspace(max(0.0, -delta), min(1.0, 1.0 - delta), 41):
        # the composite null: every (p_b, p_c) on the boundary and beyond it on the null side
        for p_c in (p + delta, max(0.0, p + delta - side * 0.05)):
            prob = np.outer(stats.binom.pmf(np.arange(n_c + 1), n_c, min(1.0, p_c)),
                            stats.binom.pmf(np.arange(n_b + 1), n_b, p))
            worst = max(worst, float((prob * np.exp(log_e)).sum()))
    assert worst <= 1.0 + 1e-9
    assert worst > 0.5  # and the bound is not vacuous: close to 1 on the boundary


def test_normal_mixture_boundary_solves_its_equation_and_bounds_by_hand() -> None:
    # one-sided normal mixture: 2 sqrt(rho/(t+rho)) exp(b^2 / (2(t+rho))) Phi(b/sqrt(t+rho))
    # = 1/alpha; at t = rho = 100, alpha = 0.05 the root is b = 32.6175
    b = float(mixture_boundary(100.0, 0.05, 100.0))
    lhs = 2 * math.sqrt(0.5) * math.exp(b * b / 400) * stats.norm.cdf(b / math.sqrt(200))
    assert lhs == pytest.approx(20.0, rel=1e-9)
    assert b == pytest.approx(32.6175, abs=1e-4)
    # baseline n=100, mean 1, sum sq 200 -> var 100/99; canary n=100, mean 1.1,
    # sum sq 231 -> var 110/99. V = 210/9900, pooled var = 105/99, t = pooled / V = 50,
    # half-width = b(50) sqrt(105/99) / 50.
    r = log_mean_bounds(100, 100.0, 200.0, 100, 110.0, 231.0, alpha=0.05, rho=100.0)
    half = float(mixture_boundary(50.0, 0.05, 100.0)) * math.sqrt(105 / 99) / 50
    assert float(r["effective_n"]) == pytest.approx(50.0, rel=1e-12)
    assert float(r["lower"]) == pytest.approx(0.1 - half, rel=1e-9)
    assert float(r["upper"]) == pytest.approx(0.1 + half, rel=1e-9)
    assert half == pytest.approx(0.5661, abs=1e-4)


def test_srm_e_value_is_the_beta_binomial_bayes_factor() -> None:
    # k = 2, share 1/2: prior Beta(1, 1); 7 canary and 3 baseline events:
    # E = B(8, 4) / B(1, 1) / 0.5^10 = (1/1320) * 1024
    c = srm_check(3, 7, 0.5, alpha=0.001, concentration=2.0)
    assert c.e_value == pytest.approx(1024 / 1320, rel=1e-12)
    assert not c.mismatch


def test_log1p_stats() -> None:
    assert log1p_stats([0.0, 1.0, 3.0]) == pytest.approx(
        (3, math.log(2) + math.log(4), math.log(2) ** 2 + math.log(4) ** 2))


# --------------------------------------------------------------------------- simulations


@pytest.mark.parametrize("base_rate", [0.05, 0.20])
def test_false_rollbacks_with_no_difference_stay_below_alpha_over_50_looks(
        base_rate: float, capsys: pytest.CaptureFixture[str]) -> None:
    data = simulate_windows(1000, 50, 200, {"refusal": base_rate}, {"refusal": base_rate},
                            seed=11)
    cfg = boundary_config()
    rate, _, _ = summary(run_gate(cfg, data))
    naive, _, _ = summary(run_gate(cfg, data, method="naive"))
    with capsys.disabled():
        print(f"\nbase {base_rate:.0%}: false rollback {rate:.3f} (alpha {ALPHA}); "
              f"naive z re-checked every window {naive:.3f}")
    assert rate <= ALPHA
    # the same data with a fixed-sample test looked at 50 times inflates far past alpha
    assert naive > 3 * ALPHA


def test_default_config_with_no_difference_never_rolls_back_more_than_alpha() -> None:
    cfg = CanaryConfig(min_samples=NO_PROMOTION)
    rates = {m.name: 0.05 for m in cfg.metrics if m.kind == "rate"}
    rates["pii_output"] = rates["jailbreak_success"] = 0.01
    numeric = {"latency_ms": (6.0, 6.0, 0.8), "output_tokens": (5.0, 5.0, 1.0)}
    data = simulate_windows(300, 50, 200, rates, rates, numeric, seed=5)
    rate, _, _ = summary(run_gate(cfg, data))
    assert rate <= ALPHA


def test_refusal_up_ten_points_rolls_back_in_almost_every_rollout(
        capsys: pytest.CaptureFixture[str]) -> None:
    cfg = CanaryConfig(metrics=(MetricSpec("refusal", "rate", 0.02, 0.01, critical=True),))
    data = simulate_windows(1000, 50, 200, {"refusal": 0.10}, {"refusal": 0.20}, seed=12)
    power, promoted, median = summary(run_gate(cfg, data))
    with capsys.disabled():
        print(f"\nrefusal 10% -> 20%: rollback {power:.3f}, median windows {median}")
    assert power >= 0.95
    assert promoted == 0.0
    assert median <= 5


def test_pii_leak_rate_times_five_rolls_back_by_the_test_alone(
        capsys: pytest.CaptureFixture[str]) -> None:
    spec = MetricSpec("pii_output", "rate", 0.001, 0.0005, critical=True)
    cfg = CanaryConfig(metrics=(spec,), pii_hard_stop=0)  # statistics only
    data = simulate_windows(1000, 50, 200, {"pii_output": 0.002}, {"pii_output": 0.01},
                            seed=13)
    r = run_gate(cfg, data)
    power, _, median = summary(r)
    with capsys.disabled():
        print(f"\nPII 0.2% -> 1%: rollback {power:.3f} by the test alone, median windows "
              f"{median}, p90 {np.percentile(r['window'][r['verdict'] == 2], 90)}")
    assert power >= 0.95
    assert set(r["reason"][r["verdict"] == 2]) == {1}
    # with every flagged canary leak confirmed, the hard stop at 1 leak acts first
    hard = run_gate(CanaryConfig(metrics=(spec,), pii_hard_stop=1), data,
                    hard_stop_on_flags="pii_output")
    assert (hard["verdict"] == 2).all()
    assert np.median(hard["window"]) == 1


def test_equal_arms_with_margins_satisfied_promote_and_never_roll_back(
        capsys: pytest.CaptureFixture[str]) -> None:
    cfg = CanaryConfig(metrics=(MetricSpec("refusal", "rate", 0.04, 0.02),
                                MetricSpec("pii_output", "rate", 0.004, 0.002, critical=True),
                                MetricSpec("latency_ms", "log_mean", 0.10, 0.05)),
                       min_samples=2000, min_windows=10, max_windows=50)
    data = simulate_windows(300, 50, 200, {"refusal": 0.05, "pii_output": 0.001},
                            {"refusal": 0.05, "pii_output": 0.001},
                            {"latency_ms": (6.0, 6.0, 0.5)}, seed=14)
    r = run_gate(cfg, data)
    rollback, promoted, _ = summary(r)
    with capsys.disabled():
        print(f"\nequal arms: promote {promoted:.3f}, median window "
              f"{np.median(r['window'][r['verdict'] == 1])}")
    assert rollback == 0.0
    # "most runs": measured 0.78 within 50 windows; the slow part is showing PII within
    # 0.2 points at a 0.1 % base rate (about 0.4 leaks per window and arm)
    assert promoted > 0.5
    assert r["window"][r["verdict"] == 1].min() >= 10  # never before min_windows


def test_vectorised_gate_and_canary_state_agree_rollout_by_rollout() -> None:
    cfg = CanaryConfig(metrics=(MetricSpec("refusal", "rate", 0.02, 0.01),
                                MetricSpec("error", "rate", 0.01, 0.005),
                                MetricSpec("latency_ms", "log_mean", 0.10, 0.05, critical=True)),
                       min_samples=1000, min_windows=3, max_windows=20)
    data = simulate_windows(24, 20, 200, {"refusal": 0.10, "error": 0.02},
                            {"refusal": 0.16, "error": 0.05}, {"latency_ms": (6.0, 6.05, 0.6)},
                            seed=3)
    fast = run_gate(cfg, data)
    codes = {"hold": 0, "promote": 1, "rollback": 2}
    decided = set()
    for i in range(24):
        state = CanaryState(cfg)
        verdict, when = 0, 0
        for w in range(20):
            def arm(j: int, i: int = i, w: int = w) -> ArmWindow:
                return ArmWindow(
                    events=int(data["events_b" if j == 0 else "events_c"][i, w]),
                    rates={k: (int(v[2 * j][i, w]), int(v[2 * j + 1][i, w]))
                           for k, v in data["rates"].items()},
                    numeric={k: tuple(float(z) for z in v[j][i, w])
                             for k, v in data["numeric"].items()})
            v = state.update(arm(0), arm(1))
            if v.verdict != "hold":
                verdict, when = codes[v.verdict], v.window
                break
        assert (verdict, when) == (fast["verdict"][i], fast["window"][i]), i
        decided.add(verdict)
    assert decided >= {1, 2} or decided >= {0, 2}  # the check covers more than one outcome


# --------------------------------------------------------------------------- verdict logic


def arms(n: int, x_b: int, x_c: int, n_c: int | None = None) -> tuple[ArmWindow, ArmWindow]:
    n_c = n if n_c is None else n_c
    return (ArmWindow(n, {"refusal": (x_b, n)}), ArmWindow(n_c, {"refusal": (x_c, n_c)}))


def refusal_config(**kw: object) -> CanaryConfig:
    base = {"metrics": (MetricSpec("refusal", "rate", 0.02, 0.01, critical=True),),
            "min_samples": 1000, "min_windows": 5, "max_windows": 12}
    return CanaryConfig(**{**base, **kw})  # type: ignore[arg-type]


def test_rollback_is_sticky_once_reached() -> None:
    state = CanaryState(refusal_config())
    verdicts = [state.update(*arms(2000, 100, 400)).verdict for _ in range(3)]
    assert verdicts == ["hold", "rollback", "rollback"]
    for _ in range(20):  # then the canary behaves exactly like the baseline
        v = state.update(*arms(2000, 100, 100))
    assert (v.verdict, v.reason, v.previous) == ("rollback", "critical_harm", "rollback")


def test_min_duration_is_respected_even_with_plenty_of_data() -> None:
    state = CanaryState(refusal_config())
    seen = [state.update(*arms(20000, 1000, 1000)) for _ in range(6)]
    assert [(v.verdict, v.reason) for v in seen[:4]] == [("hold", "insufficient_data")] * 4
    assert seen[3].comparisons[0].non_inferior  # the evidence was there before window 5
    assert (seen[4].verdict, seen[4].window) == ("promote", 5)


def test_sample_ratio_mismatch_holds_a_60_40_split_declared_50_50() -> None:
    state = CanaryState(refusal_config(max_windows=50))
    for _ in range(10):
        v = state.update(*arms(6000, 300, 200, n_c=4000))
    assert (v.verdict, v.reason) == ("hold", "sample_ratio_mismatch")
    assert v.srm.observed_share == pytest.approx(0.4)
    assert v.srm.e_value > 1e100
    assert v.comparisons[0].non_inferior  # it would have promoted otherwise
    balanced = CanaryState(refusal_config(max_windows=50))
    for _ in range(10):
        v = balanced.update(*arms(5000, 250, 250))
    assert (v.verdict, v.srm.mismatch) == ("promote", False)


def test_hard_stop_rolls_back_on_confirmed_leaks_without_statistics() -> None:
    state = CanaryState(refusal_config(pii_hard_stop=2))
    assert state.update(*arms(500, 25, 25), confirmed_pii_leaks=1).verdict == "hold"
    v = state.update(*arms(500, 25, 25), confirmed_pii_leaks=1)
    assert (v.verdict, v.reason, v.confirmed_pii_leaks) == ("rollback", "hard_stop_pii", 2)


def test_max_duration_holds_and_never_promotes_afterwards() -> None:
    # non-inferiority cannot be shown: the canary sits right at the margin
    state = CanaryState(refusal_config(max_windows=4, min_windows=1))
    for _ in range(6):
        v = state.update(*arms(1000, 100, 110))
    assert (v.verdict, v.reason, v.window) == ("hold", "max_duration_reached", 6)


def test_two_standard_harms_roll_back_but_one_does_not() -> None:
    specs = (MetricSpec("refusal", "rate", 0.02, 0.01), MetricSpec("error", "rate", 0.01, 0.005))
    state = CanaryState(CanaryConfig(metrics=specs, min_samples=1000, min_windows=2))
    one = [state.update(ArmWindow(2000, {"refusal": (100, 2000), "error": (20, 2000)}),
                        ArmWindow(2000, {"refusal": (400, 2000), "error": (20, 2000)}))
           for _ in range(6)]
    assert one[-1].harmful == ("refusal",)
    assert {v.verdict for v in one} == {"hold"}
    # the bet of a window is fixed before it (predictable plug-in): the first window of the
    # error jump only teaches the alternative, the second one is evidence
    worse = (ArmWindow(20000, {"refusal": (1000, 20000), "error": (200, 20000)}),
             ArmWindow(20000, {"refusal": (4000, 20000), "error": (2000, 20000)}))
    assert state.update(*worse).verdict == "hold"
    v = state.update(*worse)
    assert (v.verdict, v.reason, v.harmful) == ("rollback", "two_standard_harms",
                                                ("refusal", "error"))


def test_direction_minus_one_treats_a_drop_as_harm() -> None:
    spec = MetricSpec("answered", "rate", 0.02, 0.01, critical=True, direction=-1)
    state = CanaryState(CanaryConfig(metrics=(spec,), min_samples=100, min_windows=1))
    for _ in range(4):
        v = state.update(ArmWindow(2000, {"answered": (1800, 2000)}),
                         ArmWindow(2000, {"answered": (1500, 2000)}))
    c = v.comparisons[0]
    assert (c.estimate_baseline, c.estimate_canary) == (0.9, 0.75)
    assert c.difference == pytest.approx(0.15)
    assert v.verdict == "rollback"


def test_state_round_trips_through_json_and_continues_identically() -> None:
    cfg = CanaryConfig()
    rng = np.random.default_rng(2)

    def window() -> tuple[ArmWindow, ArmWindow]:
        out = []
        for p in (0.05, 0.07):
            out.append(ArmWindow(
                300, {m.name: (int(rng.binomial(300, p)), 300) for m in cfg.metrics
                      if m.kind == "rate"},
                {"latency_ms": log1p_stats(rng.lognormal(6, 0.5, 300)),
                 "output_tokens": log1p_stats(rng.lognormal(5, 0.7, 300))}))
        return out[0], out[1]

    state = CanaryState(cfg)
    for _ in range(4):
        state.update(*window())
    d = state.to_dict()
    text = json.dumps(d)
    copy = CanaryState.from_dict(json.loads(text))
    assert copy.to_dict() == d
    assert json.dumps(copy.to_dict()) == text
    nxt = window()
    assert copy.update(*nxt) == state.update(*nxt)
    assert copy.to_dict() == state.to_dict()


def test_comparison_reports_every_field_as_plain_values() -> None:
    state = CanaryState(refusal_config())
    state.update(*arms(2000, 100, 100))
    v = state.update(*arms(2000, 100, 160))
    c = v.comparisons[0]
    assert (c.n_baseline, c.n_canary, c.estimate_baseline, c.estimate_canary) == (
        4000, 4000, 0.05, 0.065)
    assert c.difference == pytest.approx(0.015)
    assert c.lower < c.difference < c.upper
    assert c.method == "two_sample_bernoulli_safe_e_process"
    assert c.alpha == 0.05  # one metric: the whole alpha
    assert 0.0 < c.p_harm <= 1.0 and c.e_harm > 0.0
    json.dumps(c.params)
