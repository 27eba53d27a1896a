"""Canary rollout gate: anytime-valid comparisons of a canary arm with its baseline.

A canary receives a declared share of traffic next to the running (baseline) model, and the
gate looks at both arms after every window: ``promote``, ``rollback`` or ``hold``. Looking
after every window is the point, so a fixed-sample test re-checked each window is not an
option (its false alarms add up over the looks; ``bench/canary.py`` measures by how much).
Every bound here is a *confidence sequence*: it covers the true difference at all looks at
once, with probability at least ``1 - alpha``, however many looks are taken and whenever the
rollout stops.

**Rates** (refusal, over-refusal, harmful output, PII in output, error, jailbreak success) are
compared with e-processes built from the exact two-sample Bernoulli safe test of Turner, Ly and
Grünwald (2024), extended from the null ``p_canary = p_baseline`` to the shifted nulls
``p_canary - p_baseline = delta``. In each window the bet is a product of Bernoulli likelihood
ratios: the alternative ``(theta_c, theta_b)`` is the estimate from the *previous* windows
(predictable plug-in), and the null point ``(pi + delta, pi)`` is its reverse information
projection, the ``pi`` at which ``w_c L_c(p) + w_b L_b(p)`` (``w`` the arms' shares of the
window's events, ``L(p)`` a single event's expected likelihood ratio under the null rate ``p``)
is flat in ``p``. That sum is then 1, so by Jensen's inequality the window's e-value has
expectation at most 1 under *every* null rate, exactly and for any window sizes chosen
independently of the outcomes (any numerical error in ``pi`` is charged to the e-value, so
validity does not depend on the root finder). The likelihood ratio is monotone in the counts,
so the e-process for ``delta`` also holds for the composite null ``difference <= delta`` (and
symmetrically ``>= delta``). The product over windows is a test supermartingale, and Ville's
inequality bounds the chance it ever reaches ``1 / alpha``. The confidence sequence is read off
a fixed grid of ``delta`` values (margins included): the lower bound is the largest grid point
that, with every grid point below it, is rejected; the upper bound likewise. Each bound is
one-sided at level ``alpha`` (together a ``1 - 2 alpha`` two-sided sequence), and conservative
by at most one grid step.

**Numeric metrics** (latency, output length) are compared on ``log1p`` values from per-arm
sufficient statistics ``(n, sum, sum of squares)``. The difference of means is bounded with
Robbins' one-sided normal-mixture boundary (Howard et al. 2021, Prop. 6 style) on the
standardized score process, with the variances replaced by their estimates: this is an
*asymptotic* confidence sequence (Waudby-Smith et al. 2024), exact when ``log1p`` values are
Gaussian with known variances, and a large-sample approximation otherwise. Each bound is
one-sided at level ``alpha`` (the mixture is over positive slopes only).

**Sample-ratio mismatch** is a beta-binomial mixture Bayes factor of the arms' event counts
against the declared split (the two-arm case of Lindon and Malek 2022), an exact test
martingale under correct assignment.

:func:`decide` turns the comparisons into a verdict, with the total ``alpha`` split evenly
over the metrics (Bonferroni), so the chance of any false rollback over the whole rollout, and
separately of any false promotion, is at most ``alpha``. The ``confirmed_pii_leaks`` hard stop
is a policy rule outside that budget: it rolls back on ``k`` confirmed leaks whatever the
baseline does, so feed it leaks confirmed by review, not the raw PII flag.

Examples
--------
>>> cfg = CanaryConfig(metrics=(MetricSpec("refusal", "rate", harm_margin=0.02,
...                                        ni_margin=0.01, critical=True),),
...                    min_samples=400, min_windows=2)
>>> state = CanaryState(cfg)
>>> rng = np.random.default_rng(7)
>>> for _ in range(6):
...     b = ArmWindow(events=200, rates={"refusal": (int(rng.binomial(200, 0.10)), 200)})
...     c = ArmWindow(events=200, rates={"refusal": (int(rng.binomial(200, 0.25)), 200)})
...     v = state.update(b, c)
...     print(v.window, v.verdict, v.reason)
1 hold insufficient_data
2 hold inconclusive
3 hold inconclusive
4 rollback critical_harm
5 rollback critical_harm
6 rollback critical_harm
>>> r = v.comparisons[0]
>>> r.n_baseline, r.n_canary, round(r.difference, 4), round(r.lower, 4), round(r.upper, 4)
(1200, 1200, 0.135, 0.0715, 0.1915)
>>> CanaryState.from_dict(json.loads(json.dumps(state.to_dict()))).to_dict() == state.to_dict()
True

References
----------
Turner, R. J., Ly, A. and Grünwald, P. D. (2024). Generic E-variables for exact sequential
k-sample tests that allow for optional stopping. Statistics & Probability Letters 110, 109967.
Grünwald, P., de Heide, R. and Koolen, W. (2024). Safe testing. JRSS B 86(5).
Howard, S. R., Ramdas, A., McAuliffe, J. and Sekhon, J. (2021). Time-uniform, nonparametric,
nonasymptotic confidence sequences. Annals of Statistics 49(2).
Waudby-Smith, I., Arbour, D., Sinha, R., Kennedy, E. H. and Ramdas, A. (2024). Time-uniform
central limit theory and asymptotic confidence sequences. Annals of Statistics 52(6).
Lindon, M. and Malek, A. (2022). Anytime-valid inference for multinomial count data. NeurIPS.
Ville, J. (1939). Étude critique de la notion de collectif.

"""

from __future__ import annotations

import json  # noqa: F401  (used by the doctest)
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy import special

__all__ = [
    "DEFAULT_METRICS",
    "ArmWindow",
    "CanaryConfig",
    "CanaryState",
    "CanaryVerdict",
    "Comparison",
    "MetricSpec",
    "NumericComparison",
    "RateComparison",
    "SrmCheck",
    "decide",
    "log1p_stats",
    "log_mean_bounds",
    "lower_from_grid",
    "mixture_boundary",
    "plug_in",
    "rate_grid",
    "rate_log_e_increment",
    "run_gate",
    "simulate_windows",
    "srm_check",
    "upper_from_grid",
]

Kind = Literal["rate", "log_mean"]
VERDICTS = ("promote", "rollback", "hold")

