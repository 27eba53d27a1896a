"""The judge: every applicable drift test of every segment, one FDR control per tick.

:func:`judge` takes the windows that closed at one evaluation tick, each with its reference
(trailing history, a frozen baseline, or the parent segment's reference for a new segment),
and runs every test the data allows: a rate test per Bernoulli flag (metric
``<flag>_rate``), a KS test per numeric sketch, a chi-square per categorical field, a
chi-square on the hashed input-text buckets (metric ``input_text``, statistic divided by the
mean number of distinct buckets per event, a Rao–Scott design effect, because words of one
event are not independent draws), and a volume test when the trailing window counts are
given. Precomputed tests (anomaly, multivariate) can be passed in to share the same control.
A window is tested only if it has at least ``min_window_events`` events and its reference at
least ``min_reference_events``.

All p-values of the call go through one Benjamini–Hochberg procedure at ``fdr_q``. A test is
a *finding* when it is rejected **and** its effect reaches the minimum effect for its metric
(looked up by metric name, then by kind): statistical significance alone flags trivial shifts
on large samples, and the effect floor alone flags noise on small ones. Default floors:

============  ===========================================  =======
key           effect                                       default
============  ===========================================  =======
rate          ``|observed - reference|``                   0.005
rate_ratio    ``max(obs/ref, ref/obs)``, also required     1.5
numeric       Wasserstein-1 / std(reference)               0.2
categorical   Jensen–Shannon distance (natural log)        0.05
text          Jensen–Shannon distance of bucket shares     0.05
volume        ``max(count/mean, mean/count)``              1.5
anomaly       ``|robust z|``                               0
multivariate  (none)                                       0
============  ===========================================  =======

Examples
--------
>>> from detectors.summary import WindowSummary
>>> def window(n, refusals):
...     w = WindowSummary()
...     for i in range(n):
...         w.add({"refusal": i < refusals}, {}, {}, None)
...     return w
>>> items = [JudgeItem(("ctx", "*", "*"), 0, window(400, 60), window(4000, 200), None),
...          JudgeItem(("ctx2", "*", "*"), 0, window(400, 21), window(4000, 200), None)]
>>> [(v.segment[0], v.test.metric, round(v.test.p_value, 6), v.finding)
...  for v in judge(items, JudgeConfig())]
[('ctx', 'refusal_rate', 0.0, True), ('ctx2', 'refusal_rate', 0.827219, False)]

References
----------
Benjamini, Y. and Hochberg, Y. (1995). Controlling the false discovery rate. JRSS B 57(1).
Rao, J. N. K. and Scott, A. J. (1981). JASA 76(374).

"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from detectors.drift import DriftTest, chi2_test, ks_test, rate_drift, volume_test
from detectors.rates import benjamini_hochberg
from detectors.reference import ReferenceState
from detectors.summary import WindowSummary

__all__ = [
    "DEFAULT_MIN_EFFECT",
    "JudgeConfig",
    "JudgeItem",
    "ReferenceState",
    "Verdict",
    "base_metric",
    "effect_reaches",
    "interim_judge",
    "item_tests",
    "judge",
    "look_number",
]

Segment = tuple[str, str, str]

DEFAULT_MIN_EFFECT: Mapping[str, float] = MappingProxyType({
    "rate": 0.005,
    "rate_ratio": 1.5,
    "numeric": 0.2,
    "categorical": 0.05,
    "text": 0.05,
    "volume": 1.5,
    "anomaly": 0.0,
    "multivariate": 0.0,
})


@dataclass(frozen=True)
class JudgeConfig:
    """Parameters of :func:`judge`.

    Parameters
    ----------
    fdr_q
        Benjamini–Hochberg false discovery rate across all tests of one call (0.01).
    min_window_events
        Events a window needs to be tested (20).
    min_reference_events
        Events its reference needs (200).
    min_effect
        Minimum effect per metric name or kind; missing keys fall back to
        :data:`DEFAULT_MIN_EFFECT` (see the module table).
    log_scale_metrics
        Numeric metrics whose effect size is computed on ``log1p`` values.
    min_expected
        Chi-square pooling threshold on expected counts (5).
    volume_min_windows
        Trailing window counts needed for the volume test (4).
    rate_exact_below_p
        Rate tests whose z-test p-value is below this use Fisher's exact p-value (0.01).

    """

    fdr_q: float = 0.01
    min_window_events: int = 20
    min_reference_events: int = 200
    min_effect: Mapping[str, float] = field(default_factory=lambda: DEFAULT_MIN_EFFECT)
    log_scale_metrics: tuple[str, ...] = (
        "latency_ms", "input_chars", "output_chars", "input_tokens", "output_tokens")
    min_expected: float = 5.0
    volume_min_windows: int = 4
    rate_exact_below_p: float = 0.01

    def floor(self, metric: str, key: str) -> float:
        """Minimum effect for ``metric``: its own entry (``<metric>:ratio`` for the rate
        ratio), else the entry of ``key`` (its kind, or ``rate_ratio``), else the default."""
        base = base_metric(metric)
        names = ((f"{metric}:ratio", f"{base}:ratio", key) if key == "rate_ratio"
                 else (metric, base, key))
        for table in (self.min_effect, DEFAULT_MIN_EFFECT):
            for k in names:
                if k in table:
                    return float(table[k])
        return 0.0


RECENT_SUFFIX = ":recent"
LOOK_SUFFIX = ":look"
TAIL_SUFFIX = ":tail"  # detectors.scan
LOOK_FIRST = 32


def base_metric(metric: str) -> str:
    """The metric a test is about, without its ``:recent``, ``:look<n>`` or ``:tail<n>``
    suffix (one alert per metric).

    >>> [base_metric(m) for m in ("refusal_rate:look128", "latency_ms:recent",
    ...                           "latency_ms:tail64", "score:tail")]
    ['refusal_rate', 'latency_ms', 'latency_ms', 'score:tail']
    """
    metric = metric.removesuffix(RECENT_SUFFIX)
    for suffix in (LOOK_SUFFIX, TAIL_SUFFIX):
        head, sep, n = metric.rpartition(suffix)
        if sep and n.isdigit():
            return head
    return metric


def look_number(n: int, first: int = LOOK_FIRST) -> int | None:
    """``j`` when an open window has just reached ``n = first * 2**j`` events (its ``j``-th
    interim look), else None.

    >>> [look_number(n) for n in (16, 31, 32, 33, 64, 96, 128, 4096)]
    [None, None, 0, None, 1, None, 2, 7]
    """
    if first <= 0 or n < first or n % first:
        return None
    k = n // first
    return k.bit_length() - 1 if k & (k - 1) == 0 else None


@dataclass(frozen=True)
class JudgeItem:
    """One closed window of one segment, with its reference.

    Parameters
    ----------
    segment
        ``(context, cohort, model)``.
    window_start
        Window start, epoch milliseconds.
    window
        The window's summary (or merged recent windows).
    reference
        The reference summary, or None when there is none yet.
    reference_segment
        The segment whose reference is used (the parent's for a new segment), or None.
    reference_counts
        Event counts of trailing windows, for the volume test (optional).
    extra_tests
        Precomputed tests of this window (anomaly, multivariate) to control jointly.
    recent
        This window merged with the segment's previous closed windows (the last few), or
        None. Its rate, numeric, categorical and text tests are added as ``<metric>:recent``:
        a shift too small to show in one window shows in three, still within a few
        windows of its onset.

    """

    segment: Segment
    window_start: int
    window: WindowSummary
    reference: WindowSummary | None
    reference_segment: Segment | None
    reference_counts: tuple[int, ...] = ()
    extra_tests: tuple[DriftTest, ...] = ()
    recent: WindowSummary | None = None


@dataclass(frozen=True)
class Verdict:
    """A test of one item, with its FDR decision and whether it is a finding."""

    segment: Segment
    window_start: int
    test: DriftTest
    bh_rejected: bool
    finding: bool
    reference_segment: Segment | None


def _distribution_tests(w: WindowSummary, r: WindowSummary, cfg: JudgeConfig,
                        suffix: str = "") -> list[DriftTest]:
    """Rate (two-proportion / Fisher), numeric (KS), categorical and text (contingency
    chi-square) tests of ``w`` vs ``r``."""
    out: list[DriftTest] = []
    for name in sorted(set(w.flags) & set(r.flags)):
        out.append(rate_drift(f"{name}_rate{suffix}", w.flags[name], w.n, r.flags[name], r.n,
                              exact_below_p=cfg.rate_exact_below_p))
    for name in sorted(set(w.numeric) & set(r.numeric)):
        if w.numeric[name].n and r.numeric[name].n:
            out.append(ks_test(w.numeric[name], r.numeric[name],
                               log_scale=name in cfg.log_scale_metrics, metric=name + suffix))
    for name in sorted(set(w.categorical) & set(r.categorical)):
        out.append(chi2_test(w.categorical[name], r.categorical[name], name + suffix,
                             min_expected=cfg.min_expected))
    if w.text_n and r.text_n:
        deff = max(1.0, (sum(w.text.values()) + sum(r.text.values())) / (w.text_n + r.text_n))
        out.append(chi2_test(w.text, r.text, "input_text" + suffix, kind="text",
                             min_expected=cfg.min_expected, deff=deff, n=w.text_n,
                             n_ref=r.text_n))
    return out


def item_tests(item: JudgeItem, cfg: JudgeConfig) -> list[DriftTest]:
    """Every applicable drift test of one item, in a fixed order (empty if too small)."""
    out: list[DriftTest] = []
    w, r = item.window, item.reference
    if r is not None and w.n >= cfg.min_window_events and r.n >= cfg.min_reference_events:
        out.extend(_distribution_tests(w, r, cfg))
        if item.recent is not None and item.recent.n > w.n:
            out.extend(_distribution_tests(item.recent, r, cfg, RECENT_SUFFIX))
    if len(item.reference_counts) >= cfg.volume_min_windows:
        out.append(volume_test(w.n, item.reference_counts))
    out.extend(item.extra_tests)
    return out


def effect_reaches(t: DriftTest, cfg: JudgeConfig) -> bool:
    """Whether the effect of ``t`` reaches the configured minimum for its metric."""
    if t.kind == "rate":
        if abs(t.effect) < cfg.floor(t.metric, "rate"):
            return False
        high, low = max(t.observed, t.reference), min(t.observed, t.reference)
        ratio = math.inf if low == 0.0 else high / low
        return ratio >= cfg.floor(t.metric, "rate_ratio")
    if t.kind == "volume":
        e = t.effect
        ratio = math.inf if e == 0.0 else max(e, 1.0 / e)
        return ratio >= cfg.floor(t.metric, "volume")
    return abs(t.effect) >= cfg.floor(t.metric, t.kind)


def judge(items: Sequence[JudgeItem], cfg: JudgeConfig) -> list[Verdict]:
    """Run all tests of one evaluation tick, control the FDR across them, mark findings.

    Verdicts come in item order, then test order (flags, numeric, categorical, text,
    volume, extra), so the result is deterministic for the same input.
    """
    rows: list[tuple[JudgeItem, DriftTest]] = [
        (item, t) for item in items for t in item_tests(item, cfg)
    ]
    rejected = benjamini_hochberg([t.p_value for _, t in rows], q=cfg.fdr_q)
    return [
        Verdict(
            segment=item.segment,
            window_start=item.window_start,
            test=t,
            bh_rejected=rej,
            finding=rej and effect_reaches(t, cfg),
            reference_segment=item.reference_segment,
        )
        for (item, t), rej in zip(rows, rejected, strict=True)
    ]


def interim_judge(items: Sequence[JudgeItem], cfg: JudgeConfig, look: int,
                  multiplicity: int = 1) -> list[Verdict]:
    """Test open windows at their ``look``-th interim look (``look_number``), so a change
    shows before its window closes.

    Each item's window is the open window so far. Its rate, numeric, categorical and text
    tests (metric ``<metric>:look<n>``) have their p-value multiplied by
    ``(look + 1) * (look + 2) * multiplicity`` before one Benjamini–Hochberg procedure at
    ``fdr_q`` over the call. The factor spends the level over an unbounded number of looks
    (``sum 1 / ((j + 1)(j + 2)) = 1``: repeated looks at a window that is still filling cannot
    add up to more than one test's false alarms), and ``multiplicity`` is a Bonferroni
    factor for the segments that are looked at separately but would share one family at
    window close (the pipeline passes the number of segments of the context). The adjusted
    p-value is the one reported; ``detail`` keeps the raw one. Volume, anomaly and
    multivariate tests wait for the close.

    >>> from detectors.summary import WindowSummary
    >>> def window(n, refusals):
    ...     w = WindowSummary()
    ...     for i in range(n):
    ...         w.add({"refusal": i < refusals}, {}, {}, None)
    ...     return w
    >>> item = JudgeItem(("ctx", "*", "*"), 0, window(128, 30), window(4000, 200), None)
    >>> [(v.test.metric, v.test.p_value < 1e-6, v.finding)
    ...  for v in interim_judge([item], JudgeConfig(), look_number(128))]
    [('refusal_rate:look128', True, True)]
    """
    factor = (look + 1) * (look + 2) * max(1, multiplicity)
    rows: list[tuple[JudgeItem, DriftTest]] = []
    for item in items:
        w, r = item.window, item.reference
        if r is None or w.n < cfg.min_window_events or r.n < cfg.min_reference_events:
            continue
        for t in _distribution_tests(w, r, cfg, f"{LOOK_SUFFIX}{w.n}"):
            p = min(1.0, t.p_value * factor)
            detail = f"look {look} (n={w.n}), raw p={t.p_value:.3g} x{factor}"
            rows.append((item, dataclasses.replace(
                t, p_value=p, detail=f"{t.detail}; {detail}" if t.detail else detail)))
    rejected = benjamini_hochberg([t.p_value for _, t in rows], q=cfg.fdr_q)
    return [
        Verdict(segment=item.segment, window_start=item.window_start, test=t, bh_rejected=rej,
                finding=rej and effect_reaches(t, cfg),
                reference_segment=item.reference_segment)
        for (item, t), rej in zip(rows, rejected, strict=True)
    ]
