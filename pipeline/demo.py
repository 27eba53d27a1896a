"""`postwatch demo`: up -> replay the demo scenario -> wait until every window is in
ClickHouse -> print a summary -> shut down."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from detectors.judge import base_metric
from pipeline.config import Config
from pipeline.publish import key_of, publish
from pipeline.query import SinkQuery
from pipeline.runtime import Supervisor
from pipeline.scenario import Scenario, build_demo_scenario, encode_event

DEMO_DEFAULTS: dict[str, Any] = {
    "window_seconds": 60,
    "allowed_lateness_seconds": 30,
    "idle_timeout_seconds": 3.0,
}


def publish_order(scenario: Scenario, seed: int) -> list[tuple[bytes | None, bytes]]:
    """Events in scenario order, malformed messages spread through them, and each duplicate
    re-sent a little after its original (as a producer retry would)."""
    rng = np.random.default_rng(seed + 7919)
    msgs: list[tuple[bytes | None, bytes]] = [encode_event(e) for e in scenario.events]
    position = {e["event_id"]: i for i, e in enumerate(scenario.events)}
    inserts: list[tuple[float, tuple[bytes | None, bytes]]] = []
    for dup in scenario.duplicates:
        inserts.append((position[dup["event_id"]] + 0.5 + int(rng.integers(1, 50)),
                        encode_event(dup)))
    n = len(msgs)
    for _name, raw, _reason in scenario.malformed:
        inserts.append((float(rng.integers(n // 10, max(n // 10 + 1, 9 * n // 10))) + 0.25,
                        (key_of(raw), raw)))
    for pos, msg in sorted(inserts, key=lambda x: x[0], reverse=True):
        msgs.insert(min(int(pos) + 1, len(msgs)), msg)
    return msgs


def wait_complete(q: SinkQuery, sup: Supervisor, expected_valid: int, expected_dead: int,
                  timeout: float) -> dict[str, int]:
    """Wait until ClickHouse holds every valid event, every dead letter, and a closed window
    for every on-time event."""
    db = sup.cfg.database
    deadline = time.monotonic() + timeout
    last: dict[str, int] = {}
    while time.monotonic() < deadline:
        sup.check_alive()
        row = q.rows(f"""
            SELECT
              (SELECT count() FROM {db}.interactions FINAL),
              (SELECT countIf(NOT late) FROM {db}.interactions FINAL),
              (SELECT sum(events) FROM {db}.segment_windows FINAL WHERE level = 'context'),
              (SELECT count() FROM {db}.dead_letters FINAL)""")[0]
        last = {"valid": int(row[0]), "on_time": int(row[1]), "windowed": int(row[2] or 0),
                "dead": int(row[3])}
        if (last["valid"] == expected_valid and last["dead"] == expected_dead
                and last["windowed"] == last["on_time"]):
            return last
        time.sleep(0.5)
    raise TimeoutError(f"demo did not complete in {timeout:.0f}s: have {last}, expected "
                       f"valid={expected_valid} dead={expected_dead}")


def collect_summary(q: SinkQuery, cfg: Config, scenario: Scenario, published: int,
                    counts: dict[str, int]) -> dict[str, Any]:
    db = cfg.database
    windows = q.rows(f"SELECT count(), countIf(level = 'context') "
                     f"FROM {db}.segment_windows FINAL")[0]
    alerts = q.dicts(f"""
        SELECT alert_id, status, severity, deployment_context, cohort, model, level, metric,
               direction,
               toUnixTimestamp64Milli(window_start) AS window_start_ms, observed, reference,
               p_value, n, evidence_event_ids, detector, test, reference_segment
        FROM {db}.alerts FINAL ORDER BY window_start, deployment_context, cohort, model, metric""")
    dead = q.rows(f"SELECT reason, count() FROM {db}.dead_letters FINAL GROUP BY reason "
                  f"ORDER BY reason")
    desc = scenario.describe()
    summary: dict[str, Any] = {
        "events_published": published,
        "events_valid": counts["valid"],
        "events_dead_lettered": counts["dead"],
        "events_duplicate_dropped": published - counts["valid"] - counts["dead"],
        "events_late": counts["valid"] - counts["on_time"],
        "windows_written": int(windows[0]),
        "context_windows": int(windows[1]),
        "dead_letter_reasons": {r: int(c) for r, c in dead},
        "scenario": desc,
        "alerts": [
            {
                "alert_id": a["alert_id"],
                "status": a["status"],
                "severity": a["severity"],
                "segment": {"deployment_context": a["deployment_context"], "cohort": a["cohort"],
                            "model": a["model"]},
                "level": a["level"],
                "metric": a["metric"],
                "direction": a["direction"],
                "window_start": a["window_start_ms"],
                "observed": a["observed"],
                "reference": a["reference"],
                "p_value": a["p_value"],
                "n": a["n"],
                "evidence_event_ids": a["evidence_event_ids"],
                "detector": a["detector"],
                "test": a["test"],
                "reference_segment": list(a["reference_segment"]),
            }
            for a in alerts
        ],
        "store": str(Path(cfg.store).resolve()),
        "state_dir": str(Path(cfg.state_dir).resolve()),
    }
    summary["detection"] = detection_report(summary)
    return summary


def detection_report(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """For each incident and the control: alerts in its segments, first alert delay."""
    rows = []
    scen = summary["scenario"]
    wms = scen["window_seconds"] * 1000
    targets = [(inc["kind"], inc["deployment_context"], c, inc["onset_window_start_ms"])
               for inc in scen["incidents"] for c in inc["cohorts"]]
    ctl = scen["control"]
    targets.append(("control", ctl["deployment_context"], ctl["cohort"], None))
    for kind, ctx, cohort, onset in targets:
        hits = [a for a in summary["alerts"] if a["segment"]["deployment_context"] == ctx
                and a["segment"]["cohort"] == cohort and a["status"] == "firing"]
        after = [a for a in hits if onset is None or a["window_start"] >= onset]
        first = min((a["window_start"] for a in after), default=None)
        by_metric: dict[str, int] = {}
        for a in after:
            if onset is not None:
                d = (a["window_start"] - onset) // wms
                by_metric[a["metric"]] = min(d, by_metric.get(a["metric"], d))
        rows.append({
            "kind": kind, "deployment_context": ctx, "cohort": cohort,
            "alerts": len(hits), "alerts_before_onset": len(hits) - len(after),
            "metrics": sorted({a["metric"] for a in hits}),
            "first_alert_delay_windows": None if first is None or onset is None
            else (first - onset) // wms,
            "delay_by_metric": dict(sorted(by_metric.items())),
        })
    return rows


def _metrics(row: dict[str, Any]) -> str:
    """Alerting metrics (a merged-window alert counted as its metric's), each with its first
    delay in windows after the onset."""
    by: dict[str, int | None] = {}
    for m in row["metrics"]:
        base = base_metric(m)
        d = (row.get("delay_by_metric") or {}).get(m)
        old = by.get(base)
        by[base] = d if old is None else old if d is None else min(d, old)
    return ",".join(m if d is None else f"{m}({d})" for m, d in by.items()) or "-"


def format_summary(s: dict[str, Any]) -> str:
    scen = s["scenario"]
    lines = [
        "postwatch demo summary",
        "=" * 72,
        f"data source           {scen['source']} (seed {scen['seed']}, {scen['minutes']} min "
        f"from {scen['start']})",
        f"events published      {s['events_published']}",
        f"events valid          {s['events_valid']}",
        f"dead-lettered         {s['events_dead_lettered']}  "
        + " ".join(f"{k}={v}" for k, v in s["dead_letter_reasons"].items()),
        f"duplicates dropped    {s['events_duplicate_dropped']}",
        f"late events           {s['events_late']}",
        f"windows written       {s['windows_written']} ({s['context_windows']} context-level)",
        f"alerts                {len(s['alerts'])} notifications "
        f"({sum(a['status'] == 'firing' for a in s['alerts'])} firing, "
        f"{sum(a['status'] == 'resolved' for a in s['alerts'])} resolved)",
        f"store                 {s['store']}",
        "",
        f"{'segment':<38}{'kind':<20}{'onset':>6}{'alerts':>8}{'delay':>7}  metrics",
        "-" * 72,
    ]
    onsets = {(i["deployment_context"], c): i["onset_minute"] for i in scen["incidents"]
              for c in i["cohorts"]}
    for r in s["detection"]:
        seg = f"{r['deployment_context']}/{r['cohort']}"
        onset = onsets.get((r["deployment_context"], r["cohort"]), "-")
        delay = r["first_alert_delay_windows"]
        lines.append(f"{seg:<38}{r['kind']:<20}{onset!s:>6}{r['alerts']:>8}"
                     f"{'-' if delay is None else delay!s:>7}  "
                     f"{_metrics(r)}")
    lines.append("")
    lines.append("first alert notifications (up to 12):")
    for a in s["alerts"][:12]:
        seg = a["segment"]
        minute = (a["window_start"] - scen["start_ms"]) // 60000
        name = f"{seg['deployment_context']}/{seg['cohort']}/{seg['model']}"
        lines.append(f"  min {minute:>3}  {a['status']:<9}{name:<40} {a['metric']:<15} "
                     f"{a['observed']:.3f} vs {a['reference']:.3f}  p={a['p_value']:.1e}")
    return "\n".join(lines)


def run_demo(cfg: Config, data_dir: Path | None, seed: int = 1, minutes: int = 60,
             per_segment_per_minute: int = 40, progress: bool = True, timeout: float = 600.0,
             say: Any = print) -> dict[str, Any]:
    now = int(time.time() * 1000)
    start_ms = now - now % 60_000 - (minutes + 2) * 60_000
    scenario = build_demo_scenario(data_dir, seed=seed, start_ms=start_ms, minutes=minutes,
                                   per_segment_per_minute=per_segment_per_minute,
                                   window_seconds=cfg.window_seconds)
    if scenario.source == "synthetic":
        say("No data directory found (--data-dir, $POSTWATCH_DATA_DIR or ../shared/data with "
            "the JailbreakBench, XSTest and Arena-Hard files; see shared/data/SOURCES.md): "
            "running the same scenario on the synthetic generator.")
    store = Path(cfg.store)
    if store.exists():
        shutil.rmtree(store)  # the demo always starts from an empty store
    state = Path(cfg.state_dir)
    state.mkdir(parents=True, exist_ok=True)
    truth_path = state / "ground_truth.jsonl"
    truth_path.write_bytes(b"".join(orjson.dumps(t) + b"\n" for t in scenario.truth))
    sup = Supervisor(cfg)
    try:
        say(f"starting broker, {cfg.workers} worker(s) and the sink ...")
        sup.start()
        msgs = publish_order(scenario, seed)
        published = publish(sup.cfg, msgs, total=len(msgs), progress=progress,
                            desc="replaying demo scenario")
        say(f"published {published} messages; waiting for every window to close ...")
        q = SinkQuery.for_config(sup.cfg)
        counts = wait_complete(q, sup, len(scenario.events), len(scenario.malformed), timeout)
        summary = collect_summary(q, sup.cfg, scenario, published, counts)
        summary["ground_truth"] = str(truth_path.resolve())
        return summary
    finally:
        sup.stop()