_GRID_BASE = np.geomspace(1e-4, 0.99, 57)
_EPS = 1e-12


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class MetricSpec:
    """One compared metric.

    Parameters
    ----------
    name
        Metric name, e.g. ``refusal`` or ``latency_ms``.
    kind
        ``rate`` (Bernoulli counts) or ``log_mean`` (mean of ``log1p`` values).
    harm_margin
        Roll back when the canary is shown worse by more than this: the lower bound of the
        harm-oriented difference reaches it. Rates: absolute difference of proportions;
        ``log_mean``: difference of ``log1p`` means (0.1 is about 10 % slower).
    ni_margin
        Non-inferiority margin: the metric passes when the upper bound is at most this.
        Must not exceed ``harm_margin``.
    critical
        A critical metric shown harmful rolls back on its own; standard metrics need two.
    direction
        ``+1`` when higher is worse (every default metric), ``-1`` when lower is worse.

    """

    name: str
    kind: Kind
    harm_margin: float
    ni_margin: float
    critical: bool = False
    direction: int = 1

    def __post_init__(self) -> None:
        if self.kind not in ("rate", "log_mean"):
            raise ValueError(f"kind must be 'rate' or 'log_mean', got {self.kind!r}")
        if self.direction not in (1, -1):
            raise ValueError(f"direction must be +1 or -1, got {self.direction}")
        if self.ni_margin > self.harm_margin:
            raise ValueError(f"{self.name}: ni_margin {self.ni_margin} exceeds harm_margin "
                             f"{self.harm_margin}")
        if self.kind == "rate" and not -0.9 < self.ni_margin <= self.harm_margin < 0.9:
            raise ValueError(f"{self.name}: rate margins must lie in (-0.9, 0.9)")


DEFAULT_METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("refusal", "rate", harm_margin=0.02, ni_margin=0.01),
    MetricSpec("over_refusal", "rate", harm_margin=0.02, ni_margin=0.01),
    MetricSpec("harmful_output", "rate", harm_margin=0.005, ni_margin=0.0025),
    MetricSpec("pii_output", "rate", harm_margin=0.001, ni_margin=0.0005, critical=True),
    MetricSpec("error", "rate", harm_margin=0.01, ni_margin=0.005),
    MetricSpec("jailbreak_success", "rate", harm_margin=0.01, ni_margin=0.005, critical=True),
    MetricSpec("latency_ms", "log_mean", harm_margin=0.10, ni_margin=0.05),
    MetricSpec("output_tokens", "log_mean", harm_margin=0.20, ni_margin=0.10),
)


@dataclass(frozen=True)
class CanaryConfig:
    """Parameters of the gate.

    Parameters
    ----------
    metrics
        The compared metrics (:data:`DEFAULT_METRICS`: six rates, PII in output and jailbreak
        success critical; latency and output tokens on the log scale).
    alpha
        Total error budget (0.05), split evenly over the metrics: each metric's lower and
        upper bound is one-sided at ``alpha / len(metrics)``.
    min_samples
        Events per arm before ``promote`` (2,000).
    min_windows, max_windows
        Windows before ``promote`` (10); after ``max_windows`` (50) without a promotion the
        gate holds with ``max_duration_reached`` and never promotes on its own.
    canary_share
        Declared share of traffic routed to the canary (0.5).
    srm_alpha
        Level of the sample-ratio-mismatch test (0.001), outside ``alpha`` (it only holds).
    srm_concentration
        Concentration ``k`` of the beta prior ``Beta(k s, k (1 - s))`` around the declared
        share ``s`` in the SRM mixture (100).
    pii_hard_stop
        Confirmed PII leaks in the canary that roll back without statistics (1). 0 disables.
    mixture_rho
        Prior precision of the numeric normal mixture, in effective events (100): the
        boundary is tightest near a few hundred effective events.

    """

    metrics: tuple[MetricSpec, ...] = DEFAULT_METRICS
    alpha: float = 0.05
    min_samples: int = 2000
    min_windows: int = 10
    max_windows: int = 50
    canary_share: float = 0.5
    srm_alpha: float = 0.001
    srm_concentration: float = 100.0
    pii_hard_stop: int = 1
    mixture_rho: float = 100.0

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha < 1.0 or not 0.0 < self.srm_alpha < 1.0:
            raise ValueError("alpha and srm_alpha must lie in (0, 1)")
        if not 0.0 < self.canary_share < 1.0:
            raise ValueError("canary_share must lie in (0, 1)")
        names = [m.name for m in self.metrics]
        if not names or len(set(names)) != len(names):
            raise ValueError(f"metric names must be non-empty and unique, got {names}")

    @property
    def alpha_per_metric(self) -> float:
        """Each metric's one-sided level: ``alpha / len(metrics)`` (Bonferroni)."""
        return self.alpha / len(self.metrics)

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "metrics"}
        d["metrics"] = [dict(vars(m)) for m in self.metrics]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CanaryConfig:
        d = dict(d)
        d["metrics"] = tuple(MetricSpec(**m) for m in d["metrics"])
        return cls(**d)


@dataclass(frozen=True)
class ArmWindow:
    """One arm's counts in one window.

    Parameters
    ----------
    events
        Events routed to the arm (the SRM check compares these).
    rates
        Rate metric -> ``(flagged, denominator)``; the denominator may be smaller than
        ``events`` (over-refusal counts only benign prompts).
    numeric
        ``log_mean`` metric -> ``(n, sum, sum of squares)`` of ``log1p`` values
        (:func:`log1p_stats`).

    """

    events: int
    rates: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    numeric: Mapping[str, tuple[int, float, float]] = field(default_factory=dict)


def log1p_stats(values: Sequence[float] | np.ndarray) -> tuple[int, float, float]:
    """Sufficient statistics ``(n, sum, sum of squares)`` of ``log1p(values)``.

    >>> n, s, ss = log1p_stats([0.0, math.e - 1.0])
    >>> n, round(s, 12), round(ss, 12)
    (2, 1.0, 1.0)
    """
    v = np.log1p(np.asarray(values, dtype=float))
    return int(v.size), float(v.sum()), float((v * v).sum())


# --------------------------------------------------------------------------- result records


@dataclass(frozen=True)
class Comparison:
    """State of one metric's comparison at the current look (all fields JSON types).

    ``difference``, ``lower`` and ``upper`` are harm-oriented: canary minus baseline,
    multiplied by ``direction``, so positive is worse. ``lower`` is a one-sided
    ``1 - alpha`` anytime lower bound, ``upper`` an upper one. ``e_harm`` is the current
    e-value against "difference <= harm_margin", ``e_noninferior`` against
    "difference >= ni_margin"; the ``p_*`` are anytime-valid p-values (1 / running maximum
    of the e-value).
    """

    metric: str
    kind: str
    direction: int
    n_baseline: int
    n_canary: int
    estimate_baseline: float
    estimate_canary: float
    difference: float
    lower: float
    upper: float
    alpha: float
    harm_margin: float
    ni_margin: float
    e_harm: float
    e_noninferior: float
    p_harm: float
    p_noninferior: float
    method: str
    params: dict[str, Any]

    @property
    def harmful(self) -> bool:
        """Shown worse beyond the harm margin (lower bound at or above it)."""
        return self.lower >= self.harm_margin

    @property
    def non_inferior(self) -> bool:
        """Shown within the non-inferiority margin (upper bound at or below it)."""
        return self.upper <= self.ni_margin


