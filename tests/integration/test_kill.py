"""Kill tests on the real embedded broker: a worker SIGKILLed at points defined by its state
(pipeline.app's test-only ``POSTWATCH_FAULT``) and restarted by the supervisor leaves
ClickHouse identical to an uninterrupted run of the same input, and publishes no alert twice.

Every run here starts its own Tansu, worker(s), sink and chdb store. The input is synthetic
and deterministic: three deployment contexts (on partitions 0, 1 and 3 of 4), two cohorts and
two models each, 14 one-minute windows with a refusal-rate incident in one cohort and a
latency incident in another, then one event per context far enough ahead to close every
window by event-time watermark (the idle timer is an hour: it never fires)."""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka import Consumer, KafkaError, TopicPartition

from pipeline.config import Config
from pipeline.publish import publish
from pipeline.query import SinkQuery
from pipeline.runtime import Supervisor
from pipeline.scenario import encode_event
from pipeline.sink import bootstrap
from pipeline.windows import Message, Processor, partition_for
from tests.conftest import make_config

pytestmark = pytest.mark.integration

CONTEXTS = ("support", "billing", "coding")
PARTITIONS = 4
W = 60_000
T0 = 1_736_121_600_000  # 2025-01-06 00:00 UTC: a fixed past, so every run gets the same input
WINDOWS = 14
PER_WINDOW = 24  # events per context and window
REFUSAL = "I'm sorry, but I can't help with that."

# the deterministic columns compared (everything but inserted_at), and each table's key
TABLES = {
    "segment_windows": ("deployment_context, cohort, model, window_start", (
        "window_start", "window_end", "deployment_context", "cohort", "model", "level",
        "events", "refusal", "jailbreak", "pii_input", "pii_output", "error",
        "harmful_output", "harmful_request", "over_refusal", "jailbreak_success",
        "late_events", "overflow_events", "input_chars_sum", "output_chars_sum",
        "input_tokens_sum", "output_tokens_sum", "latency_sum_ms", "latency_count",
        "latency_max_ms", "latency_p50_ms", "latency_p95_ms", "first_event_ms",
        "last_event_ms", "sample_event_ids", "closed_by", "source_partition", "summary")),
    "drift_results": ("deployment_context, cohort, model, kind, metric, window_start", (
        "window_start", "window_end", "deployment_context", "cohort", "model", "level",
        "metric", "kind", "test", "statistic", "p_value", "effect", "effect_name", "observed",
        "reference", "n", "n_ref", "detail", "reference_segment", "reference_kind", "fdr_q",
        "bh_rejected", "finding")),
    "alerts": ("alert_id", (
        "alert_id", "dedup_key", "status", "severity", "detector", "detector_version",
        "config_hash", "deployment_context", "cohort", "model", "level", "metric",
        "direction", "window_start", "window_end", "observed", "reference", "effect",
        "effect_name", "test", "statistic", "p_value", "n", "n_ref", "reference_segment",
        "evidence_event_ids", "summary")),
}


