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
import itertools
import json
import logging
import os
import signal
import struct
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import clickhouse_connect
import orjson
from clickhouse_connect.driver.exceptions import OperationalError
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from detectors.pii import redact
from pipeline.config import Config

log = logging.getLogger("postwatch.sink")

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "schemas" / "clickhouse"
EXCERPT_CHARS = 200
REJECT_AFTER_FAILURES = 3
RETRY_FIRST_SECONDS = 0.2
RETRY_MAX_SECONDS = 30.0

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
    return clickhouse_connect.get_client(dsn=dsn, **cfg.clickhouse_options())


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


class ClickHouseUnavailableError(Exception):
    """ClickHouse cannot be reached; the batch is kept and retried after a backoff."""


def message_bytes(msg: Message) -> int:
    """What a buffered message holds: its value and key."""
    return len(msg.value() or b"") + len(msg.key() or b"")


FAULT_ENV = "POSTWATCH_FAULT"
SINK_FAULT_POINTS = ("buffer_nonempty", "after_insert")


def parse_faults(spec: str, role: str = "sink") -> dict[str, int]:
    """Test-only fault points of one role, ``<role>:<point>:<n>`` separated by commas; other
    roles' entries (the worker's have their own form) are ignored: ``"sink:after_insert:2,
    worker:alert@1:3"`` gives ``{"after_insert": 2}``."""
    points: dict[str, int] = {}
    for part in (p.strip() for p in spec.split(",")):
        if not part.startswith(role + ":"):
            continue
        fields = part.split(":")
        if len(fields) != 3 or fields[1] not in SINK_FAULT_POINTS or not fields[2].isdigit():
            raise ValueError(f"bad fault {part!r}: {role}:<point>:<n>, point one of "
                             f"{', '.join(SINK_FAULT_POINTS)}")
        points[fields[1]] = int(fields[2])
    return points


def fault_marker(state_dir: str, spec: str) -> Path:
    """The file whose existence says a fault point has fired (the worker's form)."""
    return Path(state_dir) / f"fault-fired-{hashlib.sha256(spec.encode()).hexdigest()[:12]}"