@dataclass(frozen=True)
class SrmCheck:
    """Sample-ratio-mismatch test of the arms' event counts against the declared split."""

    n_baseline: int
    n_canary: int
    declared_share: float
    observed_share: float
    e_value: float
    alpha: float
    mismatch: bool
    method: str = "beta_binomial_mixture"


@dataclass(frozen=True)
class CanaryVerdict:
    """The gate's decision at one look, with everything it was based on."""

    verdict: str
    reason: str
    previous: str | None
    window: int
    n_baseline: int
    n_canary: int
    harmful: tuple[str, ...]
    non_inferior: tuple[str, ...]
    srm: SrmCheck
    confirmed_pii_leaks: int
    alpha: float
    alpha_per_metric: float
    comparisons: tuple[Comparison, ...]


# --------------------------------------------------------------------------- rate e-process


def rate_grid(margins: Sequence[float] = ()) -> np.ndarray:
    """The fixed grid of differences on which a rate comparison keeps its e-processes:
    0, ``±geomspace(1e-4, 0.99, 57)`` and the given margins.

    >>> g = rate_grid([0.02, 0.01])
    >>> len(g), float(g[0]), float(g[-1]), 0.02 in g, 0.0 in g
    (117, -0.99, 0.99, True, True)
    """
    pts = np.concatenate([-_GRID_BASE, [0.0], _GRID_BASE, np.asarray(margins, dtype=float)])
    return np.unique(pts)


def _null_rate(theta_c: np.ndarray, theta_b: np.ndarray, w_c: np.ndarray,
               delta: np.ndarray) -> np.ndarray:
    """Baseline rate ``pi`` of the null point ``(pi + delta, pi)`` closest (RIPr) to the
    alternative: the root of ``h(pi) = w_c (theta_c - q_c)/v(q_c) + w_b (theta_b - pi)/v(pi)``
    with ``q_c = pi + delta``, ``v(q) = q (1 - q)``. ``h`` is strictly decreasing on the
    feasible interval, so it has one root there, which is also the only root there of the
    cubic ``h v(q_c) v(pi)`` (no poles); safeguarded Newton steps on that cubic, on arrays."""
    w_b = 1.0 - w_c
    lo = np.maximum(0.0, -delta) + _EPS
    hi = np.minimum(1.0, 1.0 - delta) - _EPS
    lo, hi = np.broadcast_arrays(lo, hi)
    lo, hi = lo.copy(), hi.copy()
    # start from the root with both variances frozen at the alternative's
    a_c, a_b = w_c / (theta_c * (1 - theta_c)), w_b / (theta_b * (1 - theta_b))
    pi = np.clip((a_c * (theta_c - delta) + a_b * theta_b) / (a_c + a_b), lo, hi)
    for _ in range(100):
        q_c = pi + delta
        v_c, v_b = q_c * (1 - q_c), pi * (1 - pi)
        r_c, r_b = w_c * (theta_c - q_c), w_b * (theta_b - pi)
        f = r_c * v_b + r_b * v_c
        df = -w_c * v_b + r_c * (1 - 2 * pi) - w_b * v_c + r_b * (1 - 2 * q_c)
        lo = np.where(f > 0, pi, lo)
        hi = np.where(f < 0, pi, hi)
        step = pi - f / np.where(df == 0, -1e-300, df)
        new = np.where((step >= lo) & (step <= hi), step, 0.5 * (lo + hi))
        done = np.max(np.abs(new - pi)) <= 1e-14
        pi = new
        if done:
            break
    return pi


def rate_log_e_increment(x_c: Any, n_c: Any, x_b: Any, n_b: Any,
                         theta_c: Any, theta_b: Any, delta: Any, side: int) -> np.ndarray:
    """Log e-value of one window for the null "difference <= delta" (``side=+1``) or
    ">= delta" (``side=-1``), difference = canary rate - baseline rate.

    Arguments broadcast (the gate passes one window and the whole grid; simulations pass a
    batch of rollouts). ``theta_c``, ``theta_b`` are the alternative rates, fixed before the
    window's outcomes are seen. The window bets only when the alternative lies on the
    rejecting side of ``delta``; otherwise its e-value is 1. Any residual slope of the
    projection is charged, so ``E[exp(result)] <= 1`` under every null rate exactly.

    Examples
    --------
    One window, 30/100 flagged in the canary and 10/100 in the baseline, alternative
    (0.3, 0.1), null "difference <= 0": the null point is (0.2, 0.2) and the e-value is
    ``(0.3/0.2)^30 (0.7/0.8)^70 (0.1/0.2)^10 (0.9/0.8)^90``.

    >>> float(np.exp(rate_log_e_increment(30, 100, 10, 100, 0.3, 0.1, 0.0, 1))).__round__(4)
    655.7353
    """
    x_c, n_c, x_b, n_b = (np.asarray(a, dtype=float) for a in (x_c, n_c, x_b, n_b))
    theta_c, theta_b, delta = (np.asarray(a, dtype=float) for a in (theta_c, theta_b, delta))
    n = n_c + n_b
    w_c = np.where(n > 0, n_c / np.maximum(n, 1.0), 0.5)
    pi = _null_rate(theta_c, theta_b, w_c, delta)
    q_c, q_b = pi + delta, pi
    lr_c1, lr_c0 = theta_c / q_c, (1 - theta_c) / (1 - q_c)
    lr_b1, lr_b0 = theta_b / q_b, (1 - theta_b) / (1 - q_b)
    log_e = (x_c * np.log(lr_c1) + (n_c - x_c) * np.log(lr_c0)
             + x_b * np.log(lr_b1) + (n_b - x_b) * np.log(lr_b0))
    # A(p) = w_c L_c(p) + w_b L_b(p) is linear in the null baseline rate p; it is 1 at the
    # exact root. Charge max(1, max_p A) per event so the bound never rests on the solver.
    p_lo, p_hi = np.maximum(0.0, -delta), np.minimum(1.0, 1.0 - delta)

    def a_of(p: np.ndarray) -> np.ndarray:
        pc = p + delta
        return (w_c * (pc * lr_c1 + (1 - pc) * lr_c0)
                + (1 - w_c) * (p * lr_b1 + (1 - p) * lr_b0))

    slack = np.log(np.maximum(1.0, np.maximum(a_of(p_lo), a_of(p_hi))))
    log_e = log_e - n * slack
    bets = (side * (theta_c - theta_b - delta) > 0) & (n_c > 0) & (n_b > 0)
    return np.where(bets, log_e, 0.0)


