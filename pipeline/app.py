"""The Faust app: one agent reads the input topic and runs ingest -> evaluate -> aggregate ->
judge for each partition's batch (the logic is in :mod:`pipeline.windows`), then writes state
once per touched key and publishes results. Workers never touch ClickHouse.

Offsets: the stream does not auto-acknowledge. A message is acknowledged only after the batch
that holds it has been applied and its state written, so Faust never commits an input offset
ahead of the state that reflects it; replays below a value's applied offset are skipped.
A batch's outputs are delivered (acknowledged by the broker) before its state is written, so a
written state never claims outputs a crash lost; the state's journal then tells a replay not
to publish them again (see :mod:`pipeline.windows`).

Test-only fault point: ``POSTWATCH_FAULT=worker:<point>[@<partition>]:<N>[:<K>]`` in a
worker's environment makes it SIGKILL itself once, at a point defined by state, not by time:
after the N-th flush (of this process, of that input partition if one is given) that matches
``<point>`` has written its state values and the producer has delivered them, before its input
messages are acknowledged (so before any offset commit):

* ``after_state_write``: every flush that writes state counts;
* ``window_open``: a flush after which the partition holds an open window with applied events;
* ``window_close``: a flush that closed windows (one or more watermark steps);
* ``alert``: a flush that published an alert.

``K`` (optional) writes only the first K of that flush's state values (K < 0: all but the
last -K), a crash in the middle of the changelog writes. Several faults may be given, separated
by commas. Each fires once per state directory (a marker file ``fault-fired-*`` there disables
it for the restarted worker and for every other worker). Never set it outside tests.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import signal
import ssl
import time
import weakref
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faust
import orjson
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.transport.drivers.aiokafka import Producer as AIOKafkaProducer
from faust.types import TP

from pipeline.config import Config
from pipeline.metrics import WorkerMetrics, open_windows, serve_metrics
from pipeline.offsets import OffsetGate
from pipeline.sink import end_offsets
from pipeline.windows import CONTROL_HEADER, Message, Processor, encode_state, meta_key

log = logging.getLogger("postwatch.worker")

OUTPUT_CHUNK_BYTES = 512 * 1024
FAULT_ENV = "POSTWATCH_FAULT"
FAULT_POINTS = ("after_state_write", "window_open", "window_close", "alert")


@dataclass
class Fault:
    """A test-only crash point (see the module docstring)."""

    spec: str
    point: str
    partition: int | None
    nth: int
    keep: int | None
    marker: Path
    seen: int = 0

    @classmethod
    def from_env(cls, state_dir: str, env: Any = None) -> list[Fault]:
        specs = (os.environ if env is None else env).get(FAULT_ENV, "")
        faults = [cls.parse(s, state_dir) for s in specs.split(",") if s.startswith("worker:")]
        return [f for f in faults if f is not None]

    @classmethod
    def parse(cls, spec: str, state_dir: str) -> Fault | None:
        parts = spec.split(":")
        point, _, partition = parts[1].partition("@") if len(parts) > 1 else ("", "", "")
        if len(parts) not in (3, 4) or point not in FAULT_POINTS:
            raise ValueError(f"bad {FAULT_ENV}={spec!r}: worker:<point>[@<partition>]:<N>[:<K>]"
                             f", point one of {', '.join(FAULT_POINTS)}")
        digest = hashlib.sha256(spec.encode()).hexdigest()[:12]
        marker = Path(state_dir) / f"fault-fired-{digest}"
        if marker.exists():
            return None
        return cls(spec, point, int(partition) if partition else None, int(parts[2]),
                   int(parts[3]) if len(parts) == 4 else None, marker)

    def due(self, partition: int, writes: int, outputs: Any, meta: Any) -> bool:
        if self.partition is not None and partition != self.partition:
            return False
        matches = {"after_state_write": writes > 0,
                   "window_open": bool(meta) and any(c["open"]
                                                     for c in meta["contexts"].values()),
                   "window_close": bool(outputs.windows),
                   "alert": bool(outputs.alerts)}[self.point]
        if not matches:
            return False
        self.seen += 1
        if self.seen != self.nth:
            return False
        try:
            with open(self.marker, "x"):  # once, across restarts and workers
                return True
        except FileExistsError:
            return False

    def kept(self, writes: list[Any]) -> list[Any]:
        return writes if self.keep is None else writes[:self.keep]


def chunk_records(records: list[dict[str, Any]], limit: int = OUTPUT_CHUNK_BYTES) -> list[bytes]:
    """Encode records as JSON arrays of at most ``limit`` bytes each (one record may exceed)."""
    chunks: list[bytes] = []
    batch: list[bytes] = []
    size = 0
    for rec in records:
        enc = orjson.dumps(rec)
        if batch and size + len(enc) > limit:
            chunks.append(b"[" + b",".join(batch) + b"]")
            batch, size = [], 0
        batch.append(enc)
        size += len(enc) + 1
    if batch:
        chunks.append(b"[" + b",".join(batch) + b"]")
    return chunks


def broker_credentials(cfg: Config) -> Any:
    """Faust's ``broker_credentials`` for the configured Kafka security (None: plaintext)."""
    protocol = cfg.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    context = None
    if protocol.endswith("SSL"):
        context = ssl.create_default_context(purpose=ssl.Purpose.SERVER_AUTH,
                                             cafile=cfg.kafka_ssl_cafile or None)
        if cfg.kafka_ssl_certfile:
            context.load_cert_chain(cfg.kafka_ssl_certfile, keyfile=cfg.kafka_ssl_keyfile)
    if protocol == "SSL":
        return faust.SSLCredentials(context)
    return faust.SASLCredentials(username=cfg.kafka_sasl_username,
                                 password=cfg.kafka_sasl_password, ssl_context=context,
                                 mechanism=cfg.kafka_sasl_mechanism)


