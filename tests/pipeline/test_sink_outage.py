"""A ClickHouse outage seen by the sink: nothing is lost, retries back off, the bounded buffer
fills and consumption pauses, memory stays under a stated cap, and every row lands exactly
once when ClickHouse is back. Meanwhile the workers, which never wait for the sink, keep
publishing alerts to `anomalies`.

The one stand-in in these tests is the outage itself: a ClickHouse server going away cannot be
produced with the in-process engine (chdb), so the client the sink is given raises, at the
client boundary, the ``OperationalError`` clickhouse-connect raises when its HTTP request cannot
connect; every other call goes to the real chdb client. The 60 seconds of the outage pass on a
fake clock handed to the sink (its ``clock`` and ``sleep``). The broker (Tansu), the result
topics, the consumer and the chdb store are real. Each run is a subprocess (chdb binds one
store per process): ``python -m tests.pipeline.test_sink_outage <mode> <dir>`` prints a JSON
report as its last line.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from detectors.judge import base_metric
from tests.conftest import REPO

W = 60_000
OUTAGE_SECONDS = 60.0
BUFFER_BYTES = 64 * 1024  # sink_buffer_bytes in these runs
# the stated memory cap while ClickHouse is down: growth of the Python heap (tracemalloc peak,
# from the sink's start to its first successful insert) while ~50 buffers' worth of backlog
# waits on the topics. Four buffers: the buffer itself, the retried batch's rows (a quarter of
# the buffer as JSON, a few times that as Python objects), one consume() call's messages and
# the sink's own objects. Measured here: ~150 KB. A sink that kept consuming would hold >3 MB.
MEMORY_CAP_BYTES = 4 * BUFFER_BYTES
REFUSAL = "I'm sorry, but I can't help with that."
CONTEXTS = ("alpha", "beta", "gamma")
# per one-minute window: the refusal rate; a full quiet reference block, an incident, quiet again
PLAN = [0.05] * 6 + [0.5] * 3 + [0.05] * 6
KEYS = {  # the deterministic key of each table's rows (its ReplacingMergeTree sort key)
    "interactions": ("event_id",),
    "segment_windows": ("deployment_context", "cohort", "model", "window_start"),
    "drift_results": ("deployment_context", "cohort", "model", "kind", "metric",
                      "window_start"),
    "alerts": ("alert_id",),
    "dead_letters": ("source_topic", "source_partition", "source_offset"),
}


# ---- the run (in a subprocess) ----------------------------------------------------------------
class FakeClock:
    """Stands in for time.monotonic/time.sleep in the sink: sleeping advances it at once."""

    def __init__(self, real_pause: float = 0.0) -> None:
        self.now = 1_000.0
        self.real_pause = real_pause  # yield the CPU a little (a worker shares the machine)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        if self.real_pause:
            time.sleep(self.real_pause)


class ClickHouseDown:
    """THE ONE MOCK: ClickHouse unreachable. While ``down()`` is true, ``insert`` raises what
    clickhouse-connect raises when the server cannot be reached; every call (and every insert
    once it is back) goes to the real chdb client. It records the fake time of every insert
    attempt, and the sink's state and the Python heap peak at the first insert that succeeds."""

    def __init__(self, real: Any, clock: FakeClock, down: Callable[[], bool]) -> None:
        self.real = real
        self.clock = clock
        self.down = down
        self.failed_at: list[float] = []
        self.first_success: dict[str, Any] | None = None
        self.sink: Any = None
        self.heap_base = 0

    def insert(self, *args: Any, **kwargs: Any) -> Any:
        from clickhouse_connect.driver.exceptions import OperationalError

        if self.down():
            self.failed_at.append(self.clock())
            raise OperationalError("Error HTTPConnectionPool(host='clickhouse', port=8123): "
                                   "Max retries exceeded (Connection refused) executing HTTP "
                                   "request")
        if self.first_success is None:
            s = self.sink
            self.first_success = {
                "at": self.clock(), "paused": s.paused, "pauses": s.pauses,
                "buffer_bytes": s.buffer_bytes, "buffer_messages": len(s.buffer),
                "buffer_bytes_peak": s.buffer_bytes_peak, "rows_written": sum(
                    s.rows_written.values()), "batches_committed": s.batches_committed,
                "heap_peak": tracemalloc.get_traced_memory()[1] - self.heap_base,
            }
        return self.real.insert(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def plan_events(start_ms: int, contexts: tuple[str, ...] = CONTEXTS) -> list[bytes]:
    """40 events a minute per context following PLAN; the incident raises refusal alerts."""
    out = []
    for w, rate in enumerate(PLAN):
        every = round(1 / rate)
        for k in range(40):
            for ctx in contexts:
                i = len(out)
                ts = start_ms + w * W + k * 1_000
                out.append(orjson.dumps({
                    "event_id": f"{ctx}-{i}", "timestamp": ts, "deployment_context": ctx,
                    "cohort": "free", "model": {"name": "m1"},
                    "input": {"text": f"How do I bake bread number {i}? " * 5},
                    "output": {"text": REFUSAL if k % every == 0 else "Sure: step 1. " * 20},
                    "latency_ms": 100.0 + i % 40}))
    return out


def worker_outputs(cfg: Any, start_ms: int) -> Any:
    """What a worker publishes for the plan (the worker's pure core, run here in-process)."""
    from pipeline.windows import Message, Processor

    gen = cfg.with_(partitions=1)
    msgs = [Message(i, v, timestamp_ms=orjson.loads(v)["timestamp"])
            for i, v in enumerate(plan_events(start_ms))]
    msgs.append(Message(len(msgs), b"not json {", timestamp_ms=start_ms))
    return Processor(gen, 0, lambda key: None).process(msgs, now_ms=start_ms + len(PLAN) * W)


def produce_outputs(cfg: Any, out: Any) -> dict[str, Any]:
    """Publish the outputs to the result topics in small messages spread over the partitions,
    as a backlog; returns the expected rows per table (count and distinct keys)."""
    from confluent_kafka import Producer

    from pipeline.sink import bootstrap

    producer = Producer({"bootstrap.servers": bootstrap(cfg.broker), "linger.ms": 20})
    t = cfg.topics
    sent = 0
    nbytes = 0

    def send(topic: str, value: bytes, headers: list[tuple[str, bytes]] | None = None) -> None:
        nonlocal sent, nbytes
        while True:
            try:
                producer.produce(topic, value=value, partition=sent % cfg.partitions,
                                 headers=headers)
                break
            except BufferError:
                producer.poll(0.1)
        sent += 1
        nbytes += len(value)

    for topic, records in ((t.evaluated, out.evaluated), (t.windows, out.windows),
                           (t.drift, out.drift)):
        for i in range(0, len(records), 2):  # two records a message: many small messages
            send(topic, orjson.dumps(records[i:i + 2]))
    for alert in out.alerts:
        send(t.alerts, orjson.dumps(alert))
    for dl in out.dead_letters:
        send(t.dlq, dl["raw"], [
            ("postwatch-reason", dl["reason"].encode()),
            ("postwatch-detail", dl["detail"].encode()),
            ("postwatch-sha256", dl["sha256"].encode()),
            ("postwatch-length", str(dl["length"]).encode()),
            ("postwatch-source", f"{t.input}:{dl['source_partition']}:"
                                 f"{dl['source_offset']}".encode())])
    producer.flush(30)

    def keys(table: str, records: list[dict[str, Any]]) -> list[list[Any]]:
        if table == "alerts":
            return [[r["alert_id"]] for r in records]
        if table == "dead_letters":
            return [[t.input, r["source_partition"], r["source_offset"]] for r in records]
        return [[r[k] for k in KEYS[table]] for r in records]

    expected = {}
    for table, records in (("interactions", out.evaluated), ("segment_windows", out.windows),
                           ("drift_results", out.drift), ("alerts", out.alerts),
                           ("dead_letters", out.dead_letters)):
        ks = keys(table, records)
        expected[table] = {"records": len(records),
                           "distinct": len({orjson.dumps(k) for k in ks})}
    expected["window_events"] = sum(r["events"] for r in out.windows if r["level"] == "context")
    return {"messages": sent, "bytes": nbytes, "tables": expected}


def stored(client: Any, db: str) -> dict[str, Any]:
    """Rows per table as stored: with FINAL, without, and distinct keys."""
    res: dict[str, Any] = {}
    for table, key in KEYS.items():
        final = client.query(f"SELECT count() FROM {db}.{table} FINAL").result_rows[0][0]
        raw = client.query(f"SELECT count() FROM {db}.{table}").result_rows[0][0]
        distinct = client.query(
            f"SELECT uniqExact(tuple({', '.join(key)})) FROM {db}.{table}").result_rows[0][0]
        res[table] = {"final": final, "raw": raw, "distinct": distinct}
    res["window_events"] = client.query(
        f"SELECT sum(events) FROM {db}.segment_windows FINAL WHERE level = 'context'"
    ).result_rows[0][0]
    res["rejects"] = client.query(f"SELECT count() FROM {db}.sink_rejects").result_rows[0][0]
    return res


def wait_drained(cfg: Any, sink_thread: threading.Thread, ends: dict[str, int] | None = None,
                 timeout: float = 120.0) -> None:
    """Until the sink group has committed every result-topic message (or its thread died)."""
    from pipeline.sink import committed_offsets, end_offsets

    ends = end_offsets(cfg.broker, cfg.topics.outputs()) if ends is None else ends
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and sink_thread.is_alive():
        if committed_offsets(cfg.broker, f"{cfg.app_id}-sink", ends) == ends:
            return
        time.sleep(0.5)
    raise TimeoutError(f"the sink did not drain the result topics (alive: "
                       f"{sink_thread.is_alive()})")


def run_outage(tmp: Path) -> dict[str, Any]:
    """Backlog on the result topics, ClickHouse down for 60 s of fake time, then back."""
    from pipeline.config import Config
    from pipeline.runtime import ensure_topics, start_tansu
    from pipeline.sink import Sink, connect, end_offsets

    broker, url = start_tansu(log_path=tmp / "tansu.log")
    try:
        cfg = Config(broker=url, store=str(tmp / "store"), state_dir=str(tmp / "state"),
                     partitions=4, window_seconds=60, allowed_lateness_seconds=0,
                     min_window_events=20, min_reference_events=100, control_token="t",
                     sink_buffer_bytes=BUFFER_BYTES, sink_batch_rows=50,
                     sink_flush_seconds=0.2).validate()
        ensure_topics(cfg)
        now = int(time.time() * 1000)
        start = now - now % W - (len(PLAN) + 5) * W
        produced = produce_outputs(cfg, worker_outputs(cfg, start))
        clock = FakeClock()
        real = connect(cfg)
        outage_start: list[float] = []

        def down() -> bool:  # down from the first insert until 60 s (fake) later
            if not outage_start:
                outage_start.append(clock())
            return clock() < outage_start[0] + OUTAGE_SECONDS

        client = ClickHouseDown(real, clock, down)
        sink = Sink(cfg, client=real, sleep=clock.sleep, clock=clock)
        sink.prepare()  # migrations on the real client; the outage starts with the first write
        client.sink = sink
        sink.client = client
        ends = end_offsets(cfg.broker, cfg.topics.outputs())  # before measuring the heap
        tracemalloc.start()
        client.heap_base = tracemalloc.get_traced_memory()[0]
        thread = threading.Thread(target=sink.run, daemon=True)
        thread.start()
        try:
            wait_drained(cfg, thread, ends)
        finally:
            sink.stop.set()
            thread.join(30)
        tracemalloc.stop()
        return {"produced": produced, "failed_at": client.failed_at,
                "first_success": client.first_success, "stored": stored(real, cfg.database),
                "retries": sink.retries, "pauses": sink.pauses,
                "buffer_bytes_peak": sink.buffer_bytes_peak, "bad_messages": sink.bad_messages}
    finally:
        broker.terminate()
        broker.wait(15)


def read_topic(cfg: Any, topic: str, group: str) -> list[Any]:
    """Every message on a topic so far (a fresh consumer group from the beginning)."""
    from confluent_kafka import Consumer, KafkaError, TopicPartition

    from pipeline.sink import bootstrap, end_offsets

    c = Consumer({"bootstrap.servers": bootstrap(cfg.broker), "group.id": group,
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    out = []
    try:
        tps = [TopicPartition(topic, p, 0) for p in range(cfg.partitions)]
        ends = {int(k.rsplit(":", 1)[1]): v for k, v in end_offsets(cfg.broker, [topic]).items()}
        c.assign(tps)
        pos = {p: 0 for p in ends}
        while any(pos[p] < ends[p] for p in ends):
            for m in c.consume(500, 1.0):
                if m.error() is None:
                    out.append(m.value())
                    pos[m.partition()] = m.offset() + 1
                elif m.error().code() != KafkaError._PARTITION_EOF:
                    raise RuntimeError(str(m.error()))
    finally:
        c.close()
    return out


def run_alerts_while_down(tmp: Path) -> dict[str, Any]:
    """A real Faust worker and a sink whose ClickHouse is down until the alerts of an incident
    are on `anomalies`; then ClickHouse comes back and the store is compared with the topics."""
    from pipeline.config import Config
    from pipeline.publish import publish
    from pipeline.runtime import _die_with_parent, ensure_topics, start_tansu
    from pipeline.sink import Sink, committed_offsets, connect, end_offsets

    broker, url = start_tansu(log_path=tmp / "tansu.log")
    worker = None
    try:
        cfg = Config(broker=url, store=str(tmp / "store"), state_dir=str(tmp / "state"),
                     partitions=2, window_seconds=60, allowed_lateness_seconds=0,
                     min_window_events=20, min_reference_events=100, control_token="t",
                     idle_timeout_seconds=1000.0, sink_buffer_bytes=BUFFER_BYTES,
                     sink_batch_rows=50, sink_flush_seconds=0.2, broker_session_timeout=6.0,
                     broker_heartbeat_interval=1.0, broker_rebalance_timeout=8.0).validate()
        ensure_topics(cfg)
        (tmp / "state" / "logs").mkdir(parents=True, exist_ok=True)
        cfg_path = tmp / "config.json"
        cfg_path.write_bytes(cfg.to_json())
        worker = subprocess.Popen(
            [sys.executable, "-m", "pipeline.cli", "--config-json", str(cfg_path), "worker"],
            stdout=open(tmp / "state" / "logs" / "worker.log", "ab"),  # noqa: SIM115
            stderr=subprocess.STDOUT, preexec_fn=_die_with_parent, cwd=REPO)
        clock = FakeClock(real_pause=0.01)
        real = connect(cfg)
        outage = threading.Event()
        outage.set()
        client = ClickHouseDown(real, clock, outage.is_set)
        sink = Sink(cfg, client=real, sleep=clock.sleep, clock=clock)
        sink.prepare()
        client.sink = sink
        sink.client = client
        thread = threading.Thread(target=sink.run, daemon=True)
        thread.start()
        now = int(time.time() * 1000)
        start = now - now % W - (len(PLAN) + 5) * W
        events = plan_events(start, CONTEXTS[:2])
        publish(cfg, [(orjson.loads(v)["deployment_context"].encode(), v) for v in events],
                progress=False)
        # wait for the incident's refusal alert of both contexts on the topic
        from confluent_kafka import Consumer, KafkaError

        from pipeline.sink import bootstrap

        c = Consumer({"bootstrap.servers": bootstrap(cfg.broker), "group.id": "oncall",
                      "auto.offset.reset": "earliest"})
        c.subscribe([cfg.topics.alerts])
        seen: list[dict[str, Any]] = []
        deadline = time.monotonic() + 120
        want = {(ctx, "refusal_rate", "firing") for ctx in CONTEXTS[:2]}
        while time.monotonic() < deadline:
            assert worker.poll() is None, "the worker died"
            for m in c.consume(100, 0.5):
                if m.error() is None:
                    seen.append(orjson.loads(m.value()))
                elif m.error().code() != KafkaError._PARTITION_EOF:
                    raise RuntimeError(str(m.error()))
            got = {(a["segment"]["deployment_context"], base_metric(a["metric"]), a["status"])
                   for a in seen if a["level"] == "context"}
            if want <= got and sink.paused:
                break
        c.close()
        at_alerts = {"alerts_seen": len(seen), "contexts_alerted": sorted(
            {a["segment"]["deployment_context"] for a in seen
             if base_metric(a["metric"]) == "refusal_rate" and a["status"] == "firing"}),
            "sink_rows_written": sum(sink.rows_written.values()),
            "sink_failed_inserts": len(client.failed_at), "sink_paused": sink.paused,
            "sink_buffer_bytes": sink.buffer_bytes, "sink_buffer_messages": len(sink.buffer),
            "largest_message": sink._max_message, "fake_seconds_down": clock() - 1_000.0}
        # the worker has done its part once its group committed the whole input
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert worker.poll() is None, "the worker died"
            ends = end_offsets(cfg.broker, [cfg.topics.input])
            if committed_offsets(cfg.broker, cfg.app_id, ends) == ends:
                break
            time.sleep(0.5)
        worker.terminate()
        worker.wait(30)
        worker = None
        outage.clear()  # ClickHouse is back
        try:
            wait_drained(cfg, thread)
        finally:
            sink.stop.set()
            thread.join(30)
        # what the topics hold, table by table, against what the store holds
        topics: dict[str, Any] = {}
        for table, topic in (("interactions", cfg.topics.evaluated),
                             ("segment_windows", cfg.topics.windows),
                             ("drift_results", cfg.topics.drift)):
            recs = [r for v in read_topic(cfg, topic, f"check-{table}") for r in orjson.loads(v)]
            topics[table] = len({orjson.dumps([r[k] for k in KEYS[table]]) for r in recs})
        alerts = [orjson.loads(v) for v in read_topic(cfg, cfg.topics.alerts, "check-alerts")]
        topics["alerts"] = len({a["alert_id"] for a in alerts})
        topics["alert_ids_duplicated"] = sum(
            n - 1 for n in Counter(a["alert_id"] for a in alerts).values())
        return {"at_alerts": at_alerts, "events": len(events), "topics": topics,
                "stored": stored(real, cfg.database), "failed_inserts": len(client.failed_at),
                "first_success": client.first_success}
    finally:
        if worker is not None:
            worker.kill()
            worker.wait(10)
        broker.terminate()
        broker.wait(15)


# ---- the tests ------------------------------------------------------------------------------
def _run(mode: str, tmp: Path) -> dict[str, Any]:
    res = subprocess.run([sys.executable, "-m", "tests.pipeline.test_sink_outage", mode,
                          str(tmp)], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert res.returncode == 0, res.stderr[-4000:]
    return dict(orjson.loads(res.stdout.strip().splitlines()[-1]))


@pytest.mark.integration
def test_sixty_second_outage_loses_nothing_backs_off_pauses_and_lands_every_row_once(
        tmp_path: Path) -> None:
    r = _run("outage", tmp_path)
    produced, fs = r["produced"], r["first_success"]
    # backoff: 0.2 s doubling, capped at 30 s, until 60 s (fake) after the first failure
    gaps = [b - a for a, b in zip(r["failed_at"], r["failed_at"][1:], strict=False)]
    assert gaps == pytest.approx([0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6])
    assert len(r["failed_at"]) == r["retries"] == 9
    assert fs["at"] - r["failed_at"][0] == pytest.approx(81.0)  # the ninth backoff: 30 s
    # the backlog is ~50 buffers; the sink took one buffer's worth and paused
    assert produced["bytes"] > 40 * BUFFER_BYTES
    assert fs["paused"] and r["pauses"] >= 1
    assert fs["rows_written"] == 0 and fs["batches_committed"] == 0
    assert 0 < fs["buffer_bytes"] <= BUFFER_BYTES
    assert r["buffer_bytes_peak"] <= BUFFER_BYTES
    assert fs["heap_peak"] < MEMORY_CAP_BYTES
    # every row once: with FINAL, and even without (retried batches kept their dedup token)
    st = r["stored"]
    for table, exp in produced["tables"].items():
        if table == "window_events":
            continue
        assert exp["records"] == exp["distinct"] > 0, table
        assert st[table] == {"final": exp["distinct"], "raw": exp["distinct"],
                             "distinct": exp["distinct"]}, table
    # every window but the last (still open: nothing later closed it) of the three contexts
    assert st["window_events"] == produced["tables"]["window_events"] == (len(PLAN) - 1) * 40 * 3
    assert st["rejects"] == 0 and r["bad_messages"] == 0


@pytest.mark.integration
def test_alerts_reach_anomalies_while_the_sink_cannot_write(tmp_path: Path) -> None:
    r = _run("alerts", tmp_path)
    at = r["at_alerts"]
    # the incident's alerts were on the topic while nothing had been written and the sink,
    # its buffer full, had paused: the worker did not wait for it
    assert at["contexts_alerted"] == ["alpha", "beta"]
    assert at["sink_rows_written"] == 0 and at["sink_failed_inserts"] >= 1
    # bounded: over the cap only by one message larger than the cap on its own (the worker
    # publishes evaluated events in chunks of up to 512 KiB)
    assert at["sink_paused"] and at["sink_buffer_messages"] > 0
    assert (at["sink_buffer_bytes"] <= BUFFER_BYTES
            or (at["sink_buffer_messages"] == 1
                and at["sink_buffer_bytes"] == at["largest_message"]))
    # once ClickHouse is back, the store holds exactly what the topics hold
    st, topics = r["stored"], r["topics"]
    assert topics["interactions"] == r["events"] == 1200
    assert topics["alert_ids_duplicated"] == 0
    for table in ("interactions", "segment_windows", "drift_results", "alerts"):
        assert st[table]["final"] == st[table]["distinct"] == topics[table] > 0, table
    assert st["rejects"] == 0


if __name__ == "__main__":
    mode, directory = sys.argv[1], Path(sys.argv[2])
    report = {"outage": run_outage, "alerts": run_alerts_while_down}[mode](directory)
    print(orjson.dumps(report).decode())