def plug_in(x: Any, n: Any) -> np.ndarray:
    """The alternative rate from counts seen so far: ``(x + 0.5) / (n + 1)``."""
    return (np.asarray(x, dtype=float) + 0.5) / (np.asarray(n, dtype=float) + 1.0)


def lower_from_grid(grid: np.ndarray, log_e: np.ndarray, log_threshold: float) -> np.ndarray:
    """Largest grid point that is rejected together with every grid point below it
    (``-1`` when the smallest is not rejected); works along the last axis.

    >>> lower_from_grid(np.array([-0.5, 0.0, 0.1, 0.2]), np.array([9.0, 9.0, 1.0, 9.0]), 3.0)
    array(0.)
    """
    rejected = log_e >= log_threshold
    run = np.logical_and.accumulate(rejected, axis=-1).sum(axis=-1)
    return np.where(run > 0, grid[np.maximum(run - 1, 0)], -1.0)


def upper_from_grid(grid: np.ndarray, log_e: np.ndarray, log_threshold: float) -> np.ndarray:
    """Smallest grid point rejected together with every grid point above it (``+1`` when
    the largest is not rejected).

    >>> upper_from_grid(np.array([-0.5, 0.0, 0.1, 0.2]), np.array([9.0, 1.0, 9.0, 9.0]), 3.0)
    array(0.1)
    """
    rejected = (log_e >= log_threshold)[..., ::-1]
    run = np.logical_and.accumulate(rejected, axis=-1).sum(axis=-1)
    return np.where(run > 0, grid[::-1][np.maximum(run - 1, 0)], 1.0)


@dataclass
class RateComparison:
    """Cumulative state of one rate metric: counts per arm and two e-processes per grid point.

    ``update`` takes one window's counts (harm-oriented: for ``direction = -1`` pass the
    counts as they are, the flip happens here). ``log_e_harm[i]`` is the log e-process
    against "difference <= grid[i]", ``log_e_ni[i]`` against ">= grid[i]".
    """

    spec: MetricSpec
    alpha: float
    grid: np.ndarray = field(default_factory=lambda: np.zeros(0))
    x_b: int = 0
    n_b: int = 0
    x_c: int = 0
    n_c: int = 0
    log_e_harm: np.ndarray = field(default_factory=lambda: np.zeros(0))
    log_e_ni: np.ndarray = field(default_factory=lambda: np.zeros(0))
    max_log_e_harm: float = 0.0
    max_log_e_ni: float = 0.0

    def __post_init__(self) -> None:
        if self.grid.size == 0:
            self.grid = rate_grid([self.spec.harm_margin, self.spec.ni_margin])
            self.log_e_harm = np.zeros_like(self.grid)
            self.log_e_ni = np.zeros_like(self.grid)
        self._i_harm = int(np.searchsorted(self.grid, self.spec.harm_margin))
        self._i_ni = int(np.searchsorted(self.grid, self.spec.ni_margin))

    def update(self, x_b: int, n_b: int, x_c: int, n_c: int) -> None:
        """Add one window: ``x`` flagged of ``n`` per arm."""
        for name, x, n in (("baseline", x_b, n_b), ("canary", x_c, n_c)):
            if n < 0 or not 0 <= x <= n:
                raise ValueError(f"{self.spec.name} {name}: need 0 <= x <= n, got {x}/{n}")
        if self.spec.direction == -1:
            x_b, x_c = n_b - x_b, n_c - x_c
        if self.n_b > 0 and self.n_c > 0:  # the first window only learns the alternative
            th_c, th_b = plug_in(self.x_c, self.n_c), plug_in(self.x_b, self.n_b)
            self.log_e_harm = self.log_e_harm + rate_log_e_increment(
                x_c, n_c, x_b, n_b, th_c, th_b, self.grid, +1)
            self.log_e_ni = self.log_e_ni + rate_log_e_increment(
                x_c, n_c, x_b, n_b, th_c, th_b, self.grid, -1)
            self.max_log_e_harm = max(self.max_log_e_harm, float(self.log_e_harm[self._i_harm]))
            self.max_log_e_ni = max(self.max_log_e_ni, float(self.log_e_ni[self._i_ni]))
        self.x_b, self.n_b = self.x_b + x_b, self.n_b + n_b
        self.x_c, self.n_c = self.x_c + x_c, self.n_c + n_c

    def result(self) -> Comparison:
        """The comparison at the current look."""
        s, t = self.spec, math.log(1.0 / self.alpha)
        rb = self.x_b / self.n_b if self.n_b else math.nan
        rc = self.x_c / self.n_c if self.n_c else math.nan
        # estimates are reported on the original scale, the difference harm-oriented
        est_b, est_c = (rb, rc) if s.direction == 1 else (1 - rb, 1 - rc)
        return Comparison(
            metric=s.name, kind=s.kind, direction=s.direction,
            n_baseline=self.n_b, n_canary=self.n_c,
            estimate_baseline=est_b, estimate_canary=est_c,
            difference=rc - rb if self.n_b and self.n_c else math.nan,
            lower=float(lower_from_grid(self.grid, self.log_e_harm, t)),
            upper=float(upper_from_grid(self.grid, self.log_e_ni, t)),
            alpha=self.alpha, harm_margin=s.harm_margin, ni_margin=s.ni_margin,
            e_harm=float(np.exp(min(self.log_e_harm[self._i_harm], 700.0))),
            e_noninferior=float(np.exp(min(self.log_e_ni[self._i_ni], 700.0))),
            p_harm=min(1.0, math.exp(-self.max_log_e_harm)),
            p_noninferior=min(1.0, math.exp(-self.max_log_e_ni)),
            method="two_sample_bernoulli_safe_e_process",
            params={"plug_in": "(x + 0.5) / (n + 1) of previous windows",
                    "grid_points": int(self.grid.size), "one_sided_alpha": self.alpha},
        )

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "rate", "x_b": self.x_b, "n_b": self.n_b, "x_c": self.x_c,
                "n_c": self.n_c, "grid": self.grid.tolist(),
                "log_e_harm": self.log_e_harm.tolist(), "log_e_ni": self.log_e_ni.tolist(),
                "max_log_e_harm": self.max_log_e_harm, "max_log_e_ni": self.max_log_e_ni}

    @classmethod
    def from_dict(cls, spec: MetricSpec, alpha: float, d: Mapping[str, Any]) -> RateComparison:
        return cls(spec, alpha, grid=np.asarray(d["grid"], dtype=float), x_b=d["x_b"],
                   n_b=d["n_b"], x_c=d["x_c"], n_c=d["n_c"],
                   log_e_harm=np.asarray(d["log_e_harm"], dtype=float),
                   log_e_ni=np.asarray(d["log_e_ni"], dtype=float),
                   max_log_e_harm=d["max_log_e_harm"], max_log_e_ni=d["max_log_e_ni"])