def faust_settings(cfg: Config, worker_index: int) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "broker": cfg.broker,
        "store": cfg.worker_store,
        "topic_partitions": cfg.partitions,
        "topic_replication_factor": 1,
        "web_enabled": False,
        "datadir": str(Path(cfg.state_dir) / f"worker-{worker_index}"),
        "consumer_auto_offset_reset": "earliest",
        "producer_max_request_size": 4 * 1024 * 1024,
        # Faust would wait, on a rebalance or a stop, until every message handed to the agent
        # is acknowledged: events buffered for a batch never are until the batch flushes,
        # which cannot happen while the rebalance holds the stream. Unacknowledged events
        # are replayed by the next owner; the flush in progress is waited for (on_revoked).
        "stream_wait_empty": False,
        # the producer (see README, "Producer settings"): acks from all in-sync replicas,
        # a short linger, batches that hold one 512 KiB result chunk, cheap compression; the
        # partitioner stays aiokafka's default, murmur2 like the Java client
        "producer_acks": -1,
        "producer_linger": cfg.producer_linger_ms / 1000,
        "producer_max_batch_size": cfg.producer_batch_bytes,
        "producer_compression_type": (None if cfg.producer_compression == "none"
                                      else cfg.producer_compression),
    }
    credentials = broker_credentials(cfg)
    if credentials is not None:
        settings["broker_credentials"] = credentials
    for name in ("broker_session_timeout", "broker_heartbeat_interval", "broker_rebalance_timeout"):
        value = getattr(cfg, name)
        if value is not None:
            settings[name] = value
    return settings


class IdempotentProducer(AIOKafkaProducer):
    """Faust's aiokafka producer with ``enable_idempotence`` (Faust sets it only inside
    transactions): a retried produce request is not written twice, so a broker hiccup cannot
    put one alert on ``anomalies`` twice."""

    def _settings_extra(self) -> Any:
        return {**super()._settings_extra(), "acks": "all", "enable_idempotence": True}


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """Faust's consumer thread, with the fetch wait of its app (Faust hardcodes 1,500 ms: a
    caught-up consumer on a broker that holds a fetch until the wait is up then sees new
    events up to 1.5 s late, twice on the way to an alert counting the flush tick)."""

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        wait_ms = getattr(self.app, "fetch_max_wait_ms", None)
        if wait_ms is not None:
            consumer._fetch_max_wait_ms = wait_ms  # read by the fetcher made in start()
        return consumer

    async def highwaters(self, *partitions: Any) -> Any:
        """End offsets from a fetch, not from ListOffsets (see
        :func:`pipeline.sink.end_offsets`): Faust recovers a table's partition up to these,
        and the embedded Tansu answers ListOffsets short of the last record batch, which
        left a reassigned partition's state without its last flush."""
        ends = await super().highwaters(*partitions)
        cfg = getattr(self.app, "postwatch_config", None)
        if cfg is None or not ends:
            return ends
        topics = sorted({tp.topic for tp in ends})
        true = await asyncio.to_thread(end_offsets, cfg.broker, topics,
                                       client_config=cfg.kafka_client_config())
        return {tp: max(end, true.get(f"{tp.topic}:{tp.partition}", end))
                for tp, end in ends.items()}


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> Any:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class _Transport(faust_aiokafka.Transport):
    Consumer = _Consumer


