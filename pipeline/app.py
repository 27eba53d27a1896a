"""The Faust app: one agent reads the input topic and runs ingest -> evaluate -> aggregate ->
judge for each partition's batch (the logic is in :mod:`pipeline.windows`), then writes state
once per touched key and publishes results. Workers never touch ClickHouse.

Offsets: the stream does not auto-acknowledge. A message is acknowledged only after the batch
that holds it has been applied and its state written, so Faust never commits an input offset
ahead of the state that reflects it; replays below a value's applied offset are skipped.
"""

from __future__ import annotations

import logging
import os
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import faust
import orjson

from pipeline.config import Config
from pipeline.windows import CONTROL_HEADER, Message, Processor, encode_state, meta_key

log = logging.getLogger("postwatch.worker")

OUTPUT_CHUNK_BYTES = 512 * 1024


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
    }
    for name in ("broker_session_timeout", "broker_heartbeat_interval", "broker_rebalance_timeout"):
        value = getattr(cfg, name)
        if value is not None:
            settings[name] = value
    return settings


def build_app(cfg: Config, worker_index: int = 0) -> faust.App:
    app = faust.App(cfg.app_id, **faust_settings(cfg, worker_index))
    raw = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw",
           "value_serializer": "raw", "partitions": cfg.partitions}
    source = app.topic(cfg.topics.input, **raw)
    out = {name: app.topic(getattr(cfg.topics, name), **raw)
           for name in ("dlq", "evaluated", "windows", "drift", "alerts")}
    # str keys (json codec), bytes values (raw codec): values are encoded with orjson here
    state = app.Table("state", partitions=cfg.partitions, key_type=str, value_type=bytes)

    buffers: dict[int, list[Any]] = defaultdict(list)
    caches: dict[int, dict[str, Any]] = defaultdict(dict)  # decoded state per partition
    wall: dict[int, dict[str, Any]] = defaultdict(
        lambda: {"first_buffered": 0.0, "last_event": time.monotonic(), "tick_pending": False,
                 "last_idle_tick": 0.0})
    token = cfg.control_token.encode()

    def get(key: str) -> Any:
        value = state.get(key)
        return None if value is None else orjson.loads(value)

    def publish(outputs: Any, key: bytes) -> None:
        for chunk in chunk_records(outputs.evaluated):
            out["evaluated"].send_soon(key=key, value=chunk)
        for chunk in chunk_records(outputs.windows):
            out["windows"].send_soon(key=key, value=chunk)
        for chunk in chunk_records(outputs.drift):
            out["drift"].send_soon(key=key, value=chunk)
        for alert in outputs.alerts:
            out["alerts"].send_soon(key=alert["dedup_key"].encode(), value=orjson.dumps(alert))
        for dl in outputs.dead_letters:
            headers = [
                ("postwatch-reason", dl["reason"].encode()),
                ("postwatch-detail", dl["detail"].encode()),
                ("postwatch-sha256", dl["sha256"].encode()),
                ("postwatch-length", str(dl["length"]).encode()),
                ("postwatch-source", f"{cfg.topics.input}:{dl['source_partition']}:"
                                     f"{dl['source_offset']}".encode()),
            ]
            out["dlq"].send_soon(key=key, value=dl["raw"], headers=headers)
        for rkey, value, partition in outputs.reroute:
            source.send_soon(key=rkey, value=value, partition=partition,
                             headers=[("postwatch-rerouted", key)])

    def message(e: Any) -> Message:
        control = e.headers.get(CONTROL_HEADER) if e.headers else None
        ts = e.message.timestamp
        return Message(e.message.offset, e.value or b"",
                       None if ts is None else int(ts * 1000),
                       None if control is None else bytes(control))

    def flush(partition: int) -> None:
        events = buffers.pop(partition, [])
        if not events:
            return
        proc = Processor(cfg, partition, get, caches[partition])
        outputs = proc.process([message(e) for e in events], now_ms=int(time.time() * 1000))
        publish(outputs, key=f"p{partition}".encode())
        for key, value in proc.writes.items():  # the partition's meta is last
            if value is None:
                state.pop(key, None)
            else:
                state[key] = encode_state(value)
        for e in events:
            e.ack()
        wall[partition]["tick_pending"] = False

    @app.agent(source)
    async def ingest(stream: Any) -> None:
        try:
            async for event in stream.noack().events():
                p = event.message.partition
                control = bool(event.headers and CONTROL_HEADER in event.headers)
                buf = buffers[p]
                if not buf:
                    wall[p]["first_buffered"] = time.monotonic()
                buf.append(event)
                if not control:
                    wall[p]["last_event"] = time.monotonic()
                if control or len(buf) >= cfg.batch_size:
                    flush(p)
        except Exception:
            # Nothing unacknowledged is lost (offsets are behind the state), so the safe
            # reaction to a bug is to stop: the supervisor restarts the worker, which
            # resumes from its state. Staying up with a dead agent would stall silently.
            log.critical("ingest agent crashed; exiting for a restart", exc_info=True)
            os._exit(70)

    @app.timer(interval=cfg.flush_interval_seconds)
    async def ticker() -> None:
        """Table writes need a current event, so the timer asks for work with a control
        message on the partition itself: 'flush' for a waiting batch, 'idle' to close the
        windows of a silent partition. Both are replayed deterministically after a crash."""
        now = time.monotonic()
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

    @app.on_partitions_revoked.connect
    async def on_revoked(sender: Any, revoked: Any, **kwargs: Any) -> None:
        for tp in revoked:
            if tp.topic == cfg.topics.input:
                buffers.pop(tp.partition, None)  # unacknowledged: the new owner replays them
                wall.pop(tp.partition, None)
                caches.pop(tp.partition, None)

    return app


def run_worker(cfg: Config, worker_index: int = 0, loglevel: str = "WARNING") -> None:
    app = build_app(cfg, worker_index)
    worker = faust.Worker(app, loglevel=loglevel, quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()
