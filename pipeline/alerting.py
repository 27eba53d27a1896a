"""Alert lifecycle per dedup key (segment + detector + metric), and severity.

States: ``ok`` -> ``firing`` on a finding; re-notified while firing only after ``cooldown``;
``resolved`` after ``resolve_after`` consecutive tested windows without a finding. Windows in
which the metric could not be tested (too little data) leave the state unchanged.

Severity (documented in the README) grows with the effect relative to the metric's minimum
effect and with the deployment's risk tier; critical metrics (PII leaks, jailbreaks) are raised
one level:

==================  ===========  ======================  ===========
effect / minimum    risk: high   risk: medium / unknown  risk: low
==================  ===========  ======================  ===========
>= 4                critical     critical                warning
>= 2                critical     warning                 info
< 2                 warning      info                    info
==================  ===========  ======================  ===========
"""

from __future__ import annotations

from typing import Any

LEVELS = ("info", "warning", "critical")
_TABLE = {
    "high": ("warning", "critical", "critical"),
    "medium": ("info", "warning", "critical"),
    "low": ("info", "info", "warning"),
}


def severity(effect_ratio: float, risk_tier: str | None, critical_metric: bool) -> str:
    """Severity from |effect| / minimum effect, the risk tier and the metric's criticality.

    >>> severity(1.5, "high", False), severity(2.5, None, False), severity(5, "low", True)
    ('warning', 'warning', 'critical')
    """
    row = _TABLE.get((risk_tier or "medium").lower(), _TABLE["medium"])
    band = 2 if effect_ratio >= 4 else (1 if effect_ratio >= 2 else 0)
    level = LEVELS.index(row[band]) + int(critical_metric)
    return LEVELS[min(level, 2)]


def new_state() -> dict[str, Any]:
    return {"state": "ok", "since": None, "clean": 0, "notified": None}


def step(state: dict[str, Any], *, tested: bool, finding: bool, window_start: int,
         cooldown_ms: int, resolve_after: int) -> str | None:
    """Advance one window; returns ``"firing"``, ``"resolved"`` or ``None`` (no notification).

    >>> s = new_state()
    >>> [step(s, tested=True, finding=f, window_start=i * 60_000, cooldown_ms=600_000,
    ...       resolve_after=3) for i, f in enumerate([1, 1, 0, 0, 1, 0, 0, 0])]
    ['firing', None, None, None, None, None, None, 'resolved']
    """
    if not tested:
        return None
    if finding:
        state["clean"] = 0
        if state["state"] != "firing":
            state.update(state="firing", since=window_start, notified=window_start)
            return "firing"
        if window_start - state["notified"] >= cooldown_ms:
            state["notified"] = window_start
            return "firing"
        return None
    if state["state"] == "firing":
        state["clean"] += 1
        if state["clean"] >= resolve_after:
            state.update(state="ok", clean=0)
            return "resolved"
    return None