class App(faust.App):
    idempotent = True
    fetch_max_wait_ms: int | None = None
    postwatch_config: Config | None = None

    def _new_producer(self) -> Any:
        if not self.idempotent:
            return super()._new_producer()
        return IdempotentProducer(self.transport, loop=self.loop, beacon=self.beacon)

    def _new_transport(self) -> Any:
        return _Transport(self.conf.broker_consumer, self)


def build_app(cfg: Config, worker_index: int = 0,
              metrics: WorkerMetrics | None = None) -> faust.App:
    app = App(cfg.app_id, **faust_settings(cfg, worker_index))
    app.idempotent = cfg.producer_idempotence
    app.fetch_max_wait_ms = cfg.consumer_fetch_max_wait_ms
    app.postwatch_config = cfg
    metrics = metrics if metrics is not None else WorkerMetrics()
    _METRICS[app] = metrics
    raw = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw",
           "value_serializer": "raw", "partitions": cfg.partitions}
    source = app.topic(cfg.topics.input, **raw)
    out = {name: app.topic(getattr(cfg.topics, name), **raw)
           for name in ("dlq", "evaluated", "windows", "drift", "alerts")}
    # str keys (json codec), bytes values (raw codec): values are encoded with orjson here
    state = app.Table("state", partitions=cfg.partitions, key_type=str, value_type=bytes)

    buffers: dict[int, list[Any]] = defaultdict(list)
    # a rebalance or a stop waits for the flush in progress (it must not be cut between
    # publishing its outputs and writing its state, nor write state for a revoked partition)
    flushing = asyncio.Lock()
    stopping = asyncio.Event()
    caches: dict[int, dict[str, Any]] = defaultdict(dict)  # decoded state per partition
    applied_next: dict[int, int] = {}  # per partition: the next input offset to apply (lag)
    wall: dict[int, dict[str, Any]] = defaultdict(
        lambda: {"first_buffered": 0.0, "last_event": time.monotonic(), "tick_pending": False,
                 "last_idle_tick": 0.0})
    token = cfg.control_token.encode()

    def get(key: str) -> Any:
        value = state.get(key)
        return None if value is None else orjson.loads(value)

    faults = Fault.from_env(cfg.state_dir)
    for armed in faults:
        log.warning("test fault point armed: %s", armed.spec)

    def publish(outputs: Any, key: bytes) -> list[Any]:
        """Send every output; returns the futures of their delivery."""
        sent = []
        for chunk in chunk_records(outputs.evaluated):
            sent.append(out["evaluated"].send_soon(key=key, value=chunk))
        for chunk in chunk_records(outputs.windows):
            sent.append(out["windows"].send_soon(key=key, value=chunk))
        for chunk in chunk_records(outputs.drift):
            sent.append(out["drift"].send_soon(key=key, value=chunk))
        for alert in outputs.alerts:
            sent.append(out["alerts"].send_soon(key=alert["dedup_key"].encode(),
                                                value=orjson.dumps(alert)))
        for dl in outputs.dead_letters:
            headers = [
                ("postwatch-reason", dl["reason"].encode()),
                ("postwatch-detail", dl["detail"].encode()),
                ("postwatch-sha256", dl["sha256"].encode()),
                ("postwatch-length", str(dl["length"]).encode()),
                ("postwatch-source", f"{cfg.topics.input}:{dl['source_partition']}:"
                                     f"{dl['source_offset']}".encode()),
            ]
            sent.append(out["dlq"].send_soon(key=key, value=dl["raw"], headers=headers))
        for rkey, value, partition in outputs.reroute:
            sent.append(source.send_soon(key=rkey, value=value, partition=partition,
                                         headers=[("postwatch-rerouted", key)]))
        return sent

    def message(e: Any) -> Message:
        control = e.headers.get(CONTROL_HEADER) if e.headers else None
        ts = e.message.timestamp
        return Message(e.message.offset, e.value or b"",
                       None if ts is None else int(ts * 1000),
                       None if control is None else bytes(control))

    async def flush(partition: int) -> None:
        async with flushing:
            if stopping.is_set():
                return  # unacknowledged: replayed by the partition's next owner
            events = buffers.pop(partition, [])  # none if a rebalance took the partition
            if not events:
                return
            started = time.perf_counter()
            mk = meta_key(partition)
            before = caches[partition].get(mk) or get(mk)
            counts_before = dict(before["counts"]) if before else {}
            proc = Processor(cfg, partition, get, caches[partition])
            outputs = proc.process([message(e) for e in events], now_ms=int(time.time() * 1000))
            sent = publish(outputs, key=f"p{partition}".encode())
            if sent:  # the journal written below says these outputs are out
                await asyncio.gather(*sent)
            writes = list(proc.writes.items())  # in the order the processor chose
            meta = caches[partition].get(meta_key(partition))
            due = [f for f in faults if f.due(partition, len(writes), outputs, meta)]
            for key, value in (due[0].kept(writes) if due else writes):
                if value is None:
                    state.pop(key, None)
                else:
                    state[key] = encode_state(value)
            if due:
                await _crash(due[0], partition)
            for e in events:
                e.ack()
            wall[partition]["tick_pending"] = False
            applied_next[partition] = events[-1].message.offset + 1
            metrics.observe_batch(sum(1 for e in events if not is_control(e)), outputs,
                                  counts_before, meta["counts"] if meta else {},
                                  time.perf_counter() - started)
            metrics.windows_open.labels(str(partition)).set(open_windows(
                meta, lambda key: segment_state(partition, key)))
            update_lag()

    def segment_state(partition: int, key: str) -> Any:
        cache = caches[partition]
        if key not in cache:  # not touched since this worker took the partition
            value = get(key)
            if value is None:
                return None
            cache[key] = value  # as the processor would load it
        return cache[key]

    def is_control(e: Any) -> bool:
        return bool(e.headers and CONTROL_HEADER in e.headers)

    def update_lag() -> None:
        """Per input partition: its end offset minus the next offset to apply."""
        consumer = app.consumer
        for tp in list(consumer.assignment()):
            if tp.topic != cfg.topics.input:
                continue
            end = consumer.highwater(tp)
            nxt = applied_next.get(tp.partition)
            if nxt is None:  # nothing applied since the assignment: from the group's commit
                # (Faust keeps it per partition; None when the group never committed: then
                # everything up to the end is unapplied, nothing on an empty partition)
                nxt = getattr(consumer, "_committed_offset", {}).get(tp) or 0
            if end is not None and end >= 0 and nxt is not None:
                metrics.lag.labels(str(tp.partition)).set(max(0, end - nxt))

    async def _crash(fault: Fault, partition: int) -> None:
        await app.producer.flush()  # the state values above are on the broker
        log.warning("test fault point %s: SIGKILL after a flush of partition %d",
                    fault.spec, partition)
        logging.shutdown()
        os.kill(os.getpid(), signal.SIGKILL)

    gate = OffsetGate()  # which offsets to apply: from the state, without holes

    def applied_offset(p: int) -> int | None:
        meta = caches[p].get(meta_key(p)) or get(meta_key(p))
        return None if meta is None else meta["applied"]

    async def in_order(event: Any) -> bool:
        """Whether to apply ``event`` now (see :mod:`pipeline.offsets`)."""
        p, offset = event.message.partition, event.message.offset
        verdict = gate.admit(p, offset, lambda: applied_offset(p))
        if verdict == "seek":
            want = gate.sought[p][0]
            log.warning("partition %d: offsets %d..%d were not delivered; seeking back to %d",
                        p, want, offset - 1, want)
            metrics.seeks.inc()
            await app.consumer.seek(event.message.tp, want)
        elif verdict == "give_up":
            log.error("partition %d: offsets before %d never arrived after a seek; going on",
                      p, offset)
        return verdict in ("take", "give_up")

    @app.agent(source)
    async def ingest(stream: Any) -> None:
        try:
            async for event in stream.noack().events():
                if not await in_order(event):
                    continue
                p = event.message.partition
                control = is_control(event)
                applied_next.setdefault(p, event.message.offset)
                buf = buffers[p]
                if not buf:
                    wall[p]["first_buffered"] = time.monotonic()
                buf.append(event)
                if not control:
                    wall[p]["last_event"] = time.monotonic()
                if control or len(buf) >= cfg.batch_size:
                    await flush(p)
        except Exception:
            # Nothing unacknowledged is lost (offsets are behind the state), so the safe
            # reaction to a bug is to stop: the supervisor restarts the worker, which
            # resumes from its state. Staying up with a dead agent would stall silently.
            log.critical("ingest agent crashed; exiting for a restart", exc_info=True)
            os._exit(70)

    # a batch waits flush_interval_seconds, give or take a quarter of it
    @app.timer(interval=cfg.flush_interval_seconds / 4)
    async def ticker() -> None:
        """Table writes need a current event, so the timer asks for work with a control
        message on the partition itself: 'flush' for a waiting batch, 'idle' to close the
        windows of a silent partition. Both are replayed deterministically after a crash."""
        now = time.monotonic()
        update_lag()
        for p, (at, _first, _dropped) in list(gate.sought.items()):
            # Faust drops a re-fetched offset below the last one it handed out: seek again
            # until the stale events are through and the sought one arrives
            await app.consumer.seek(TP(cfg.topics.input, p), at)
        for tp in list(app.consumer.assignment()):
            if tp.topic != cfg.topics.input:
                continue
            p, w = tp.partition, wall[tp.partition]
            if w["tick_pending"]:
                continue
            if buffers.get(p):
                if now - w["first_buffered"] >= cfg.flush_interval_seconds:
                    await _tick(p, {"kind": "flush"})
                continue
            if (now - w["last_event"] < cfg.idle_timeout_seconds
                    or now - w["last_idle_tick"] < cfg.idle_timeout_seconds):
                continue
            meta = caches[p].get(meta_key(p)) or get(meta_key(p))
            # open windows to close, or contexts that may have fallen silent (dead-man)
            if not meta or not any(c["open"] or (c.get("last_arrival") and not c.get("silent"))
                                   for c in meta["contexts"].values()):
                continue
            w["last_idle_tick"] = now
            await _tick(p, {"kind": "idle", "last_data_offset": meta["last_data_offset"]})

    async def _tick(partition: int, body: dict[str, Any]) -> None:
        wall[partition]["tick_pending"] = True
        await source.send(key=None, value=orjson.dumps(body), partition=partition,
                          headers=[(CONTROL_HEADER, token)])

    @app.on_partitions_assigned.connect
    async def on_assigned(sender: Any, assigned: Any, **kwargs: Any) -> None:
        # a rebalance moves state and pauses processing: worth a line at the default level
        mine = sorted(tp.partition for tp in app.consumer.assignment()
                      if tp.topic == cfg.topics.input)
        log.warning("input partitions assigned: %s", mine)
        gate.reset()  # every partition resumes from its state

    @app.on_partitions_revoked.connect
    async def on_revoked(sender: Any, revoked: Any, **kwargs: Any) -> None:
        async with flushing:  # after the flush in progress, and its state on the broker
            await app.producer.flush()
            for tp in revoked:
                if tp.topic == cfg.topics.input:
                    buffers.pop(tp.partition, None)  # unacknowledged: the new owner replays
                    wall.pop(tp.partition, None)
                    caches.pop(tp.partition, None)
                    applied_next.pop(tp.partition, None)
                    gate.reset(tp.partition)
                    metrics.forget_partition(tp.partition)

    async def quiesce() -> None:
        """Before the worker stops: finish the flush in progress and start no other."""
        stopping.set()
        async with flushing:
            await app.producer.flush()

    _QUIESCE[app] = quiesce
    return app


_QUIESCE: weakref.WeakKeyDictionary[faust.App, Any] = weakref.WeakKeyDictionary()
_METRICS: weakref.WeakKeyDictionary[faust.App, WorkerMetrics] = weakref.WeakKeyDictionary()


class _Worker(faust.Worker):
    async def on_stop(self) -> None:
        quiesce = _QUIESCE.get(self.app)
        if quiesce is not None:
            await quiesce()
        await super().on_stop()


def run_worker(cfg: Config, worker_index: int = 0, loglevel: str = "WARNING") -> None:
    app = build_app(cfg, worker_index)
    if cfg.metrics_port:
        port = cfg.metrics_port + worker_index
        serve_metrics(_METRICS[app].registry, cfg.metrics_host, port)
        log.warning("metrics on http://%s:%d/metrics", cfg.metrics_host, port)
    worker = _Worker(app, loglevel=loglevel, quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()
