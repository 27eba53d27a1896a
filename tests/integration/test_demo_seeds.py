"""`postwatch demo` over seeds, one configuration for all: both incidents alert within two
windows of their onset, the new model is judged against its parent, the control stays quiet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from detectors.judge import base_metric
from pipeline.demo import DEMO_DEFAULTS, run_demo
from tests.conftest import make_config

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("seed", [1, 2])
def test_demo_incidents_alert_within_two_windows_and_the_control_stays_quiet(
        seed: int, tmp_path: Path, data_dir: Path) -> None:
    cfg = make_config(tmp_path, **DEMO_DEFAULTS)
    s = run_demo(cfg, data_dir, seed=seed, progress=False, say=lambda *_: None)
    scen = s["scenario"]
    firing = [a for a in s["alerts"] if a["status"] == "firing"]

    def alerts(ctx: str, cohort: str) -> list[dict[str, Any]]:
        return [a for a in firing if a["segment"]["deployment_context"] == ctx
                and a["segment"]["cohort"] == cohort]

    ctl = scen["control"]
    assert alerts(ctl["deployment_context"], ctl["cohort"]) == []
    for inc in scen["incidents"]:
        onset = inc["onset_window_start_ms"]
        for cohort in inc["cohorts"]:
            hits = alerts(inc["deployment_context"], cohort)
            assert hits, (inc["kind"], cohort)
            assert all(a["window_start"] >= onset for a in hits)  # nothing before the onset
            first: dict[str, int] = {}  # metric (":recent" merged into its base) -> delay
            for a in hits:
                m = base_metric(a["metric"])
                first[m] = min(first.get(m, 99), (a["window_start"] - onset) // 60_000)
            if inc["kind"] == "jailbreak_campaign":
                assert first.get("jailbreak_rate", 99) <= 2, (cohort, first)
                assert first.get("harmful_output_rate", 99) <= 2, (cohort, first)
                text = [first[m] for m in first if m.split(":")[0] in (
                    "input_chars", "input_tokens", "input_text")]
                assert text and min(text) <= 2, (cohort, first)  # input length or text drift
            else:
                assert first.get("refusal_rate", 99) <= 2, (inc["kind"], cohort, first)
            if inc["kind"] == "model_switch":
                new_model = [a for a in hits if a["segment"]["model"] != "*"
                             and base_metric(a["metric"]) == "refusal_rate"]
                assert new_model and min(new_model, key=lambda a: a["window_start"])[
                    "reference_segment"] == [
                    inc["deployment_context"], cohort, "*"]
    delays = {(d["kind"], d["cohort"]): d["first_alert_delay_windows"] for d in s["detection"]}
    assert all(v is not None and v <= 2 for k, v in delays.items() if k[0] != "control")