class Sink:
    """Consumes the result topics into a bounded buffer and writes it to ClickHouse.

    Batches are written in consumption order, at most ``sink_batch_rows`` messages and a quarter
    of the buffer each; offsets are committed per batch, only after its rows are in. When
    ClickHouse cannot be reached, the batch is retried after 0.2 s, doubling to 30 s, for as long
    as the outage lasts, and consumption goes on meanwhile until the next message would not fit
    in ``sink_buffer_bytes``: that message is given back (the partition is rewound to it) and the
    consumer is paused, until writes succeed and the buffer is below half the cap. Waits between
    retries go through ``sleep`` and ``clock`` so a test can stand a fake clock in for real time.
    """

    def __init__(self, cfg: Config, client: Any | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.cfg = cfg
        self.client = client if client is not None else connect(cfg)
        self.lock = threading.Lock()
        self.sleep = sleep
        self.clock = clock
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
        # the bounded buffer: consumed, not yet written messages; its head is the batch
        self.buffer: deque[Message] = deque()
        self.buffer_bytes = 0
        self.buffer_bytes_peak = 0
        self.batch_len = 0  # messages at the buffer's head that form the batch being written
        self.batch_rows: dict[str, tuple[list[list[Any]], str]] | None = None
        self.batch_done: set[str] = set()  # tables of that batch already inserted
        self.paused = False
        self.pauses = 0  # times consumption was paused because the buffer was full
        self.retries = 0  # failed write attempts (each followed by a backoff)
        self.retry_delay = 0.0
        self.retry_at: float | None = None
        self.batches_committed = 0
        self._paused_parts: set[tuple[str, int]] = set()
        self._max_message = 0  # largest message seen: sizes each consume to the buffer's room
        # the setting, or the variable in this process's environment (as the worker reads it)
        self._faults = parse_faults(f"{cfg.fault},{os.environ.get(FAULT_ENV, '')}")
        self._fault_counts: dict[str, int] = defaultdict(int)

    # -- writing ---------------------------------------------------------------------------
    def prepare_batch(self, messages: list[Message]) -> dict[str, tuple[list[list[Any]], str]]:
        """Rows per table of a batch, with the insert deduplication token of each table."""
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
        return {table: (rows, dedup_token(table, spans[table]))
                for table, rows in per_table.items() if rows}

    def write_batch(self, messages: list[Message],
                    prepared: dict[str, tuple[list[list[Any]], str]] | None = None,
                    done: set[str] | None = None) -> None:
        """Insert the rows of a batch, one insert per table. Raises
        :class:`ClickHouseUnavailableError` when ClickHouse cannot be reached; ``done`` collects
        the tables already inserted, so a retry of the same batch skips them (and would be
        deduplicated anyway: same token)."""
        prepared = self.prepare_batch(messages) if prepared is None else prepared
        done = set() if done is None else done
        for table, (rows, token) in prepared.items():
            if table not in done:
                self._insert(table, rows, token)
                done.add(table)

    def _insert(self, table: str, rows: list[list[Any]], token: str) -> None:
        """Insert one table's rows. Connection trouble raises
        :class:`ClickHouseUnavailableError` (the run loop retries the batch with backoff, for
        as long as it lasts); any other failure
        is retried a few times, then the batch is split in halves until the rows that cannot
        be written are isolated and set aside in ``sink_rejects``, so one bad value never
        blocks the rows behind it."""
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
                if isinstance(e, OperationalError | OSError):
                    raise ClickHouseUnavailableError(_first_line(e)) from e
                if self.stop.is_set():
                    raise
                failures += 1
                # a value the client cannot serialise fails the same way every time: split now
                client_side = isinstance(e, TypeError | ValueError | OverflowError | struct.error)
                if failures >= REJECT_AFTER_FAILURES or client_side:
                    if len(rows) == 1:
                        self._reject(table, rows[0], e)
                        return
                    mid = len(rows) // 2
                    self._insert(table, rows[:mid], f"{token}-a")
                    self._insert(table, rows[mid:], f"{token}-b")
                    return
                log.warning("insert into %s failed (%s); retrying in %.1fs", table,
                            _first_line(e), delay)
                self.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_SECONDS)

    def _reject(self, table: str, row: list[Any], error: Exception) -> None:
        # stdlib json: unlike orjson it takes integers of any size, the usual culprit here
        record = json.dumps(dict(zip(COLUMNS[table], row, strict=True)), default=str)
        log.error("setting aside a row of %s that cannot be written: %s", table,
                  _first_line(error))
        try:
            with self.lock:
                self.client.insert(f"{self.cfg.database}.sink_rejects",
                                   [[table, f"{type(error).__name__}: {error}"[:2000],
                                     record[:100_000]]],
                                   column_names=["target_table", "error", "row"])
        except (OperationalError, OSError) as e:
            raise ClickHouseUnavailableError(_first_line(e)) from e
        self.rejected += 1

    # -- reading ---------------------------------------------------------------------------
    def query(self, sql: str) -> dict[str, Any]:
        with self.lock:
            result = self.client.query(sql, settings={"readonly": 1})
        return {"columns": list(result.column_names), "rows": result.result_rows}

    # -- main loop -------------------------------------------------------------------------
    def consumer(self) -> Consumer:
        # librdkafka's own prefetch queue is bounded too (it is emptied while paused)
        queued_kb = max(256, min(65536, self.cfg.sink_buffer_bytes // 2048))
        session = self.cfg.broker_session_timeout or 10.0  # a restarted sink waits this out
        heartbeat = self.cfg.broker_heartbeat_interval or 1.0
        return Consumer({
            **self.cfg.kafka_client_config(),  # bootstrap servers and SASL/TLS
            "group.id": f"{self.cfg.app_id}-sink",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": int(session * 1000),
            "heartbeat.interval.ms": int(heartbeat * 1000),
            "queued.max.messages.kbytes": queued_kb,
            # refetch soon after a resume (librdkafka waits 1 s when its queue was full)
            "fetch.queue.backoff.ms": 50,
        })

    def prepare(self) -> None:
        with self.lock:
            applied = migrate(self.client, self.cfg.database)
        if applied:
            log.info("applied migrations %s", applied)

    def run(self, consumer: Consumer | None = None) -> None:
        consumer = consumer if consumer is not None else self.consumer()
        consumer.subscribe(self.cfg.topics.outputs(), on_revoke=self._on_revoke)
        try:
            while not self.stop.is_set():
                self.step(consumer)
            if self.buffer and self._backoff_left() <= 0:
                self._write_buffer(consumer)  # a clean stop writes what it holds, if it can
        finally:
            consumer.close()

    def step(self, consumer: Consumer) -> None:
        """One turn of the loop: consume (unless paused), then write or wait out a backoff.

        A write happens once a batch is full, or the consumer has caught up (it returned fewer
        messages than asked for within ``sink_flush_seconds``), or consumption is paused. Each
        consume asks for no more messages than the buffer has room for at the largest message
        size seen, so a pause (which costs librdkafka up to a second to refetch) is rare unless
        ClickHouse is down."""
        wait = self._backoff_left()
        flush = self.cfg.sink_flush_seconds
        asked = got = 0
        if not self.paused:
            asked = self._room_messages()
            got = self._fetch(consumer, asked, min(wait, flush) if wait > 0 else flush)
        else:
            self._resume(consumer)  # e.g. a rebalance took the buffered partitions away
            if self.paused:
                self._sync_pause(consumer)
            self._add(consumer, self._good(consumer.consume(num_messages=1, timeout=0)))
        wait = self._backoff_left()
        if wait > 0:
            if self.paused or not got:
                self.sleep(min(wait, flush))
            return
        if self.buffer and (self.paused or got < asked or self._batch_ready()):
            self._write_buffer(consumer)

    def _room_messages(self) -> int:
        room = self.cfg.sink_buffer_bytes - self.buffer_bytes
        return max(1, min(self.cfg.sink_batch_rows, room // max(self._max_message, 1)))

    def _batch_ready(self) -> bool:
        return (len(self.buffer) >= self.cfg.sink_batch_rows
                or self.buffer_bytes >= self.cfg.sink_buffer_bytes // 4)

    def _backoff_left(self) -> float:
        return 0.0 if self.retry_at is None else self.retry_at - self.clock()

    @staticmethod
    def _good(msgs: list[Message]) -> list[Message]:
        good = []
        for m in msgs:
            err = m.error()
            if err is None:
                good.append(m)
            elif err.code() != KafkaError._PARTITION_EOF:
                log.warning("consumer error: %s", err)
        return good

    def _fetch(self, consumer: Consumer, num: int, timeout: float) -> int:
        msgs = self._good(consumer.consume(num_messages=num, timeout=timeout))
        self._add(consumer, msgs)
        return len(msgs)

    def _add(self, consumer: Consumer, msgs: list[Message]) -> None:
        """Buffer messages while they fit; the first that does not is given back (its
        partition, and any other partition after it in ``msgs``, is rewound) and consumption
        pauses. An empty buffer always takes one message, however large."""
        cap = self.cfg.sink_buffer_bytes
        for i, msg in enumerate(msgs):
            size = message_bytes(msg)
            if self.buffer and self.buffer_bytes + size > cap:
                self._pause(consumer)
                rewind: dict[tuple[str, int], int] = {}
                for m in msgs[i:]:
                    rewind.setdefault((m.topic(), m.partition()), m.offset())
                for (topic, part), offset in rewind.items():
                    try:
                        consumer.seek(TopicPartition(topic, part, offset))
                    except KafkaException as e:  # keep them rather than lose them
                        log.warning("could not rewind %s:%s (%s); keeping its messages",
                                    topic, part, e)
                        for m in msgs[i:]:
                            if (m.topic(), m.partition()) == (topic, part):
                                self._append(m)
                break
            self._append(msg)

    def _append(self, msg: Message) -> None:
        size = message_bytes(msg)
        self.buffer.append(msg)
        self.buffer_bytes += size
        self._max_message = max(self._max_message, size)
        self.buffer_bytes_peak = max(self.buffer_bytes_peak, self.buffer_bytes)

    def _pause(self, consumer: Consumer) -> None:
        if not self.paused:
            self.paused = True
            self.pauses += 1
            # routine while catching up on a backlog; worth a warning while ClickHouse is down
            log.log(logging.WARNING if self.retry_at is not None else logging.DEBUG,
                    "sink buffer full (%d bytes); pausing consumption", self.buffer_bytes)
        self._sync_pause(consumer)

    def _sync_pause(self, consumer: Consumer) -> None:
        """Keep every assigned partition paused while paused (a rebalance assigns new ones)."""
        assigned = consumer.assignment()
        now = {(tp.topic, tp.partition) for tp in assigned}
        if now != self._paused_parts:
            consumer.pause(assigned)
            self._paused_parts = now

    def _resume(self, consumer: Consumer) -> None:
        if self.paused and self.buffer_bytes <= self.cfg.sink_buffer_bytes // 2:
            consumer.resume(consumer.assignment())
            self.paused = False
            self._paused_parts = set()

    def _next_batch(self) -> list[Message]:
        if self.batch_len == 0:
            limit, size, n = self.cfg.sink_buffer_bytes // 4, 0, 0
            for msg in self.buffer:
                if n >= self.cfg.sink_batch_rows or (n and size + message_bytes(msg) > limit):
                    break
                size += message_bytes(msg)
                n += 1
            self.batch_len, self.batch_rows, self.batch_done = n, None, set()
        return list(itertools.islice(self.buffer, self.batch_len))

    def _write_buffer(self, consumer: Consumer) -> None:
        """Write the buffer batch by batch, committing each batch's offsets after its rows
        are in; on connection trouble, keep the batch and schedule a retry."""
        while self.buffer:
            batch = self._next_batch()
            if self.batch_rows is None:  # a new batch (not a retry)
                self._fault("buffer_nonempty")
                self.batch_rows = self.prepare_batch(batch)
            try:
                self.write_batch(batch, self.batch_rows, self.batch_done)
            except ClickHouseUnavailableError as e:
                self.retries += 1
                self.retry_delay = (RETRY_FIRST_SECONDS if self.retry_delay == 0
                                    else min(self.retry_delay * 2, RETRY_MAX_SECONDS))
                self.retry_at = self.clock() + self.retry_delay
                log.warning("ClickHouse unavailable (%s); %d messages buffered, retrying in "
                            "%.1fs", e, len(self.buffer), self.retry_delay)
                return
            self.retry_delay, self.retry_at = 0.0, None
            self._fault("after_insert")
            self._commit(consumer, batch)
            for _ in range(self.batch_len):
                self.buffer_bytes -= message_bytes(self.buffer.popleft())
            self.batch_len, self.batch_rows, self.batch_done = 0, None, set()
            self.batches_committed += 1
        self._resume(consumer)

    def _commit(self, consumer: Consumer, batch: list[Message]) -> None:
        """Commit the next offset of every partition in the batch (not the consumer's
        position: messages behind the batch are consumed but not written)."""
        nxt: dict[tuple[str, int], int] = {}
        for m in batch:
            key = (m.topic(), m.partition())
            nxt[key] = max(nxt.get(key, 0), m.offset() + 1)
        try:
            consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in nxt.items()],
                            asynchronous=False)
        except KafkaException as e:  # e.g. the partitions moved to another sink meanwhile
            log.warning("offset commit failed (%s); the rows are written and a replay is "
                        "deduplicated", e)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Partitions taken away: their unwritten messages go to the new owner, who reads
        them from the committed offsets, so they are dropped here."""
        gone = {(tp.topic, tp.partition) for tp in partitions}
        kept = [m for m in self.buffer if (m.topic(), m.partition()) not in gone]
        if len(kept) != len(self.buffer):
            self.buffer = deque(kept)
            self.buffer_bytes = sum(message_bytes(m) for m in kept)
            self.batch_len, self.batch_rows, self.batch_done = 0, None, set()
        self._paused_parts -= gone

    def _fault(self, point: str) -> None:
        """Test-only: SIGKILL this process the n-th time ``point`` is reached in it (``fault``
        setting or ``POSTWATCH_FAULT``: ``sink:<point>:<n>``), once per state directory (a
        marker file ``fault-fired-*`` there, as for the worker's fault points).

        ``buffer_nonempty``: a new batch is about to be written (it, and whatever is buffered
        behind it, is consumed but neither written nor committed); ``after_insert``: a batch's
        rows are written, its offsets not yet committed."""
        n = self._faults.get(point)
        if n is None:
            return
        self._fault_counts[point] += 1
        if self._fault_counts[point] != n:
            return
        spec = f"sink:{point}:{n}"
        marker = fault_marker(self.cfg.state_dir, spec)
        marker.parent.mkdir(parents=True, exist_ok=True)
        try:
            with open(marker, "x") as fh:  # once, across restarts
                fh.write(f"{spec}: {len(self.buffer)} messages, {self.buffer_bytes} bytes "
                         f"buffered\n")
        except FileExistsError:
            return
        log.critical("fault injection: SIGKILL at %s with %d messages buffered", spec,
                     len(self.buffer))
        os.kill(os.getpid(), signal.SIGKILL)


def _first_line(e: BaseException) -> str:
    return str(e).splitlines()[0][:300] if str(e) else type(e).__name__


def bootstrap(broker: str) -> str:
    return ",".join(u.removeprefix("kafka://") for u in broker.split(","))


def end_offsets(broker: str, topics: list[str], timeout: float = 10.0,
                client_config: dict[str, Any] | None = None) -> dict[str, int]:
    """The next offset of every partition of ``topics`` (``"topic:partition"`` keys);
    ``client_config`` (:meth:`Config.kafka_client_config`) replaces the bare bootstrap
    servers of ``broker`` where the cluster needs security settings.

    Read from a fetch response, not from ListOffsets: the embedded Tansu answers
    ListOffsets(latest) with the base offset of the partition's last record *batch* plus one,
    short of the end when a batch holds several records. Fetching from that offset (a valid
    one on any broker) returns the true high watermark."""
    c = Consumer({**(client_config or {"bootstrap.servers": bootstrap(broker)}),
                  "group.id": "postwatch-offsets", "enable.auto.commit": False,
                  "enable.partition.eof": True})
    try:
        meta = c.list_topics(timeout=timeout).topics
        out: dict[str, int] = {}
        start: list[TopicPartition] = []
        for t in topics:
            for p in sorted(meta[t].partitions):
                lo, hi = c.get_watermark_offsets(TopicPartition(t, p), timeout=timeout)
                if hi <= lo:
                    out[f"{t}:{p}"] = hi
                else:
                    start.append(TopicPartition(t, p, max(lo, hi - 1)))
        if start:
            c.assign(start)
            waiting = {(tp.topic, tp.partition) for tp in start}
            deadline = time.monotonic() + timeout
            while waiting and time.monotonic() < deadline:
                for m in c.consume(1, 0.2):  # one message or end-of-partition event suffices
                    err = m.error()
                    key = (m.topic(), m.partition())
                    if key in waiting and (err is None or err.code() == KafkaError._PARTITION_EOF):
                        waiting.discard(key)
                        out[f"{key[0]}:{key[1]}"] = c.get_watermark_offsets(
                            TopicPartition(*key), cached=True)[1]
                        c.pause([TopicPartition(*key)])
            if waiting:
                raise TimeoutError(f"no end of partition reached for {sorted(waiting)}")
        return out
    finally:
        c.close()


def committed_offsets(broker: str, group: str, ends: dict[str, int],
                      timeout: float = 10.0) -> dict[str, int]:
    """A consumer group's committed offsets for the partitions of ``ends`` (0 if none)."""
    c = Consumer({"bootstrap.servers": bootstrap(broker), "group.id": group,
                  "enable.auto.commit": False})
    try:
        tps = [TopicPartition(k.rsplit(":", 1)[0], int(k.rsplit(":", 1)[1])) for k in ends]
        return {f"{tp.topic}:{tp.partition}": max(tp.offset, 0)
                for tp in c.committed(tps, timeout=timeout)}
    finally:
        c.close()


def consumer_lag(broker: str, group: str, topics: list[str]) -> int:
    """Messages on ``topics`` that ``group`` has not committed yet."""
    ends = end_offsets(broker, topics)
    done = committed_offsets(broker, group, ends)
    return sum(max(0, ends[k] - done[k]) for k in ends)


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
    if cfg.sink_metrics_port:
        from pipeline.metrics import serve_metrics, sink_registry

        serve_metrics(sink_registry(sink), cfg.metrics_host, cfg.sink_metrics_port)
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