# --------------------------------------------------------------------------- numeric metrics


def _log_mixture(w: np.ndarray, t: np.ndarray, rho: float) -> np.ndarray:
    """Log of the one-sided normal mixture ``2 sqrt(rho/(t+rho)) exp(w^2/(2(t+rho)))
    Phi(w/sqrt(t+rho))`` for a standard Brownian motion at ``w``, time ``t``."""
    return (math.log(2.0) + 0.5 * np.log(rho / (t + rho)) + w * w / (2 * (t + rho))
            + special.log_ndtr(w / np.sqrt(t + rho)))


def mixture_boundary(t: Any, alpha: float, rho: float) -> np.ndarray:
    """Smallest ``w`` at which the one-sided normal mixture at time ``t`` reaches
    ``1 / alpha`` (the curve a standardized sum must cross to reject), by bisection.

    >>> round(float(mixture_boundary(100.0, 0.05, 100.0)), 4)
    32.6175
    """
    t = np.asarray(t, dtype=float)
    target = math.log(1.0 / alpha)
    lo, hi = np.zeros_like(t), np.sqrt((t + rho) * (2 * target + np.log1p(t / rho) + 2)) + 1
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        up = _log_mixture(mid, t, rho) >= target
        hi, lo = np.where(up, mid, hi), np.where(up, lo, mid)
    return hi


def log_mean_bounds(n_b: Any, s_b: Any, ss_b: Any, n_c: Any, s_c: Any, ss_c: Any,
                    alpha: float, rho: float, harm_margin: float = 0.0,
                    ni_margin: float = 0.0) -> dict[str, np.ndarray]:
    """Difference of means (canary - baseline) with one-sided anytime bounds, from
    ``(n, sum, sum of squares)`` per arm; broadcasts over arrays.

    The score ``S = (D_hat - D) / V``, ``V = s_c^2/n_c + s_b^2/n_b``, is a Brownian motion in
    the information ``1/V`` for Gaussian data. Measured in units of the pooled variance
    ``s^2`` it runs on the effective sample size ``t = s^2 / V``, and the bound is
    ``D_hat -/+ b(t) s / t`` with ``b`` the one-sided normal-mixture boundary
    (:func:`mixture_boundary`). Each arm needs 2 events; a variance floor of 1e-12 keeps
    constant data finite. Also returns the current e-values against
    ``D <= harm_margin`` and ``D >= ni_margin``.

    >>> b = log_mean_bounds(100, 100.0, 200.0, 100, 110.0, 231.0, alpha=0.05, rho=100.0)
    >>> round(float(b["difference"]), 4), round(float(b["lower"]), 4)
    (0.1, -0.4661)
    """
    n_b, s_b, ss_b, n_c, s_c, ss_c = (np.asarray(a, dtype=float)
                                      for a in (n_b, s_b, ss_b, n_c, s_c, ss_c))
    ok = (n_b >= 2) & (n_c >= 2)
    nb, nc = np.maximum(n_b, 2.0), np.maximum(n_c, 2.0)
    m_b, m_c = s_b / nb, s_c / nc
    var_b = np.maximum((ss_b - nb * m_b * m_b) / (nb - 1), 1e-12)
    var_c = np.maximum((ss_c - nc * m_c * m_c) / (nc - 1), 1e-12)
    v = var_b / nb + var_c / nc
    pooled = ((nb - 1) * var_b + (nc - 1) * var_c) / (nb + nc - 2)
    t = pooled / v
    sd = np.sqrt(pooled)
    d = m_c - m_b
    half = mixture_boundary(t, alpha, rho) * sd / t
    log_e_harm = np.where(d > harm_margin, _log_mixture((d - harm_margin) * t / sd, t, rho), 0.0)
    log_e_ni = np.where(d < ni_margin, _log_mixture((ni_margin - d) * t / sd, t, rho), 0.0)
    return {
        "mean_baseline": np.where(n_b > 0, s_b / np.maximum(n_b, 1), np.nan),
        "mean_canary": np.where(n_c > 0, s_c / np.maximum(n_c, 1), np.nan),
        "difference": np.where(ok, d, np.nan),
        "lower": np.where(ok, d - half, -np.inf),
        "upper": np.where(ok, d + half, np.inf),
        "log_e_harm": np.where(ok, np.maximum(log_e_harm, 0.0), 0.0),
        "log_e_ni": np.where(ok, np.maximum(log_e_ni, 0.0), 0.0),
        "effective_n": np.where(ok, t, 0.0),
    }


@dataclass
class NumericComparison:
    """Cumulative ``(n, sum, sum of squares)`` of ``log1p`` values per arm, harm-oriented
    (for ``direction = -1`` the sums are negated on the way in)."""

    spec: MetricSpec
    alpha: float
    rho: float
    stats_b: list[float] = field(default_factory=lambda: [0, 0.0, 0.0])
    stats_c: list[float] = field(default_factory=lambda: [0, 0.0, 0.0])
    max_log_e_harm: float = 0.0
    max_log_e_ni: float = 0.0

    def update(self, b: tuple[int, float, float], c: tuple[int, float, float]) -> None:
        """Add one window's sufficient statistics per arm."""
        sign = float(self.spec.direction)
        for acc, (n, s, ss) in ((self.stats_b, b), (self.stats_c, c)):
            if n < 0 or ss < 0:
                raise ValueError(f"{self.spec.name}: bad sufficient statistics {(n, s, ss)}")
            acc[0], acc[1], acc[2] = int(acc[0] + n), acc[1] + sign * s, acc[2] + ss
        r = self._bounds()
        self.max_log_e_harm = max(self.max_log_e_harm, float(r["log_e_harm"]))
        self.max_log_e_ni = max(self.max_log_e_ni, float(r["log_e_ni"]))

    def _bounds(self) -> dict[str, np.ndarray]:
        return log_mean_bounds(*self.stats_b, *self.stats_c, alpha=self.alpha, rho=self.rho,
                               harm_margin=self.spec.harm_margin, ni_margin=self.spec.ni_margin)

    def result(self) -> Comparison:
        s, r = self.spec, self._bounds()
        sign = s.direction
        return Comparison(
            metric=s.name, kind=s.kind, direction=sign,
            n_baseline=int(self.stats_b[0]), n_canary=int(self.stats_c[0]),
            estimate_baseline=sign * float(r["mean_baseline"]),
            estimate_canary=sign * float(r["mean_canary"]),
            difference=float(r["difference"]), lower=float(r["lower"]),
            upper=float(r["upper"]), alpha=self.alpha,
            harm_margin=s.harm_margin, ni_margin=s.ni_margin,
            e_harm=float(np.exp(min(float(r["log_e_harm"]), 700.0))),
            e_noninferior=float(np.exp(min(float(r["log_e_ni"]), 700.0))),
            p_harm=min(1.0, math.exp(-self.max_log_e_harm)),
            p_noninferior=min(1.0, math.exp(-self.max_log_e_ni)),
            method="one_sided_normal_mixture_asymptotic_cs",
            params={"rho": self.rho, "scale": "log1p", "one_sided_alpha": self.alpha,
                    "effective_n": float(r["effective_n"]),
                    "assumption": "log1p values Gaussian; variances estimated (asymptotic)"},
        )

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "log_mean", "stats_b": list(self.stats_b), "stats_c": list(self.stats_c),
                "max_log_e_harm": self.max_log_e_harm, "max_log_e_ni": self.max_log_e_ni}

    @classmethod
    def from_dict(cls, spec: MetricSpec, alpha: float, rho: float,
                  d: Mapping[str, Any]) -> NumericComparison:
        return cls(spec, alpha, rho, stats_b=list(d["stats_b"]), stats_c=list(d["stats_c"]),
                   max_log_e_harm=d["max_log_e_harm"], max_log_e_ni=d["max_log_e_ni"])