def synthetic_events() -> list[dict[str, Any]]:
    """The input, in publish order (by event time, contexts interleaved)."""
    events = []
    for w in range(WINDOWS):
        for k in range(PER_WINDOW):
            for c, ctx in enumerate(CONTEXTS):
                i = len(events)
                cohort = ("free", "pro")[k % 2]
                refusing = ctx == "support" and cohort == "pro" and w in (9, 10)
                refuse = (k // 2) % 3 != 2 if refusing else (k // 2) % 12 == 0
                slow = ctx == "billing" and cohort == "free" and w in (10, 11, 12)
                events.append({
                    "event_id": f"{ctx}-{w}-{k}",
                    "timestamp": T0 + w * W + k * 2_400 + c * 100,
                    "deployment_context": ctx, "cohort": cohort,
                    "model": {"name": ("m1", "m2")[(k // 2) % 2]},
                    "input": {"text": f"question {i % 17} about topic {k % 5} in {ctx}",
                              "tokens": 8 + i % 13},
                    "output": {"text": REFUSAL if refuse else
                               f"Sure, here is how: step {i % 7}, then step {k % 3}.",
                               "tokens": 12 + (i * 7) % 40},
                    "latency_ms": (3.0 if slow else 1.0) * (200 + (i * 37) % 150),
                })
    end = T0 + (WINDOWS + 2) * W
    events += [{"event_id": f"{ctx}-end", "timestamp": end, "deployment_context": ctx,
                "cohort": "free", "model": {"name": "m1"}, "input": {"text": "last question"},
                "output": {"text": "last answer"}} for ctx in CONTEXTS]
    return events


def settings(tmp: Path, **kw: Any) -> Config:
    base: dict[str, Any] = {
        "partitions": PARTITIONS, "window_seconds": 60, "allowed_lateness_seconds": 0,
        "idle_timeout_seconds": 3600.0, "silence_timeout_seconds": 0,
        "min_window_events": 10, "min_reference_events": 60, "reference_block_windows": 2,
        "reference_blocks": 3, "batch_size": 40,
    }
    base.update(kw)
    return make_config(tmp, **base)


def expected_counts(cfg: Config, events: list[dict[str, Any]]) -> dict[str, int]:
    """Rows each table gets, from the pure core over the same per-partition input (the
    completion condition of a run; the values are compared between runs)."""
    by_partition: dict[int, list[bytes]] = {}
    for e in events:
        by_partition.setdefault(partition_for(e["deployment_context"], cfg.partitions),
                                []).append(orjson.dumps(e))
    counts = Counter[str]()
    now = int(time.time() * 1000)
    for p, values in by_partition.items():
        store: dict[str, Any] = {}
        proc = Processor(cfg, p, store.get)
        out = proc.process([Message(i, v, timestamp_ms=now) for i, v in enumerate(values)],
                           now_ms=now)
        counts["segment_windows"] += len(out.windows)
        counts["drift_results"] += len(out.drift)
        counts["alerts"] += len(out.alerts)
        counts["interactions"] += len(out.evaluated)
    return dict(counts)


@dataclass
class Result:
    tables: dict[str, list[dict[str, Any]]]
    alert_ids: list[str]  # every alert message on the anomalies topic, in topic order
    restarts: dict[str, int]
    logs: dict[str, str]


def _counts(q: SinkQuery) -> dict[str, int]:
    sql = " UNION ALL ".join(
        f"SELECT '{t}', count() FROM postwatch.{t} FINAL"
        for t in ("segment_windows", "drift_results", "alerts", "interactions"))
    return {str(t): int(n) for t, n in q.rows(sql)}


def _snapshot(q: SinkQuery) -> dict[str, list[dict[str, Any]]]:
    return {t: q.dicts(f"SELECT {', '.join(cols)} FROM postwatch.{t} FINAL ORDER BY {key}")
            for t, (key, cols) in TABLES.items()}


def anomaly_ids(cfg: Config, timeout: float = 30.0) -> list[str]:
    """Every alert id on the anomalies topic, read from the start to the end."""
    consumer = Consumer({"bootstrap.servers": bootstrap(cfg.broker),
                         "group.id": f"kill-test-{time.monotonic_ns()}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "enable.partition.eof": True})
    try:
        consumer.assign([TopicPartition(cfg.topics.alerts, p) for p in range(cfg.partitions)])
        ids, at_end = [], set()
        deadline = time.monotonic() + timeout
        while len(at_end) < cfg.partitions and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    at_end.add(msg.partition())
                    continue
                raise RuntimeError(str(msg.error()))
            at_end.discard(msg.partition())
            ids.append(orjson.loads(msg.value())["alert_id"])
        assert len(at_end) == cfg.partitions, "the anomalies topic was not read to its end"
        return ids
    finally:
        consumer.close()


def run_pipeline(tmp: Path, events: list[dict[str, Any]], expected: dict[str, int],
                 fault: str | None = None, workers: int = 1,
                 stages: list[Callable[[Supervisor], None]] | None = None,
                 timeout: float = 150.0) -> Result:
    """Start postwatch (embedded broker), publish ``events`` in ``len(stages) + 1`` equal
    parts calling ``stages[i]`` after part i, supervise (restart what crashed) until every
    table holds the expected number of rows, then read the tables and the anomalies topic."""
    cfg = settings(tmp, workers=workers)
    sup = Supervisor(cfg, worker_env={"POSTWATCH_FAULT": fault} if fault else {})
    sup.start()
    try:
        parts = len(stages or []) + 1
        size = math.ceil(len(events) / parts)
        for i in range(parts):
            publish(sup.cfg, [encode_event(e) for e in events[i * size:(i + 1) * size]],
                    progress=False)
            if stages and i < len(stages):
                stages[i](sup)
        q = SinkQuery.for_config(sup.cfg)
        deadline = time.monotonic() + timeout
        got: dict[str, int] = {}
        while time.monotonic() < deadline:
            sup.supervise()
            got = _counts(q)
            if got == expected or any(got[k] > n for k, n in expected.items()):
                break  # (rows have unique keys: a count above the expected one stays above)
            time.sleep(0.5)
        logs = {p.stem: p.read_text(errors="replace")
                for p in (Path(cfg.state_dir) / "logs").glob("*.log")}
        assert got == expected, (got, expected, {k: v[-3000:] for k, v in logs.items()})
        return Result(_snapshot(q), anomaly_ids(sup.cfg), dict(sup.restarts), logs)
    finally:
        sup.stop()


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or math.isclose(a, b, rel_tol=1e-9) or (math.isnan(a) and math.isnan(b))
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def assert_identical(got: Result, want: Result) -> None:
    """Same rows in every table: counts and strings exactly (summaries byte-equal), floats to
    1e-9 relative."""
    for table, rows in want.tables.items():
        other = got.tables[table]
        assert len(other) == len(rows), table
        for r, o in zip(rows, other, strict=True):
            diff = {k: (v, o[k]) for k, v in r.items() if not _same(v, o[k])}
            assert not diff, (table, {k: r[k] for k in TABLES[table][0].split(", ")}, diff)


def uninterrupted(tmp_path_factory: pytest.TempPathFactory
                  ) -> tuple[Result, list[dict[str, Any]], dict[str, int]]:
    """The uninterrupted run: once per session (kept in the session's temporary directory,
    shared with test_rebalance)."""
    saved = tmp_path_factory.getbasetemp() / "uninterrupted.json"
    events = synthetic_events()
    expected = expected_counts(settings(Path("/nonexistent")), events)
    if saved.exists():
        return Result(**orjson.loads(saved.read_bytes())), events, expected
    result = run_pipeline(tmp_path_factory.mktemp("uninterrupted"), events, expected)
    # what makes the comparisons worth something: alerts, findings, BH decisions both ways
    drift = result.tables["drift_results"]
    assert len(result.tables["alerts"]) >= 4 and {r["level"] for r in drift} >= {
        "context", "cohort"}
    assert any(r["finding"] for r in drift) and not all(r["bh_rejected"] for r in drift)
    assert sorted(result.alert_ids) == sorted(r["alert_id"] for r in result.tables["alerts"])
    saved.write_bytes(orjson.dumps(result.__dict__))
    return result, events, expected


def fired(result: Result, faults: str) -> None:
    """Every fault point fired, once."""
    log = "".join(v for k, v in result.logs.items() if k.startswith("worker"))
    for fault in faults.split(","):
        assert log.count(f"test fault point {fault}: SIGKILL") == 1, fault


@pytest.mark.parametrize("fault", [
    # (a) after a flush's state values are on the broker, before its offsets are acknowledged
    "worker:after_state_write:6",
    # (b) with a window open whose applied events are in the written state
    "worker:window_open:9",
    # two crashes in the middle of the changelog writes: of the flush of partition 0
    # ("support") that closed its incident window and fired its first alerts, and of the
    # first flush of partition 1 ("billing") that fired alerts; all but the last two writes
    # of each (the context-level segment and the partition meta) landed. The replay closes
    # those windows of the context-level segment alone: BH on that partial family would
    # reject support's context refusal-rate test (an alert the uninterrupted run does not
    # have), and billing's context-level alert would be published again
    "worker:alert@0:1:-2,worker:alert@1:1:-2",
])
def test_worker_killed_at_a_state_defined_point_matches_the_uninterrupted_run(
        tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, fault: str) -> None:
    want, events, expected = uninterrupted(tmp_path_factory)
    got = run_pipeline(tmp_path, events, expected, fault=fault)
    fired(got, fault)
    assert got.restarts == {"worker-0": len(fault.split(","))}
    assert_identical(got, want)
    assert sorted(got.alert_ids) == sorted(want.alert_ids)
    duplicates = [i for i, n in Counter(got.alert_ids).items() if n > 1]
    assert duplicates == []
