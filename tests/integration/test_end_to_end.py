"""End to end on the real components: Tansu broker, Faust worker, sink, chdb store.

One pipeline run replays a 30-minute slice of the demo scenario built from the public data
(plus the malformed messages and duplicates), then a lone event in a new context.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fastjsonschema
import orjson
import pytest

from detectors.judge import base_metric
from pipeline.demo import collect_summary, publish_order, wait_complete
from pipeline.publish import publish
from pipeline.query import SinkQuery
from pipeline.runtime import Supervisor
from pipeline.scenario import Scenario, build_demo_scenario, encode_event
from tests.conftest import REPO, make_config

pytestmark = pytest.mark.integration

MINUTES = 30
SEED = 1
# a broken message that carries personal data: its excerpt must be stored redacted
PII_BAD = (b'{"event_id": "pii-bad", "deployment_context": "support-bot-eu", "note": '
           b'"reach me at jane.doe@example.com, card 4111 1111 1111 1111"')


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("e2e")
    cfg = make_config(tmp)
    now = int(time.time() * 1000)
    start = now - now % 60_000 - (MINUTES + 2) * 60_000
    scenario = build_demo_scenario(data_dir, seed=SEED, start_ms=start, minutes=MINUTES,
                                   per_segment_per_minute=40)
    sup = Supervisor(cfg)
    sup.start()
    try:
        scenario.malformed.append(("pii_not_json", PII_BAD, "not_json"))
        msgs = publish_order(scenario, SEED)
        published = publish(sup.cfg, msgs, progress=False)
        q = SinkQuery.for_config(sup.cfg)
        counts = wait_complete(q, sup, len(scenario.events), len(scenario.malformed), 240)
        summary = collect_summary(q, sup.cfg, scenario, published, counts)
        yield {"sup": sup, "q": q, "scenario": scenario, "summary": summary,
               "published": published, "db": sup.cfg.database}
    finally:
        sup.stop()


def test_scenario_slice_uses_real_data(run: dict[str, Any]) -> None:
    scen: Scenario = run["scenario"]
    assert scen.source == "real"
    assert run["published"] == len(scen.events) + len(scen.duplicates) + len(scen.malformed)


def test_window_counts_in_clickhouse_sum_to_the_valid_events_published(
        run: dict[str, Any]) -> None:
    q, db, scen = run["q"], run["db"], run["scenario"]
    valid_ids = {e["event_id"] for e in scen.events}
    for level in ("context", "cohort", "model"):
        total = q.rows(f"SELECT sum(events) FROM {db}.segment_windows FINAL "
                       f"WHERE level = '{level}'")[0][0]
        assert total == len(valid_ids), level
    stored = q.rows(f"SELECT count(), uniqExact(event_id) FROM {db}.interactions FINAL")[0]
    assert list(stored) == [len(valid_ids), len(valid_ids)]  # duplicates counted once
    per_ctx = dict(q.rows(f"SELECT deployment_context, sum(events) FROM {db}.segment_windows "
                          f"FINAL WHERE level = 'context' GROUP BY deployment_context"))
    expected: dict[str, int] = {}
    for e in scen.events:
        expected[e["deployment_context"]] = expected.get(e["deployment_context"], 0) + 1
    assert per_ctx == expected


def test_every_malformed_message_is_dead_lettered_with_its_reason(run: dict[str, Any]) -> None:
    q, db, scen = run["q"], run["db"], run["scenario"]
    rows = q.rows(f"SELECT sha256, reason, length FROM {db}.dead_letters FINAL")
    got = {sha: (reason, length) for sha, reason, length in rows}
    expected = {hashlib.sha256(raw).hexdigest(): (reason, len(raw))
                for _, raw, reason in scen.malformed}
    assert got == expected


def test_dead_letter_excerpts_are_capped_and_redacted(run: dict[str, Any]) -> None:
    q, db = run["q"], run["db"]
    lengths = q.rows(f"SELECT max(lengthUTF8(excerpt)) FROM {db}.dead_letters FINAL")[0][0]
    assert 0 < lengths <= 200
    sha = hashlib.sha256(PII_BAD).hexdigest()
    excerpt = q.rows(f"SELECT excerpt FROM {db}.dead_letters FINAL WHERE sha256 = '{sha}'")[0][0]
    assert "jane.doe@example.com" not in excerpt and "4111 1111 1111 1111" not in excerpt
    assert "[REDACTED:email]" in excerpt and "[REDACTED:card]" in excerpt


def test_alerts_fire_for_both_incidents_and_never_for_the_control(run: dict[str, Any]) -> None:
    summary, scen = run["summary"], run["scenario"]
    alerts = summary["alerts"]
    ctl = scen.control
    assert [a for a in alerts if a["segment"]["deployment_context"] == ctl["deployment_context"]
            and a["segment"]["cohort"] == ctl["cohort"]] == []
    jb = next(i for i in scen.incidents if i.kind == "jailbreak_campaign")
    onset = scen.window_start_ms(scen.onset_ms(jb))
    jb_alerts = [a for a in alerts if a["segment"]["deployment_context"] == jb.deployment_context
                 and a["segment"]["cohort"] == jb.cohorts[0]
                 and base_metric(a["metric"]) == "jailbreak_rate"]
    assert jb_alerts and min(a["window_start"] for a in jb_alerts) >= onset
    ms = next(i for i in scen.incidents if i.kind == "model_switch")
    ms_onset = scen.window_start_ms(scen.onset_ms(ms))
    ms_alerts = [a for a in alerts if a["segment"]["deployment_context"] == ms.deployment_context
                 and base_metric(a["metric"]) == "refusal_rate"]
    assert ms_alerts and min(a["window_start"] for a in ms_alerts) >= ms_onset
    assert all(a["observed"] > a["reference"] for a in ms_alerts if a["status"] == "firing")


def test_alerts_on_the_topic_match_the_schema_and_the_store(run: dict[str, Any]) -> None:
    from confluent_kafka import Consumer

    from pipeline.sink import bootstrap

    cfg = run["sup"].cfg
    validate = fastjsonschema.compile(
        orjson.loads((REPO / "schemas" / "alert.schema.json").read_bytes()))
    consumer = Consumer({"bootstrap.servers": bootstrap(cfg.broker), "group.id": "test-alerts",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([cfg.topics.alerts])
    ids: list[str] = []
    deadline = time.monotonic() + 30
    while len(ids) < len(run["summary"]["alerts"]) and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is not None and msg.error() is None:
            alert = orjson.loads(msg.value())
            validate(alert)
            ids.append(alert["alert_id"])
    consumer.close()
    assert sorted(ids) == sorted(a["alert_id"] for a in run["summary"]["alerts"])


def test_alerts_tail_prints_the_alerts_of_the_topic(run: dict[str, Any]) -> None:
    import subprocess
    import sys

    state = run["sup"].cfg.state_dir
    n = len(run["summary"]["alerts"])
    res = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "--state-dir", state, "alerts", "tail",
         "--from-beginning", "--max", str(n), "--timeout", "30"],
        capture_output=True, text=True, timeout=120, cwd=REPO)
    assert res.returncode == 0, res.stderr[-2000:]
    ids = [orjson.loads(line)["alert_id"] for line in res.stdout.splitlines()]
    assert sorted(ids) == sorted(a["alert_id"] for a in run["summary"]["alerts"])


def test_stored_text_is_redacted(run: dict[str, Any]) -> None:
    q, db = run["q"], run["db"]
    modes = q.rows(f"SELECT DISTINCT text_mode FROM {db}.interactions")
    assert modes == [["redacted"]] or modes == [("redacted",)]


def test_single_event_followed_by_silence_produces_a_closed_window(run: dict[str, Any]) -> None:
    sup, q, db = run["sup"], run["q"], run["db"]
    now = int(time.time() * 1000)
    ts = now - now % 60_000 - 120_000  # a window that ended more than the lateness ago
    event = {"event_id": "lonely-1", "timestamp": ts, "deployment_context": "lonely-context",
             "model": "m", "input": {"text": "hello"}, "output": {"text": "hi there"}}
    publish(sup.cfg, [encode_event(event)], progress=False)
    deadline = time.monotonic() + 60
    rows: list[Any] = []
    while not rows and time.monotonic() < deadline:
        sup.check_alive()
        rows = q.rows(f"SELECT level, events, closed_by, toUnixTimestamp64Milli(window_start) "
                      f"FROM {db}.segment_windows FINAL WHERE deployment_context = "
                      f"'lonely-context' ORDER BY level")
        time.sleep(0.5)
    assert [tuple(r) for r in rows] == [
        ("cohort", 1, "idle", ts - ts % 60_000),
        ("context", 1, "idle", ts - ts % 60_000),
        ("model", 1, "idle", ts - ts % 60_000),
    ]