# --------------------------------------------------------------------------- SRM


def srm_check(n_baseline: int, n_canary: int, canary_share: float = 0.5,
              alpha: float = 0.001, concentration: float = 100.0) -> SrmCheck:
    """Anytime-valid sample-ratio-mismatch test: the Bayes factor of a
    ``Beta(k s, k (1 - s))`` mixture over the canary share against the declared share ``s``,

    ``E = B(k s + n_c, k (1 - s) + n_b) / B(k s, k (1 - s)) / (s^n_c (1 - s)^n_b)``,

    a test martingale while events are routed independently with probability ``s``
    (Lindon and Malek 2022, two arms). Mismatch when ``E >= 1 / alpha``.

    >>> c = srm_check(6000, 4000)
    >>> c.mismatch, round(c.observed_share, 2), c.e_value > 1e30
    (True, 0.4, True)
    >>> srm_check(5020, 4980).mismatch
    False
    """
    s, k = canary_share, concentration
    a, b = k * s, k * (1 - s)
    log_e = (special.betaln(a + n_canary, b + n_baseline) - special.betaln(a, b)
             - n_canary * math.log(s) - n_baseline * math.log(1 - s))
    n = n_baseline + n_canary
    return SrmCheck(n_baseline=n_baseline, n_canary=n_canary, declared_share=s,
                    observed_share=n_canary / n if n else math.nan,
                    e_value=float(math.exp(min(log_e, 700.0))), alpha=alpha,
                    mismatch=bool(log_e >= math.log(1.0 / alpha)))


# --------------------------------------------------------------------------- verdict


def decide(comparisons: Sequence[Comparison], srm: SrmCheck, config: CanaryConfig,
           window: int, confirmed_pii_leaks: int = 0, previous: str | None = None,
           previous_reason: str | None = None) -> CanaryVerdict:
    """The gate's verdict at one look, in this order:

    1. ``rollback`` if the previous verdict was ``rollback`` (sticky, same reason);
    2. ``rollback`` / ``hard_stop_pii`` when ``confirmed_pii_leaks >= pii_hard_stop``;
    3. ``rollback`` / ``critical_harm`` when a critical metric, or ``two_standard_harms`` when
       two standard metrics, have their lower bound at or above the harm margin (rollback is
       the safe action, so a sample-ratio mismatch does not block it);
    4. ``hold`` / ``sample_ratio_mismatch`` when the SRM test rejects;
    5. ``promote`` / ``non_inferior`` when both arms have ``min_samples`` events,
       ``min_windows <= window <= max_windows`` and every metric's upper bound is at or below
       its non-inferiority margin;
    6. ``hold`` / ``max_duration_reached`` from ``max_windows`` on (never an automatic
       promotion after that), ``insufficient_data`` before the minimums, else ``inconclusive``.

    ``n_baseline`` / ``n_canary`` are the arms' event counts (the SRM counts).

    >>> cfg = CanaryConfig(metrics=(MetricSpec("refusal", "rate", 0.02, 0.01, critical=True),))
    >>> ok = Comparison("refusal", "rate", 1, 3000, 3000, 0.1, 0.1, 0.0, -0.01, 0.008, 0.05,
    ...                 0.02, 0.01, 1.0, 30.0, 1.0, 0.03, "m", {})
    >>> srm = srm_check(3000, 3000)
    >>> decide([ok], srm, cfg, window=12).verdict
    'promote'
    >>> v = decide([ok], srm, cfg, window=12, previous="rollback", previous_reason="critical_harm")
    >>> v.verdict, v.reason
    ('rollback', 'critical_harm')
    >>> decide([ok], srm, cfg, window=51).reason
    'max_duration_reached'
    """
    specs = {m.name: m for m in config.metrics}
    harmful = tuple(c.metric for c in comparisons if c.harmful)
    non_inferior = tuple(c.metric for c in comparisons if c.non_inferior)
    n_b, n_c = srm.n_baseline, srm.n_canary
    n_critical = sum(specs[m].critical for m in harmful if m in specs)
    n_standard = len(harmful) - n_critical

    if previous == "rollback":
        verdict, reason = "rollback", previous_reason or "sticky"
    elif config.pii_hard_stop > 0 and confirmed_pii_leaks >= config.pii_hard_stop:
        verdict, reason = "rollback", "hard_stop_pii"
    elif n_critical >= 1:
        verdict, reason = "rollback", "critical_harm"
    elif n_standard >= 2:
        verdict, reason = "rollback", "two_standard_harms"
    elif srm.mismatch:
        verdict, reason = "hold", "sample_ratio_mismatch"
    elif window > config.max_windows:
        verdict, reason = "hold", "max_duration_reached"
    elif min(n_b, n_c) < config.min_samples or window < config.min_windows:
        verdict, reason = "hold", "insufficient_data"
    elif set(non_inferior) >= set(specs) and len(comparisons) >= len(specs):
        verdict, reason = "promote", "non_inferior"
    elif window >= config.max_windows:
        verdict, reason = "hold", "max_duration_reached"
    else:
        verdict, reason = "hold", "inconclusive"
    return CanaryVerdict(
        verdict=verdict, reason=reason, previous=previous, window=window,
        n_baseline=n_b, n_canary=n_c, harmful=harmful, non_inferior=non_inferior, srm=srm,
        confirmed_pii_leaks=confirmed_pii_leaks, alpha=config.alpha,
        alpha_per_metric=config.alpha_per_metric, comparisons=tuple(comparisons))


# --------------------------------------------------------------------------- state


