"""The sink: consumes the workers' result topics and writes ClickHouse.

With the embedded default it is the one process that owns the chdb store; against a ClickHouse
server any number of sinks may run in the same consumer group. Writes are batched and
idempotent: every row has a deterministic key (ReplacingMergeTree) and every insert carries an
``insert_deduplication_token`` derived from the Kafka offsets it holds, so a retried insert is
dropped by ClickHouse. Offsets are committed only after the insert succeeded. A loopback HTTP
endpoint serves read-only queries, since no other process may open the chdb store.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import signal
import struct
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import clickhouse_connect
import orjson
from clickhouse_connect.driver.exceptions import OperationalError
from confluent_kafka import Consumer, KafkaError, Message

from detectors.pii import redact
from pipeline.config import Config

log = logging.getLogger("postwatch.sink")

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "schemas" / "clickhouse"
EXCERPT_CHARS = 200
REJECT_AFTER_FAILURES = 3

COLUMNS: dict[str, list[str]] = {
    "interactions": [
        "event_id", "timestamp", "deployment_context", "cohort", "model", "model_version",
        "source_partition", "source_offset", "late", "refusal", "jailbreak", "pii_input",
        "pii_output", "error", "harmful_output", "harmful_request", "over_refusal",
        "jailbreak_success", "refusal_score", "jailbreak_score", "harmful_request_score",
        "harmful_output_score",
        "pii_kinds", "pii_input_kinds", "pii_output_kinds", "input_chars", "output_chars",
        "input_tokens", "output_tokens", "latency_ms", "finish_reason", "scores", "input_text",
        "output_text", "text_mode", "truncated",
    ],
    "segment_windows": [
        "window_start", "window_end", "deployment_context", "cohort", "model", "level", "events",
        "refusal", "jailbreak", "pii_input", "pii_output", "error", "harmful_output",
        "harmful_request", "over_refusal", "jailbreak_success", "late_events",
        "overflow_events", "input_chars_sum", "output_chars_sum", "input_tokens_sum",
        "output_tokens_sum", "latency_sum_ms", "latency_count", "latency_max_ms",
        "latency_p50_ms", "latency_p95_ms", "first_event_ms", "last_event_ms",
        "sample_event_ids", "closed_by", "source_partition", "summary",
    ],
    "drift_results": [
        "window_start", "window_end", "deployment_context", "cohort", "model", "level", "metric",
        "kind", "test", "statistic", "p_value", "effect", "effect_name", "observed", "reference",
        "n", "n_ref", "detail", "reference_segment", "reference_kind", "fdr_q", "bh_rejected",
        "finding",
    ],
    "alerts": [
        "alert_id", "dedup_key", "status", "severity", "detector", "detector_version",
        "config_hash", "deployment_context", "cohort", "model",
        "level", "metric", "direction", "window_start", "window_end", "observed", "reference",
        "effect", "effect_name", "test", "statistic", "p_value", "n", "n_ref", "reference_segment",
        "evidence_event_ids", "summary",
    ],
    "dead_letters": [
        "source_topic", "source_partition", "source_offset", "reason", "detail", "length",
        "sha256", "excerpt", "dlq_partition", "dlq_offset", "received_at",
    ],
}


def connect(cfg: Config, create: bool = True) -> Any:
    dsn = cfg.clickhouse_dsn()
    if dsn.startswith("chdb:") and create:
        Path(cfg.store).mkdir(parents=True, exist_ok=True)
    return clickhouse_connect.get_client(dsn=dsn)


def migrate(client: Any, database: str) -> list[str]:
    """Apply the numbered migrations in order, once each; returns the names applied now."""
    client.command(f"CREATE DATABASE IF NOT EXISTS {database}")
    client.command(
        f"CREATE TABLE IF NOT EXISTS {database}.schema_migrations "
        "(version UInt32, name String, applied_at DateTime DEFAULT now()) "
        "ENGINE = ReplacingMergeTree ORDER BY version"
    )
    done = {r[0] for r in client.query(
        f"SELECT version FROM {database}.schema_migrations FINAL").result_rows}
    applied = []
    for path in sorted(MIGRATIONS_DIR.glob("[0-9][0-9][0-9][0-9]_*.sql")):
        version = int(path.name[:4])
        if version in done:
            continue
        sql = "\n".join(line for line in path.read_text().splitlines()
                        if not line.lstrip().startswith("--")).replace("{db}", database)
        for statement in (s.strip() for s in sql.split(";")):
            if statement:
                client.command(statement)
        client.insert(f"{database}.schema_migrations", [[version, path.name]],
                      column_names=["version", "name"])
        applied.append(path.name)
    return applied


def _row(table: str, rec: dict[str, Any]) -> list[Any]:
    return [rec.get(c) for c in COLUMNS[table]]


def rows_from_message(topic_table: str, msg: Message) -> list[list[Any]]:
    """Turn one result-topic message into rows of its table."""
    value = msg.value() or b""
    if topic_table == "dead_letters":
        headers = {k: v for k, v in (msg.headers() or [])}
        src_topic, src_part, src_off = headers["postwatch-source"].decode().rsplit(":", 2)
        text = value.decode("utf-8", errors="replace")
        return [[
            src_topic, int(src_part), int(src_off),
            headers["postwatch-reason"].decode(),
            redact(headers["postwatch-detail"].decode("utf-8", "replace"))[:500],
            int(headers["postwatch-length"]), headers["postwatch-sha256"].decode(),
            redact(text)[:EXCERPT_CHARS], msg.partition(), msg.offset(),
            msg.timestamp()[1] or int(time.time() * 1000),
        ]]
    data = orjson.loads(value)
    records = data if isinstance(data, list) else [data]
    rows = []
    for rec in records:
        if topic_table == "segment_windows":
            rec = {**rec, "summary": base64.b64decode(rec.get("summary") or "")}
        if topic_table == "alerts":
            seg, ref = rec["segment"], rec["reference_segment"]
            rec = {**rec, **seg,
                   "reference_segment": [ref["deployment_context"], ref["cohort"], ref["model"]]}
        rows.append(_row(topic_table, rec))
    return rows


def dedup_token(table: str, spans: dict[tuple[str, int], list[int]]) -> str:
    parts = sorted((t, p, lo_hi[0], lo_hi[1]) for (t, p), lo_hi in spans.items())
    return hashlib.sha256(orjson.dumps([table, parts])).hexdigest()


class Sink:
    def __init__(self, cfg: Config, client: Any | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.cfg = cfg
        self.client = client if client is not None else connect(cfg)
        self.lock = threading.Lock()
        self.sleep = sleep
        self.table_of = {
            cfg.topics.evaluated: "interactions",
            cfg.topics.windows: "segment_windows",
            cfg.topics.drift: "drift_results",
            cfg.topics.alerts: "alerts",
            cfg.topics.dlq: "dead_letters",
        }
        self.stop = threading.Event()
        self.rows_written: dict[str, int] = defaultdict(int)
        self.bad_messages = 0
        self.rejected = 0

    # -- writing ---------------------------------------------------------------------------
    def write_batch(self, messages: list[Message]) -> None:
        """Insert the rows of a batch, one insert per table, retrying with backoff."""
        per_table: dict[str, list[list[Any]]] = defaultdict(list)
        spans: dict[str, dict[tuple[str, int], list[int]]] = defaultdict(dict)
        for msg in messages:
            table = self.table_of[msg.topic()]
            try:
                rows = rows_from_message(table, msg)
            except (orjson.JSONDecodeError, KeyError, ValueError, TypeError, AttributeError):
                self.bad_messages += 1
                log.error("skipping malformed message on %s:%s@%s", msg.topic(),
                          msg.partition(), msg.offset())
                continue
            per_table[table].extend(rows)
            span = spans[table].setdefault((msg.topic(), msg.partition()),
                                           [msg.offset(), msg.offset()])
            span[0], span[1] = min(span[0], msg.offset()), max(span[1], msg.offset())
        for table, rows in per_table.items():
            if rows:
                self._insert(table, rows, dedup_token(table, spans[table]))

    def _insert(self, table: str, rows: list[list[Any]], token: str) -> None:
        """Insert with retries. Connection trouble is retried with backoff for as long as it
        lasts; any other failure is retried a few times, then the batch is split in halves
        until the rows that cannot be written are isolated and set aside in ``sink_rejects``,
        so one bad value never blocks the rows behind it."""
        delay, failures = 0.2, 0
        while True:
            try:
                with self.lock:
                    self.client.insert(f"{self.cfg.database}.{table}", rows,
                                       column_names=COLUMNS[table],
                                       settings={"insert_deduplication_token": token})
                self.rows_written[table] += len(rows)
                return
            except Exception as e:  # classified below: transient, or a row that cannot fit
                if self.stop.is_set():
                    raise
                transient = isinstance(e, OperationalError | OSError)
                failures += 0 if transient else 1
                # a value the client cannot serialise fails the same way every time: split now
                client_side = isinstance(e, TypeError | ValueError | OverflowError | struct.error)
                if failures >= REJECT_AFTER_FAILURES or (client_side and not transient):
                    if len(rows) == 1:
                        self._reject(table, rows[0], e)
                        return
                    mid = len(rows) // 2
                    self._insert(table, rows[:mid], f"{token}-a")
                    self._insert(table, rows[mid:], f"{token}-b")
                    return
                log.warning("insert into %s failed (%s); retrying in %.1fs", table,
                            str(e).splitlines()[0][:300] if str(e) else type(e).__name__, delay)
                self.sleep(delay)
                delay = min(delay * 2, 30.0)

    def _reject(self, table: str, row: list[Any], error: Exception) -> None:
        # stdlib json: unlike orjson it takes integers of any size, the usual culprit here
        record = json.dumps(dict(zip(COLUMNS[table], row, strict=True)), default=str)
        log.error("setting aside a row of %s that cannot be written: %s", table,
                  str(error).splitlines()[0][:300] if str(error) else type(error).__name__)
        self.rejected += 1
        with self.lock:
            self.client.insert(f"{self.cfg.database}.sink_rejects",
                               [[table, f"{type(error).__name__}: {error}"[:2000],
                                 record[:100_000]]],
                               column_names=["target_table", "error", "row"])

    # -- reading ---------------------------------------------------------------------------
    def query(self, sql: str) -> dict[str, Any]:
        with self.lock:
            result = self.client.query(sql, settings={"readonly": 1})
        return {"columns": list(result.column_names), "rows": result.result_rows}

    # -- main loop -------------------------------------------------------------------------
    def consumer(self) -> Consumer:
        return Consumer({
            "bootstrap.servers": bootstrap(self.cfg.broker),
            "group.id": f"{self.cfg.app_id}-sink",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 10_000,
            "heartbeat.interval.ms": 1_000,
        })

    def prepare(self) -> None:
        with self.lock:
            applied = migrate(self.client, self.cfg.database)
        if applied:
            log.info("applied migrations %s", applied)

    def run(self) -> None:
        consumer = self.consumer()
        consumer.subscribe(self.cfg.topics.outputs())
        try:
            while not self.stop.is_set():
                msgs = consumer.consume(num_messages=self.cfg.sink_batch_rows,
                                        timeout=self.cfg.sink_flush_seconds)
                good = []
                for m in msgs:
                    err = m.error()
                    if err is None:
                        good.append(m)
                    elif err.code() != KafkaError._PARTITION_EOF:
                        log.warning("consumer error: %s", err)
                if good:
                    self.write_batch(good)
                    consumer.commit(asynchronous=False)
        finally:
            consumer.close()


def bootstrap(broker: str) -> str:
    return ",".join(u.removeprefix("kafka://") for u in broker.split(","))


def serve_queries(sink: Sink, port: int) -> ThreadingHTTPServer:
    """Read-only SQL over loopback HTTP: POST /query with the SQL as the body."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._reply(200, {"status": "ok", "rows_written": dict(sink.rows_written)})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            sql = self.rfile.read(length).decode("utf-8")
            try:
                self._reply(200, sink.query(sql))
            except Exception as e:
                self._reply(400, {"error": str(e).splitlines()[0][:500]})

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            data = orjson.dumps(body, default=str, option=orjson.OPT_NON_STR_KEYS)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True, name="query-server").start()
    return server


def sink_info_path(cfg: Config) -> Path:
    return Path(cfg.store).resolve().with_suffix(".sink.json")


def run_sink(cfg: Config) -> None:
    sink = Sink(cfg)
    server = serve_queries(sink, cfg.query_port)
    info = sink_info_path(cfg) if cfg.embedded_store() else None

    def _stop(*_: Any) -> None:
        sink.stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        sink.prepare()
        if info is not None:
            info.write_bytes(orjson.dumps({
                "pid": os.getpid(), "query_url": f"http://127.0.0.1:{server.server_port}/query",
                "store": str(Path(cfg.store).resolve())}))
        sink.run()
    finally:
        server.shutdown()
        if info is not None:
            info.unlink(missing_ok=True)
