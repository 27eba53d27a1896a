"""Compare a window's event rate with a reference rate, across many segments at once.

:func:`rate_test` asks whether the share of flagged events in a window (``x`` of ``n``,
say refusals) differs from the share in a reference sample (``x_ref`` of ``n_ref``,
trailing windows or a frozen baseline). The two samples are independent, so the test is
the pooled two-proportion z-test; when any expected cell of the 2x2 table is below 5 the
normal approximation is poor and Fisher's exact test is used instead. Both are two-sided.

Thousands of segments are tested per window, so :func:`benjamini_hochberg` controls the
false discovery rate across their p-values, and :func:`is_finding` keeps only rejections
whose effect is large enough to act on, in absolute and in relative terms.

Examples
--------
>>> t = rate_test("refusal", x=30, n=200, x_ref=100, n_ref=2000)
>>> t.method, round(t.statistic, 3), f"{t.p_value:.2e}", round(t.effect, 3)
('two_proportion_z', 5.719, '1.07e-08', 0.1)
>>> benjamini_hochberg([t.p_value, 0.04, 0.5], q=0.05)
[True, False, False]
>>> is_finding(t, q_rejected=True, min_abs_effect=0.02, min_ratio=1.5)
True

References
----------
Agresti, A. (2013). Categorical Data Analysis, 3rd ed., sections 3.1 and 3.5.
Benjamini, Y. and Hochberg, Y. (1995). Controlling the false discovery rate. JRSS B 57(1).

"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special, stats

__all__ = ["RateTest", "benjamini_hochberg", "fisher_exact_2x2", "is_finding", "rate_test"]

_LARGE = 1e300


@dataclass(frozen=True)
class RateTest:
    """Result of a two-sample test of proportions; every field is JSON-serialisable.

    Parameters
    ----------
    metric
        Name of the rate, e.g. ``refusal``.
    x, n
        Flagged events and events in the window.
    x_ref, n_ref
        Flagged events and events in the reference.
    observed, reference
        ``x / n`` and ``x_ref / n_ref``.
    statistic
        The z statistic, or Fisher's sample odds ratio (infinity mapped to 1e300, NaN to 0).
    p_value
        Two-sided p-value.
    method
        ``two_proportion_z`` or ``fisher_exact``.
    effect
        ``observed - reference``.

    """

    metric: str
    x: int
    n: int
    x_ref: int
    n_ref: int
    observed: float
    reference: float
    statistic: float
    p_value: float
    method: str
    effect: float


def _finite(value: float) -> float:
    if math.isnan(value):
        return 0.0
    if math.isinf(value):
        return math.copysign(_LARGE, value)
    return float(value)


def rate_test(
    metric: str, x: int, n: int, x_ref: int, n_ref: int, exact_below_p: float = 0.0
) -> RateTest:
    """Two-sided test of the window rate ``x / n`` against the reference ``x_ref / n_ref``.

    Parameters
    ----------
    metric
        Name carried into the result.
    x
        Flagged events in the window, ``0 <= x <= n``.
    n
        Events in the window, ``n > 0``.
    x_ref
        Flagged events in the reference, ``0 <= x_ref <= n_ref``.
    n_ref
        Events in the reference, ``n_ref > 0``.
    exact_below_p
        When the z-test's p-value is below this, Fisher's exact test is used instead
        (default 0: never). The normal approximation is good in the bulk but its far tail is
        not: with a few expected events, 18 of 221 against 25 of 1,105 gives z-test
        p = 6.6e-6 where Fisher gives 6.1e-5. Thresholds of a false discovery rate control
        across thousands of tests live in that tail, so the drift judge passes 0.01.

    Examples
    --------
    >>> t = rate_test("pii_output", x=3, n=20, x_ref=1, n_ref=100)
    >>> t.method, round(t.statistic, 3), round(t.p_value, 4)
    ('fisher_exact', 17.471, 0.0145)
    >>> rate_test("refusal", 0, 50, 0, 500).p_value
    1.0
    >>> t = rate_test("jailbreak", 18, 221, 25, 1105, exact_below_p=0.01)
    >>> t.method, f"{t.p_value:.2e}"
    ('fisher_exact', '6.14e-05')

    """
    for name, value in (("x", x), ("n", n), ("x_ref", x_ref), ("n_ref", n_ref)):
        if value < 0:
            raise ValueError(f"{name} must be non-negative, got {value}")
    if n <= 0 or n_ref <= 0:
        raise ValueError(f"n and n_ref must be positive, got n={n}, n_ref={n_ref}")
    if x > n or x_ref > n_ref:
        raise ValueError(f"counts exceed totals: x={x}, n={n}, x_ref={x_ref}, n_ref={n_ref}")

    observed = x / n
    reference = x_ref / n_ref
    total = n + n_ref
    # the smallest expected cell of the 2 x 2 table
    expected_min = min(n, n_ref) * min(x + x_ref, total - x - x_ref) / total

    if x + x_ref in (0, total):
        # Both rates 0 or both 1: no evidence of a difference.
        method = "fisher_exact" if expected_min < 5 else "two_proportion_z"
        statistic = 1.0 if method == "fisher_exact" else 0.0
        p_value = 1.0
    elif expected_min < 5:
        method = "fisher_exact"
        statistic, p_value = fisher_exact_2x2(x, n, x_ref, n_ref)
    else:
        method = "two_proportion_z"
        pooled = (x + x_ref) / total
        se = math.sqrt(pooled * (1.0 - pooled) * (1.0 / n + 1.0 / n_ref))
        statistic = (observed - reference) / se
        p_value = float(2.0 * stats.norm.sf(abs(statistic)))
        if p_value < exact_below_p:
            method = "fisher_exact"
            statistic, p_value = fisher_exact_2x2(x, n, x_ref, n_ref)

    return RateTest(
        metric=metric,
        x=x,
        n=n,
        x_ref=x_ref,
        n_ref=n_ref,
        observed=observed,
        reference=reference,
        statistic=_finite(statistic),
        p_value=min(1.0, max(0.0, _finite(p_value))),
        method=method,
        effect=observed - reference,
    )


def fisher_exact_2x2(x: int, n: int, x_ref: int, n_ref: int) -> tuple[float, float]:
    """Two-sided Fisher exact test of ``x/n`` against ``x_ref/n_ref``: (sample odds ratio,
    p-value), equal to ``scipy.stats.fisher_exact`` to 1e-9 relative (its rule: the sum of
    the hypergeometric probabilities no larger than the observed one, within a relative
    1e-7). Written out because the tail scan runs dozens of these per chunk and scipy's
    version, built on ``hypergeom``'s distribution machinery, costs about 50 times as much; the
    support here is at most ``min(n, x + x_ref) + 1`` points, evaluated at once with
    ``gammaln``.

    Examples
    --------
    >>> odds, p = fisher_exact_2x2(18, 221, 25, 1105)
    >>> round(odds, 4), f"{p:.4e}"
    (3.8305, '6.1442e-05')

    """
    a, b, c, d = x, n - x, x_ref, n_ref - x_ref
    odds = math.inf if b * c == 0 and a * d > 0 else (math.nan if b * c == 0 else a * d / (b * c))
    k_total, total = x + x_ref, n + n_ref
    lo, hi = max(0, k_total - n_ref), min(n, k_total)
    k = np.arange(lo, hi + 1, dtype=float)
    # log of C(K, k) C(N - K, n - k); the common 1 / C(N, n) cancels in the ratio below
    log_w = -(special.gammaln(k + 1) + special.gammaln(k_total - k + 1)
              + special.gammaln(n - k + 1) + special.gammaln(total - k_total - n + k + 1))
    log_w -= log_w.max()
    w = np.exp(log_w)
    observed = w[x - lo]
    p = float(w[w <= observed * (1 + 1e-7)].sum() / w.sum())
    return odds, min(1.0, p)


def benjamini_hochberg(p_values: Sequence[float], q: float) -> list[bool]:
    """Benjamini-Hochberg step-up procedure: which hypotheses to reject at FDR ``q``.

    Parameters
    ----------
    p_values
        One p-value per hypothesis, in any order.
    q
        Target false discovery rate, e.g. 0.05.

    Examples
    --------
    >>> benjamini_hochberg([0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205], q=0.05)
    [True, True, False, False, False, False, False, False]
    >>> benjamini_hochberg([], q=0.05)
    []

    """
    if len(p_values) == 0:
        return []
    adjusted = stats.false_discovery_control(np.asarray(p_values, dtype=float), method="bh")
    return [bool(a <= q) for a in adjusted]


def is_finding(t: RateTest, q_rejected: bool, min_abs_effect: float, min_ratio: float) -> bool:
    """Whether a test is worth an alert: FDR-rejected, and large in absolute and relative terms.

    Parameters
    ----------
    t
        The test result.
    q_rejected
        Whether :func:`benjamini_hochberg` rejected this test.
    min_abs_effect
        Minimum ``|observed - reference|``.
    min_ratio
        Minimum ``observed / reference`` or ``reference / observed``; a zero rate against a
        non-zero one counts as an infinite ratio.

    Examples
    --------
    >>> t = rate_test("refusal", x=120, n=1000, x_ref=100, n_ref=1000)
    >>> is_finding(t, q_rejected=True, min_abs_effect=0.01, min_ratio=1.5)
    False

    """
    if not q_rejected or abs(t.effect) < min_abs_effect:
        return False
    high, low = max(t.observed, t.reference), min(t.observed, t.reference)
    ratio = math.inf if low == 0.0 else high / low
    return ratio >= min_ratio