class CanaryState:
    """Everything the gate remembers across windows; serialisable with :meth:`to_dict`.

    Parameters
    ----------
    config
        The gate's configuration.

    """

    def __init__(self, config: CanaryConfig | None = None) -> None:
        self.config = config or CanaryConfig()
        a, rho = self.config.alpha_per_metric, self.config.mixture_rho
        self.comparisons: dict[str, RateComparison | NumericComparison] = {
            m.name: RateComparison(m, a) if m.kind == "rate" else NumericComparison(m, a, rho)
            for m in self.config.metrics}
        self.events_b = 0
        self.events_c = 0
        self.confirmed_pii_leaks = 0
        self.window = 0
        self.srm_detected = False
        self.verdict: str | None = None
        self.reason: str | None = None

    def _reset(self) -> None:
        self.__init__(self.config)  # type: ignore[misc]

    def update(self, baseline: ArmWindow, canary: ArmWindow,
               confirmed_pii_leaks: int = 0) -> CanaryVerdict:
        """Add one window of both arms and return the verdict at this look.

        Metrics missing from a window count as no events for them in that window.
        ``confirmed_pii_leaks`` are new confirmed leaks in the canary in this window.
        """
        for spec in self.config.metrics:
            comp = self.comparisons[spec.name]
            if isinstance(comp, RateComparison):
                xb, nb = baseline.rates.get(spec.name, (0, 0))
                xc, nc = canary.rates.get(spec.name, (0, 0))
                comp.update(int(xb), int(nb), int(xc), int(nc))
            else:
                comp.update(tuple(baseline.numeric.get(spec.name, (0, 0.0, 0.0))),
                            tuple(canary.numeric.get(spec.name, (0, 0.0, 0.0))))
        self.events_b += int(baseline.events)
        self.events_c += int(canary.events)
        self.confirmed_pii_leaks += int(confirmed_pii_leaks)
        self.window += 1
        return self.current()

    def current(self) -> CanaryVerdict:
        """Decide at the current look and remember the verdict as the next one's previous."""
        cfg = self.config
        srm = srm_check(self.events_b, self.events_c, cfg.canary_share, cfg.srm_alpha,
                        cfg.srm_concentration)
        self.srm_detected = self.srm_detected or srm.mismatch
        if self.srm_detected and not srm.mismatch:  # a detected mismatch stays detected
            srm = SrmCheck(**{**vars(srm), "mismatch": True})
        v = decide([c.result() for c in self.comparisons.values()], srm, cfg, self.window,
                   self.confirmed_pii_leaks, self.verdict, self.reason)
        self.verdict, self.reason = v.verdict, v.reason
        return v

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types only; ``from_dict(json.loads(json.dumps(d)))`` restores it."""
        return {"version": 1, "config": self.config.to_dict(),
                "comparisons": {k: c.to_dict() for k, c in self.comparisons.items()},
                "events_b": self.events_b, "events_c": self.events_c,
                "confirmed_pii_leaks": self.confirmed_pii_leaks, "window": self.window,
                "srm_detected": self.srm_detected, "verdict": self.verdict,
                "reason": self.reason}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CanaryState:
        if d.get("version") != 1:
            raise ValueError(f"unknown canary state version {d.get('version')!r}")
        state = cls(CanaryConfig.from_dict(d["config"]))
        a, rho = state.config.alpha_per_metric, state.config.mixture_rho
        for spec in state.config.metrics:
            cd = d["comparisons"][spec.name]
            state.comparisons[spec.name] = (
                RateComparison.from_dict(spec, a, cd) if spec.kind == "rate"
                else NumericComparison.from_dict(spec, a, rho, cd))
        for k in ("events_b", "events_c", "confirmed_pii_leaks", "window", "srm_detected",
                  "verdict", "reason"):
            setattr(state, k, d[k])
        return state


# --------------------------------------------------------------------------- simulation


def simulate_windows(rollouts: int, windows: int, events_per_arm: float,
                     rates_b: Mapping[str, float], rates_c: Mapping[str, float],
                     numeric: Mapping[str, tuple[float, float, float]] | None = None,
                     canary_share: float = 0.5, seed: int = 0) -> dict[str, Any]:
    """Seeded synthetic windows for many rollouts at once, as the gate's inputs.

    Each window routes ``Poisson(2 * events_per_arm)`` events to the canary with
    probability ``canary_share``; every rate metric flags each event independently with its
    arm's rate; ``numeric`` maps a metric to ``(mean_baseline, mean_canary, sd)`` of Gaussian
    ``log1p`` values, drawn as exact sufficient statistics. Arrays have shape
    ``(rollouts, windows)``.

    >>> d = simulate_windows(2, 3, 200, {"refusal": 0.1}, {"refusal": 0.2}, seed=1)
    >>> d["events_b"].shape, d["rates"]["refusal"][0].shape
    ((2, 3), (2, 3))
    """
    rng = np.random.default_rng(seed)
    total = rng.poisson(2 * events_per_arm, size=(rollouts, windows))
    n_c = rng.binomial(total, canary_share)
    n_b = total - n_c
    out: dict[str, Any] = {"events_b": n_b, "events_c": n_c, "rates": {}, "numeric": {}}
    for name in rates_b:
        out["rates"][name] = (rng.binomial(n_b, rates_b[name]), n_b,
                              rng.binomial(n_c, rates_c[name]), n_c)
    for name, (mu_b, mu_c, sd) in (numeric or {}).items():
        arms = []
        for n, mu in ((n_b, mu_b), (n_c, mu_c)):
            nf = n.astype(float)
            mean = rng.normal(mu, sd / np.sqrt(np.maximum(nf, 1.0)))
            ssd = sd * sd * rng.chisquare(np.maximum(nf - 1.0, 1.0))
            ssd = np.where(n > 1, ssd, 0.0)
            arms.append(np.stack([nf, nf * mean, ssd + nf * mean * mean], axis=-1)
                        * (n > 0)[..., None])
        out["numeric"][name] = tuple(arms)
    return out


def _naive_bounds(d: np.ndarray, se: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    z = float(special.ndtri(1.0 - alpha))
    return d - z * se, d + z * se


def _tally(m: MetricSpec, lo: np.ndarray, up: np.ndarray, harm_crit: np.ndarray,
           harm_std: np.ndarray, all_ni: np.ndarray) -> None:
    """One metric's bounds into the rollouts' counts, in place: harm shown (critical, or one
    more standard metric) and non-inferiority shown."""
    harmful = lo >= m.harm_margin
    if m.critical:
        harm_crit |= harmful
    else:
        harm_std += harmful
    all_ni &= up <= m.ni_margin


def run_gate(config: CanaryConfig, data: Mapping[str, Any], method: str = "anytime",
             hard_stop_on_flags: str | None = None) -> dict[str, np.ndarray]:
    """Run the gate over simulated rollouts at once (:func:`simulate_windows` data) and
    stop each rollout at its first ``promote`` or ``rollback``.

    ``method="anytime"`` uses exactly the bounds of :class:`CanaryState` and the rules of
    :func:`decide` (the tests check both agree rollout by rollout); ``method="naive"``
    replaces every bound by a fixed-sample one-sided z bound at the same per-metric level
    (unpooled standard error, Welch for numeric metrics), recomputed on the cumulative
    counts at every window. ``hard_stop_on_flags`` names a rate metric whose canary flags
    are all taken as confirmed leaks for the PII hard stop (off by default).

    Returns ``verdict`` (0 hold, 1 promote, 2 rollback), ``window`` of the decision (0 if
    none) and ``reason`` codes (0 none, 1 statistics, 2 hard stop).
    """
    cfg = config
    a = cfg.alpha_per_metric
    log_t = math.log(1.0 / a)
    n_roll, n_win = data["events_b"].shape
    verdict = np.zeros(n_roll, dtype=int)
    when = np.zeros(n_roll, dtype=int)
    reason = np.zeros(n_roll, dtype=int)
    rate_specs = [m for m in cfg.metrics if m.kind == "rate"]
    num_specs = [m for m in cfg.metrics if m.kind == "log_mean"]
    grids = {m.name: rate_grid([m.harm_margin, m.ni_margin]) for m in rate_specs}
    cum = {m.name: np.zeros((n_roll, 4)) for m in rate_specs}
    le_h = {m.name: np.zeros((n_roll, grids[m.name].size)) for m in rate_specs}
    le_n = {m.name: np.zeros((n_roll, grids[m.name].size)) for m in rate_specs}
    cum_num = {m.name: np.zeros((n_roll, 2, 3)) for m in num_specs}
    ev = np.zeros((n_roll, 2))
    leaks = np.zeros(n_roll)
    srm_detected = np.zeros(n_roll, dtype=bool)
    s, k = cfg.canary_share, cfg.srm_concentration
    for w in range(n_win):
        act = np.flatnonzero(verdict == 0)
        if act.size == 0:
            break
        harm_crit = np.zeros(act.size, dtype=bool)
        harm_std = np.zeros(act.size, dtype=int)
        all_ni = np.ones(act.size, dtype=bool)
        for m in rate_specs:
            xb, nb, xc, nc = (arr[act, w].astype(float) for arr in data["rates"][m.name])
            if m.direction == -1:
                xb, xc = nb - xb, nc - xc
            c = cum[m.name][act]
            if method == "anytime":
                prior = ((c[:, 1] > 0) & (c[:, 3] > 0))[:, None]
                th_c, th_b = plug_in(c[:, 2], c[:, 3])[:, None], plug_in(c[:, 0], c[:, 1])[:, None]
                g = grids[m.name]
                args = (xc[:, None], nc[:, None], xb[:, None], nb[:, None], th_c, th_b, g)
                le_h[m.name][act] += np.where(prior, rate_log_e_increment(*args, +1), 0.0)
                le_n[m.name][act] += np.where(prior, rate_log_e_increment(*args, -1), 0.0)
            c = c + np.stack([xb, nb, xc, nc], axis=1)
            cum[m.name][act] = c
            if method == "anytime":
                lo = lower_from_grid(grids[m.name], le_h[m.name][act], log_t)
                up = upper_from_grid(grids[m.name], le_n[m.name][act], log_t)
            else:
                ok = (c[:, 1] > 0) & (c[:, 3] > 0)
                pb, pc = c[:, 0] / np.maximum(c[:, 1], 1), c[:, 2] / np.maximum(c[:, 3], 1)
                se = np.sqrt(pb * (1 - pb) / np.maximum(c[:, 1], 1)
                             + pc * (1 - pc) / np.maximum(c[:, 3], 1))
                lo, up = _naive_bounds(pc - pb, se, a)
                lo, up = np.where(ok, lo, -1.0), np.where(ok, up, 1.0)
            _tally(m, lo, up, harm_crit, harm_std, all_ni)
            if m.name == hard_stop_on_flags:
                leaks[act] += xc if m.direction == 1 else nc - xc
        for m in num_specs:
            sb, sc = (arr[act, w] for arr in data["numeric"][m.name])
            sign = np.array([1.0, float(m.direction), 1.0])
            cum_num[m.name][act] += np.stack([sb * sign, sc * sign], axis=1)
            cb, cc = cum_num[m.name][act, 0], cum_num[m.name][act, 1]
            if method == "anytime":
                b = log_mean_bounds(*cb.T, *cc.T, alpha=a, rho=cfg.mixture_rho)
                lo, up = b["lower"], b["upper"]
            else:
                ok = (cb[:, 0] >= 2) & (cc[:, 0] >= 2)
                nb_, nc_ = np.maximum(cb[:, 0], 2), np.maximum(cc[:, 0], 2)
                mb, mc = cb[:, 1] / nb_, cc[:, 1] / nc_
                vb = np.maximum((cb[:, 2] - nb_ * mb * mb) / (nb_ - 1), 1e-12)
                vc = np.maximum((cc[:, 2] - nc_ * mc * mc) / (nc_ - 1), 1e-12)
                lo, up = _naive_bounds(mc - mb, np.sqrt(vb / nb_ + vc / nc_), a)
                lo, up = np.where(ok, lo, -np.inf), np.where(ok, up, np.inf)
            _tally(m, lo, up, harm_crit, harm_std, all_ni)
        ev[act] += np.stack([data["events_b"][act, w], data["events_c"][act, w]], axis=1)
        e_b, e_c = ev[act, 0], ev[act, 1]
        log_e_srm = (special.betaln(k * s + e_c, k * (1 - s) + e_b)
                     - special.betaln(k * s, k * (1 - s))
                     - e_c * math.log(s) - e_b * math.log(1 - s))
        srm_detected[act] |= log_e_srm >= math.log(1.0 / cfg.srm_alpha)
        window = w + 1
        hard = (cfg.pii_hard_stop > 0) & (leaks[act] >= cfg.pii_hard_stop)
        stat = harm_crit | (harm_std >= 2)
        rollback = hard | stat
        promote = (~rollback & ~srm_detected[act] & (window >= cfg.min_windows)
                   & (window <= cfg.max_windows) & (np.minimum(e_b, e_c) >= cfg.min_samples)
                   & all_ni)
        verdict[act[rollback]] = 2
        reason[act[rollback]] = np.where(hard[rollback], 2, 1)
        verdict[act[promote]] = 1
        reason[act[promote]] = 1
        when[act[rollback | promote]] = window
    return {"verdict": verdict, "window": when, "reason": reason}
