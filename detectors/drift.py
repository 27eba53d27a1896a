"""Two-sample drift tests of a window against its reference, one per kind of data.

Each function compares the current window (or merged recent windows) with a reference
(trailing windows, a frozen baseline, or the parent segment's reference) and returns a
:class:`DriftTest` carrying the statistic, the p-value, an effect size and both sample sizes,
so the judge can apply one false-discovery control to all of them and require a minimum
effect. The tests are chosen so that their p-values are valid or conservative where many
tests are run at once:

* rates (:func:`rate_drift`): pooled two-proportion z-test, Fisher's exact test when an
  expected cell is below 5 (:func:`detectors.rates.rate_test`); effect: difference of rates;
* numeric (:func:`ks_test`): two-sample Kolmogorov–Smirnov on two quantile sketches. The
  sketch knows both empirical CDFs exactly at every bucket edge, so the statistic is the
  largest difference over the edges: a lower bound of the exact KS distance, never more than
  ``cdf_error(cur) + cdf_error(ref)`` below it. Its p-value (exact distribution when
  ``n * n_ref <= 10**6``, else the Kolmogorov limit, which was above the exact p-value at every
  size and level we checked) is therefore never smaller than the exact test's. Effect:
  Wasserstein-1 distance divided by the reference standard deviation (on ``log1p`` values for
  latency-like metrics; the KS statistic itself is invariant to that transform);
* categorical and hashed text (:func:`chi2_test`): two-sample contingency chi-square (not
  goodness-of-fit against the reference proportions, which ignores the reference's own
  sampling error). A category seen on one side only keeps its own column; columns empty on
  both sides are dropped; columns whose smaller expected count is below ``min_expected`` (5)
  are pooled into one column, and while that pool is still below 5 the smallest other column
  joins it. If that would leave a single column (one dominant category and a new or rare
  one), the pool stays a column of its own when its expected count is at least 1, and the
  2 x 2 table is then tested with Fisher's exact test, since the chi-square tail is far too
  thin there. Effect: Jensen–Shannon distance (natural log) of the unpooled proportions, finite for
  unseen categories (unlike PSI or KL);
* volume (:func:`volume_test`): the window's event count against trailing windows' counts;
  exact conditional binomial test when the reference is not overdispersed, negative
  binomial with moment-estimated dispersion otherwise; :func:`silent` is the dead-man rule.

Examples
--------
>>> import numpy as np
>>> from detectors.sketch import QuantileSketch
>>> rng = np.random.default_rng(0)
>>> ref, cur = QuantileSketch(), QuantileSketch()
>>> ref.add_many(rng.lognormal(5.0, 0.5, 2000)); cur.add_many(rng.lognormal(5.3, 0.5, 200))
>>> t = ks_test(cur, ref, log_scale=True, metric="latency_ms")
>>> t.test, round(t.statistic, 4), f"{t.p_value:.2e}", round(t.effect, 3)
('ks_sketch', 0.2275, '9.89e-09', 0.61)
>>> c = chi2_test({"stop": 90, "length": 10}, {"stop": 950, "length": 50}, "finish_reason")
>>> round(c.statistic, 4), round(c.p_value, 4), round(c.effect, 4)
(4.4071, 0.0358, 0.0677)

References
----------
Hodges, J. L. (1958). The significance probability of the Smirnov two-sample test. Arkiv för
Matematik 3(5).
Agresti, A. (2013). Categorical Data Analysis, 3rd ed., section 3.2.
Lin, J. (1991). Divergence measures based on the Shannon entropy. IEEE Trans. Inf. Theory 37.
Rao, J. N. K. and Scott, A. J. (1981). The analysis of categorical data from complex sample
surveys. JASA 76(374).

"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats
from scipy.spatial.distance import jensenshannon

from detectors.rates import fisher_exact_2x2, rate_test
from detectors.sketch import QuantileSketch

__all__ = [
    "DriftTest",
    "chi2_test",
    "ks_exact",
    "ks_pvalue",
    "ks_test",
    "rate_drift",
    "silent",
    "volume_test",
]

EXACT_KS_LIMIT = 1_000_000
_LARGE = 1e300


def _finite(value: float) -> float:
    value = float(value)
    if math.isnan(value):
        return 0.0
    if math.isinf(value):
        return math.copysign(_LARGE, value)
    return value


@dataclass(frozen=True)
class DriftTest:
    """One test of one metric of one window against its reference; JSON-serialisable.

    Parameters
    ----------
    metric
        Metric name, e.g. ``refusal_rate``, ``latency_ms``, ``finish_reason``, ``input_text``.
    kind
        ``rate``, ``numeric``, ``categorical``, ``text``, ``volume``, ``anomaly`` or
        ``multivariate``.
    test
        Name of the test: ``two_proportion_z``, ``fisher_exact``, ``ks_sketch``, ``ks_exact``,
        ``chi2_contingency``, ``poisson_conditional``, ``negative_binomial``, ...
    statistic, p_value
        Test statistic and two-sided p-value (infinities mapped to +-1e300).
    effect, effect_name
        Effect size and its name (``rate_diff``, ``wasserstein_over_std``, ``js_distance``,
        ``rate_ratio``, ``robust_z``, ...).
    n, n_ref
        Sample sizes of the window and of the reference.
    observed, reference
        Summary values a human reads: rates, medians, the most-changed category's shares,
        counts.
    detail
        Short free text: the most-changed category, the KS upper bound, the pooling.

    """

    metric: str
    kind: str
    test: str
    statistic: float
    p_value: float
    effect: float
    effect_name: str
    n: int
    n_ref: int
    observed: float
    reference: float
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def rate_drift(
    metric: str, x: int, n: int, x_ref: int, n_ref: int, exact_below_p: float = 0.01
) -> DriftTest:
    """Rate of a Bernoulli flag in the window vs the reference (z-test or Fisher).

    Fisher's exact test replaces the z-test when an expected cell is below 5 and, by
    default, whenever the z-test's p-value is below ``exact_below_p`` (0.01), where the
    normal tail is too thin for a multiple-testing threshold
    (see :func:`detectors.rates.rate_test`); set it to 0 for the plain pooled z-test.

    Examples
    --------
    >>> t = rate_drift("refusal_rate", 50, 1000, 80, 1000, exact_below_p=0)
    >>> t.test, round(t.statistic, 7), round(t.p_value, 10), t.effect
    ('two_proportion_z', -2.7210954, 0.0065065975, -0.03)

    """
    t = rate_test(metric, x, n, x_ref, n_ref, exact_below_p=exact_below_p)
    return DriftTest(
        metric=metric,
        kind="rate",
        test=t.method,
        statistic=t.statistic,
        p_value=t.p_value,
        effect=t.effect,
        effect_name="rate_diff",
        n=n,
        n_ref=n_ref,
        observed=t.observed,
        reference=t.reference,
        detail=f"x={x} x_ref={x_ref}",
    )


def ks_pvalue(d: float, n: int, m: int) -> float:
    """Two-sided p-value of the two-sample KS distance ``d`` for sample sizes ``n`` and ``m``.

    Exact (Hodges' lattice-path recursion, as in scipy's ``ks_2samp(method='exact')``) when
    ``n * m <= 10**6``; otherwise the Kolmogorov limit ``K(d * sqrt(n m / (n + m)))``, which
    is conservative: at every size from 20 x 200 to 2,000 x 10,000 and every level down to
    1e-18 we compared, it was at or above the exact p-value.

    Examples
    --------
    >>> f"{ks_pvalue(0.124, 500, 500):.11f}"
    '0.00090558060'

    """
    if n <= 0 or m <= 0:
        raise ValueError(f"sample sizes must be positive, got {n}, {m}")
    if d <= 0.0:
        return 1.0
    if d >= 1.0:
        d = 1.0
    if n * m <= EXACT_KS_LIMIT:
        try:
            from scipy.stats._stats_py import _attempt_exact_2kssamp

            ok, _, p = _attempt_exact_2kssamp(n, m, math.gcd(n, m), d, "two-sided")
            if ok and 0.0 <= p <= 1.0:
                return float(p)
        except (ImportError, FloatingPointError, OverflowError):  # pragma: no cover
            pass
    return float(min(1.0, stats.kstwobign.sf(d * math.sqrt(n * m / (n + m)))))


def _symlog(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.log1p(np.abs(x))


def _effect(cur_v, cur_w, ref_v, ref_w, log_scale: bool) -> float:
    if log_scale:
        cur_v, ref_v = _symlog(cur_v), _symlog(ref_v)
    w = stats.wasserstein_distance(cur_v, ref_v, cur_w, ref_w)
    mean = np.average(ref_v, weights=ref_w)
    sd = math.sqrt(np.average((ref_v - mean) ** 2, weights=ref_w))
    if sd > 0.0:
        return float(w / sd)
    return 0.0 if w == 0.0 else _LARGE


def ks_test(
    cur: QuantileSketch, ref: QuantileSketch, log_scale: bool = False, metric: str = ""
) -> DriftTest:
    """Two-sample KS of the window's sketch against the reference's, conservatively.

    ``statistic`` is the KS distance over the bucket edges (a lower bound of the exact one);
    ``detail`` gives the upper bound, so the exact distance lies in that interval, whose
    width is at most ``cur.cdf_error() + ref.cdf_error()``.

    Parameters
    ----------
    cur, ref
        Sketches of the window and of the reference, at equal resolution.
    log_scale
        Compute the effect size on ``sign(x) log(1 + |x|)`` (latency, token counts).
    metric
        Name carried into the result.

    Examples
    --------
    >>> a, b = QuantileSketch(), QuantileSketch()
    >>> a.add_many([1.0, 2.0, 3.0]); b.add_many([1.0, 2.0, 3.0, 4.0])
    >>> t = ks_test(a, b)
    >>> t.statistic, t.p_value, t.detail
    (0.25, 1.0, 'D_upper=0.5')

    """
    if cur.resolution != ref.resolution:
        raise ValueError("sketches must have the same resolution")
    n, m = cur.n, ref.n
    if n == 0 or m == 0:
        return DriftTest(metric, "numeric", "ks_sketch", 0.0, 1.0, 0.0, "wasserstein_over_std",
                         n, m, cur.quantile(0.5) if n else math.nan,
                         ref.quantile(0.5) if m else math.nan, "empty sample")
    co, cc, cv = cur._slots()
    ro, rc, rv = ref._slots()
    union = np.union1d(co, ro)
    fc = np.zeros(union.size)
    fr = np.zeros(union.size)
    fc[np.searchsorted(union, co)] = cc
    fr[np.searchsorted(union, ro)] = rc
    fc = np.cumsum(fc) / n
    fr = np.cumsum(fr) / m
    d_low = float(np.max(np.abs(fc - fr)))
    prev_c = np.concatenate([[0.0], fc[:-1]])
    prev_r = np.concatenate([[0.0], fr[:-1]])
    inside = union != 0  # the zero bucket holds exact zeros: no spread inside it
    spread = np.maximum(np.abs(fc - prev_r), np.abs(prev_c - fr))
    d_high = max(d_low, float(np.max(spread[inside], initial=0.0)))
    # the edge differences are multiples of 1/lcm(n, m) up to rounding: snap for the exact law
    lcm = n // math.gcd(n, m) * m
    d_low = round(d_low * lcm) / lcm
    return DriftTest(
        metric=metric,
        kind="numeric",
        test="ks_sketch",
        statistic=d_low,
        p_value=ks_pvalue(d_low, n, m),
        effect=_effect(cv, cc, rv, rc, log_scale),
        effect_name="wasserstein_over_std",
        n=n,
        n_ref=m,
        observed=cur.quantile(0.5),
        reference=ref.quantile(0.5),
        detail=f"D_upper={d_high!r}",
    )


def ks_exact(a: Sequence[float], b: Sequence[float], metric: str = "",
             log_scale: bool = False) -> DriftTest:
    """Exact two-sample KS on raw arrays (scipy, ``method='exact'``), the reference for
    :func:`ks_test`.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> t = ks_exact(np.random.default_rng(0).normal(0, 1, 500),
    ...              np.random.default_rng(1).normal(0.2, 1, 500))
    >>> round(t.statistic, 3), f"{t.p_value:.11f}"
    (0.124, '0.00090558060')

    """
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    res = stats.ks_2samp(x, y, method="exact")
    return DriftTest(
        metric=metric,
        kind="numeric",
        test="ks_exact",
        statistic=float(res.statistic),
        p_value=float(res.pvalue),
        effect=_effect(x, np.ones(x.size), y, np.ones(y.size), log_scale),
        effect_name="wasserstein_over_std",
        n=int(x.size),
        n_ref=int(y.size),
        observed=float(np.median(x)),
        reference=float(np.median(y)),
    )


def chi2_test(
    cur: Mapping[Any, int],
    ref: Mapping[Any, int],
    metric: str,
    kind: str = "categorical",
    min_expected: float = 5.0,
    deff: float = 1.0,
    n: int | None = None,
    n_ref: int | None = None,
) -> DriftTest:
    """Two-sample contingency chi-square of category counts, with Jensen–Shannon effect.

    Parameters
    ----------
    cur, ref
        Counts per category (or per text bucket) in the window and in the reference.
    metric
        Name carried into the result.
    kind
        ``categorical`` or ``text``.
    min_expected
        Columns whose smaller expected count is below this are pooled (see module doc).
    deff
        Design effect: the statistic is divided by it (Rao–Scott first-order correction).
        Text buckets count several words per event, so the judge passes the mean number of
        distinct buckets per event.
    n, n_ref
        Sample sizes to report (events); default: the totals of the counts.

    Examples
    --------
    >>> t = chi2_test({"a": 1000, "b": 600, "c": 400}, {"a": 900, "b": 600, "c": 500}, "x")
    >>> round(t.effect, 9), t.effect_name
    (0.045276481, 'js_distance')
    >>> chi2_test({"new": 40, "stop": 140, "length": 20}, {"stop": 420, "length": 80}, "x").detail
    'most changed: new; columns 3 of 3'

    """
    union = {k for k in set(cur) | set(ref) if cur.get(k, 0) + ref.get(k, 0) > 0}
    try:
        keys = sorted(union)
    except TypeError:
        keys = sorted(union, key=str)
    c = np.fromiter((cur.get(k, 0) for k in keys), dtype=float, count=len(keys))
    r = np.fromiter((ref.get(k, 0) for k in keys), dtype=float, count=len(keys))
    n1, n2 = float(c.sum()), float(r.sum())
    n_rep = int(n1) if n is None else n
    n_ref_rep = int(n2) if n_ref is None else n_ref
    if n1 == 0 or n2 == 0 or len(keys) < 2:
        return DriftTest(metric, kind, "chi2_contingency", 0.0, 1.0, 0.0, "js_distance",
                         n_rep, n_ref_rep, math.nan, math.nan, "fewer than 2 columns")
    pc, pr = c / n1, r / n2
    effect = float(jensenshannon(pc, pr))
    top = int(np.argmax(np.abs(pc - pr)))

    total = c + r
    small = np.minimum(n1, n2) * total / (n1 + n2) < min_expected
    cols_c = list(c[~small])
    cols_r = list(r[~small])
    pooled_c, pooled_r = float(c[small].sum()), float(r[small].sum())
    if pooled_c + pooled_r > 0:
        def low(c_: float, r_: float) -> float:
            return min(n1, n2) * (c_ + r_) / (n1 + n2)

        while len(cols_c) > 1 and low(pooled_c, pooled_r) < min_expected:
            j = min(range(len(cols_c)), key=lambda i: (cols_c[i] + cols_r[i], i))
            pooled_c += cols_c.pop(j)
            pooled_r += cols_r.pop(j)
        if low(pooled_c, pooled_r) >= min_expected or (cols_c and low(pooled_c, pooled_r) >= 1):
            cols_c.append(pooled_c)
            cols_r.append(pooled_r)
        elif cols_c:
            cols_c[-1] += pooled_c
            cols_r[-1] += pooled_r
    detail = f"most changed: {keys[top]}; columns {len(cols_c)} of {len(keys)}"
    if len(cols_c) < 2:
        return DriftTest(metric, kind, "chi2_contingency", 0.0, 1.0, effect, "js_distance",
                         n_rep, n_ref_rep, float(pc[top]), float(pr[top]), detail)
    table = np.array([cols_c, cols_r])
    expected = np.outer([n1, n2], table.sum(axis=0)) / (n1 + n2)
    # = scipy.stats.chi2_contingency(table, correction=False).statistic, without its checks
    statistic = float(((table - expected) ** 2 / expected).sum()) / deff
    dof = len(cols_c) - 1
    test = "chi2_contingency"
    p_value = float(stats.chi2.sf(statistic, dof))
    if dof == 1 and expected.min() < min_expected and deff == 1.0:
        # a 2 x 2 table with a small expected cell: the chi-square tail is far too thin
        test = "fisher_exact"
        (a, c), (b, d) = table.astype(np.int64).tolist()
        p_value = fisher_exact_2x2(a, a + c, b, b + d)[1]
    return DriftTest(
        metric=metric,
        kind=kind,
        test=test,
        statistic=_finite(statistic),
        p_value=min(1.0, max(0.0, p_value)),
        effect=effect,
        effect_name="js_distance",
        n=n_rep,
        n_ref=n_ref_rep,
        observed=float(pc[top]),
        reference=float(pr[top]),
        detail=detail,
    )


def volume_test(count: int, ref_counts: Sequence[int], metric: str = "volume") -> DriftTest:
    """Event count of the window against the counts of trailing windows (spike or drop).

    With ``K`` reference counts of sum ``S``, mean ``mu`` and variance ``s2``: when
    ``s2 <= mu`` (Poisson-like) the test is exact and conditional, ``count | count + S`` being
    binomial with success probability ``1 / (K + 1)``; otherwise the count is compared with a
    negative binomial of mean ``mu`` and size ``mu**2 / (s2 - mu)`` (plug-in). Two-sided
    p-values are twice the smaller tail, capped at 1. Effect: ``count / mu``.

    Examples
    --------
    >>> t = volume_test(260, [100, 96, 104, 99, 101, 95, 103, 102])
    >>> t.test, f"{t.p_value:.2e}", t.effect
    ('poisson_conditional', '2.50e-34', 2.6)
    >>> volume_test(40, [100, 60, 140, 80, 120, 90, 110, 100]).test
    'negative_binomial'

    """
    ref = np.asarray(ref_counts, dtype=float)
    k = ref.size
    if count < 0 or (ref < 0).any():
        raise ValueError("counts must be non-negative")
    if k < 2:
        return DriftTest(metric, "volume", "none", 0.0, 1.0, 1.0, "rate_ratio", count,
                         int(ref.sum()), float(count), math.nan, "fewer than 2 reference counts")
    mu = float(ref.mean())
    s2 = float(ref.var(ddof=1))
    if s2 <= mu or mu == 0.0:
        total = int(count + ref.sum())
        p = 1.0 / (k + 1)
        lower = stats.binom.cdf(count, total, p)
        upper = stats.binom.sf(count - 1, total, p)
        test = "poisson_conditional"
        statistic = (count - total * p) / math.sqrt(total * p * (1 - p)) if total else 0.0
    else:
        size = mu * mu / (s2 - mu)
        prob = size / (size + mu)
        lower = stats.nbinom.cdf(count, size, prob)
        upper = stats.nbinom.sf(count - 1, size, prob)
        test = "negative_binomial"
        statistic = (count - mu) / math.sqrt(s2)
    p_value = float(min(1.0, 2.0 * min(lower, upper)))
    ratio = count / mu if mu > 0 else (1.0 if count == 0 else _LARGE)
    return DriftTest(metric, "volume", test, _finite(statistic), p_value, _finite(ratio),
                     "rate_ratio", count, int(ref.sum()), float(count), mu,
                     f"windows={k} var={s2:.6g}")


def silent(last_event_ms: int, now_ms: int, timeout_ms: int) -> bool:
    """Dead-man rule: True when nothing arrived for at least ``timeout_ms``.

    Examples
    --------
    >>> silent(last_event_ms=1_000, now_ms=601_000, timeout_ms=600_000)
    True

    """
    return now_ms - last_event_ms >= timeout_ms
