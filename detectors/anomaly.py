"""Anomaly detectors on window series: a robust univariate baseline and a multivariate forest.

:class:`RobustBaseline` follows one metric of one segment across windows (a rate, a median
latency, a count). It keeps the last ``window`` values, and once ``warmup`` of them are known
scores each new value by its robust z-score ``(x - median) / (1.4826 * MAD)``, the MAD being
replaced by the scaled mean absolute deviation when more than half the values are equal, and
floored at ``min_scale``. A value breaches when ``|z| >= threshold``, and the detector fires
only after ``consecutive`` breaching windows in a row (default 2), which suppresses one-window
blips. The value then joins the history, so a lasting level shift becomes the new baseline
after about half a window's length. ``p_value`` is the two-sided normal tail of ``z``: an
approximation for monitoring, not an exact test.

:class:`MultivariateIsolation` looks at all metrics of a context at once. It fits a
scikit-learn IsolationForest (fixed ``random_state``) on half of the reference windows'
feature vectors and keeps the anomaly scores of the other half; a new window's p-value is the
split-conformal ``(1 + #{calibration scores at least as anomalous}) / (n_cal + 1)``, valid when
the new window is exchangeable with the reference windows, so it can join the same
Benjamini–Hochberg control as the drift tests.

Examples
--------
>>> b = RobustBaseline(window=12, warmup=6)
>>> stream = [0.10, 0.11, 0.09, 0.10, 0.12, 0.10, 0.11, 0.30, 0.31, 0.10]
>>> [r.firing for r in map(b.update, stream)]
[False, False, False, False, False, False, False, False, True, False]
>>> round(b.update(0.11).score, 3)
0.674
>>> import numpy as np
>>> ref = np.random.default_rng(0).normal(0, 1, (200, 3))
>>> m = MultivariateIsolation().fit(ref)
>>> m.score([0.0, 0.0, 0.0]) > 0.5, m.score([6.0, -6.0, 6.0])
(True, 0.009900990099009901)

References
----------
Rousseeuw, P. J. and Croux, C. (1993). Alternatives to the median absolute deviation. JASA
88(424).
Liu, F. T., Ting, K. M. and Zhou, Z.-H. (2008). Isolation forest. ICDM.
Vovk, V., Gammerman, A. and Shafer, G. (2005). Algorithmic Learning in a Random World.

"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from detectors.drift import DriftTest

__all__ = ["AnomalyResult", "MultivariateIsolation", "RobustBaseline"]

_LARGE = 1e300


@dataclass(frozen=True)
class AnomalyResult:
    """Outcome of one :meth:`RobustBaseline.update`.

    Parameters
    ----------
    score
        Robust z-score (0 during warm-up).
    p_value
        Two-sided normal p-value of ``score`` (1 during warm-up).
    breach
        ``|score| >= threshold``.
    firing
        At least ``consecutive`` breaches in a row, this one included.

    """

    score: float
    p_value: float
    breach: bool
    firing: bool


class RobustBaseline:
    """Median/MAD baseline over trailing windows with warm-up and N consecutive breaches.

    Parameters
    ----------
    window
        Trailing values kept (default 24).
    warmup
        Values needed before scoring (default 8).
    threshold
        Robust z-score at which a value breaches (default 4.0).
    consecutive
        Breaching windows in a row needed to fire (default 2).
    min_scale
        Floor of the scale, in the metric's units (default 1e-9).

    """

    def __init__(self, window: int = 24, warmup: int = 8, threshold: float = 4.0,
                 consecutive: int = 2, min_scale: float = 1e-9) -> None:
        if not 2 <= warmup <= window:
            raise ValueError(f"need 2 <= warmup <= window, got {warmup}, {window}")
        if consecutive < 1:
            raise ValueError(f"consecutive must be >= 1, got {consecutive}")
        self.window = window
        self.warmup = warmup
        self.threshold = threshold
        self.consecutive = consecutive
        self.min_scale = min_scale
        self._reset()

    def _reset(self) -> None:
        self.values: list[float] = []
        self.streak = 0

    def _scale(self, med: float) -> float:
        v = np.asarray(self.values)
        dev = np.abs(v - med)
        scale = 1.4826 * float(np.median(dev))
        if scale == 0.0:
            scale = 1.2533 * float(np.mean(dev))
        return max(scale, self.min_scale)

    def update(self, value: float) -> AnomalyResult:
        """Score ``value`` against the trailing values, then add it to them."""
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"value must be finite, got {value}")
        if len(self.values) < self.warmup:
            result = AnomalyResult(0.0, 1.0, False, False)
        else:
            med = float(np.median(self.values))
            z = (value - med) / self._scale(med)
            z = max(-_LARGE, min(_LARGE, z))
            breach = abs(z) >= self.threshold
            self.streak = self.streak + 1 if breach else 0
            p = float(2.0 * stats.norm.sf(abs(z)))
            result = AnomalyResult(z, p, breach, self.streak >= self.consecutive)
        self.values.append(value)
        del self.values[: -self.window]
        return result

    def test(self, value: float, metric: str) -> tuple[DriftTest, AnomalyResult]:
        """:meth:`update`, also as a :class:`DriftTest` (kind ``anomaly``) for the judge."""
        med = float(np.median(self.values)) if self.values else math.nan
        n_ref = len(self.values)
        r = self.update(value)
        t = DriftTest(metric, "anomaly", "robust_z", r.score, r.p_value, r.score, "robust_z",
                      1, n_ref, value, med, f"streak={self.streak}")
        return t, r

    def to_dict(self) -> dict[str, Any]:
        """JSON-able state (parameters included)."""
        return {
            "window": self.window, "warmup": self.warmup, "threshold": self.threshold,
            "consecutive": self.consecutive, "min_scale": self.min_scale,
            "values": list(self.values), "streak": self.streak,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RobustBaseline:
        b = cls(d["window"], d["warmup"], d["threshold"], d["consecutive"], d["min_scale"])
        b.values = [float(v) for v in d["values"]]
        b.streak = int(d["streak"])
        return b


class MultivariateIsolation:
    """IsolationForest over window feature vectors with split-conformal p-values.

    Parameters
    ----------
    n_estimators
        Trees in the forest (default 100).
    random_state
        Seed of the forest (default 0), so refits on the same reference are identical.
    min_reference
        Reference windows needed to fit (default 20).

    """

    def __init__(self, n_estimators: int = 100, random_state: int = 0,
                 min_reference: int = 20) -> None:
        self.n_estimators = n_estimators
        self.random_state = random_state
        self.min_reference = min_reference

    def fit(self, reference: Sequence[Sequence[float]] | np.ndarray) -> MultivariateIsolation:
        """Fit on the even rows of ``reference``, calibrate on the odd rows."""
        from sklearn.ensemble import IsolationForest

        x = np.asarray(reference, dtype=float)
        if x.ndim != 2 or x.shape[0] < self.min_reference:
            raise ValueError(f"need a 2-D reference with >= {self.min_reference} rows")
        self.forest_ = IsolationForest(
            n_estimators=self.n_estimators, random_state=self.random_state
        ).fit(x[0::2])
        self.calibration_scores_ = np.sort(self.forest_.score_samples(x[1::2]))
        return self

    def score(self, vector: Sequence[float]) -> float:
        """Empirical p-value of one window: small when it is more isolated than the reference."""
        s = float(self.forest_.score_samples(np.asarray(vector, dtype=float).reshape(1, -1))[0])
        cal = self.calibration_scores_
        at_least = int(np.searchsorted(cal, s, side="right"))  # lower score = more anomalous
        return (1 + at_least) / (cal.size + 1)

    def test(self, vector: Sequence[float], metric: str = "multivariate") -> DriftTest:
        p = self.score(vector)
        s = float(self.forest_.score_samples(np.asarray(vector, dtype=float).reshape(1, -1))[0])
        return DriftTest(metric, "multivariate", "isolation_forest_conformal", s, p, -s,
                         "isolation_score", 1, int(self.calibration_scores_.size), s,
                         float(np.median(self.calibration_scores_)))
