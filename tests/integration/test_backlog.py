"""A backlog drains: 10x the measured sustainable rate for 3 seconds, pre-produced, goes through
the worker and the sink to zero lag, with exact counts and peak RSS under stated caps.

The sustainable rate is measured here first, on the same kind of events (a warm-up batch, then
a timed batch drained end to end through worker and sink). The backlog is produced while the
worker and the sink are stopped (SIGSTOP), so it waits on the input topic in full; then both
continue (SIGCONT). Nothing here asserts on time: the rate only sizes the backlog.
"""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from pipeline.publish import publish
from pipeline.query import SinkQuery
from pipeline.runtime import Supervisor
from pipeline.sink import consumer_lag
from tests.conftest import make_config

pytestmark = pytest.mark.integration

# Peak resident set (VmHWM) caps. Measured on this machine: the worker ~240 MiB and the sink
# (which holds the chdb engine) ~450 MiB after a few thousand events. The caps leave room for
# allocator noise, not for a backlog held in memory: the sink's buffer is bounded
# (sink_buffer_bytes, 32 MiB) and the worker acknowledges batches of batch_size events.
WORKER_RSS_CAP = 400 * 2**20
SINK_RSS_CAP = 700 * 2**20
BURST_FACTOR = 10
BURST_SECONDS = 3
CONTEXTS = 8
WORDS = ("the", "a", "model", "user", "answer", "question", "please", "explain", "how", "why",
         "data", "system", "bread", "recipe", "code", "python", "error", "table", "window",
         "result", "value", "because", "which", "would", "should")


def make_events(first: int, n: int, seconds: float, seed: int) -> list[tuple[bytes, bytes]]:
    """n stationary events over CONTEXTS contexts, stamped evenly over the last ``seconds`` of
    the wall clock (the time they would have taken to arrive), with texts of a few hundred
    characters."""
    rng = random.Random(seed)
    end = int(time.time() * 1000)
    out = []
    for i in range(n):
        ctx = f"ctx-{i % CONTEXTS}"
        out.append((ctx.encode(), orjson.dumps({
            "event_id": f"ev-{first + i}", "timestamp": end - int(seconds * 1000 * (n - i) / n),
            "deployment_context": ctx, "cohort": rng.choice(("free", "pro")), "model": "m1",
            "input": {"text": " ".join(rng.choice(WORDS) for _ in range(rng.randint(10, 80)))},
            "output": {"text": " ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 200)))},
            "latency_ms": float(rng.randint(50, 2_000))})))
    return out


def vm_hwm(pid: int) -> int:
    """Peak resident set size of a live process, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmHWM for {pid}")


def lags(cfg: Any) -> tuple[int, int]:
    return (consumer_lag(cfg.broker, cfg.app_id, [cfg.topics.input]),
            consumer_lag(cfg.broker, f"{cfg.app_id}-sink", cfg.topics.outputs()))


def drain(sup: Supervisor, timeout: float = 120) -> list[tuple[int, int]]:
    """(worker lag, sink lag) samples until both have caught up."""
    samples = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sup.check_alive()
        samples.append(lags(sup.cfg))
        if samples[-1] == (0, 0):
            return samples
        time.sleep(0.25)
    raise TimeoutError(f"lag did not reach zero: last samples {samples[-5:]}")


def stored(q: SinkQuery, db: str) -> int:
    return int(q.rows(f"SELECT count() FROM {db}.interactions")[0][0])


def sustained_rate(sup: Supervisor, q: SinkQuery, n: int, timeout: float = 120) -> float:
    """Events per second through worker and sink, from the first rows of a batch of ``n``
    landing in ClickHouse to its last: the steady rate, without the pipeline's start-up
    latency (the first worker batch evaluated, published and written)."""
    db = sup.cfg.database
    base = stored(q, db)
    first: tuple[float, int] | None = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sup.check_alive()
        t, have = time.monotonic(), stored(q, db) - base
        if first is None and have > 0:
            first = (t, have)
        if have >= n and first is not None:
            assert have == n and first[1] < n, (first, have)  # progress seen part-way
            return (n - first[1]) / (t - first[0])
        time.sleep(0.1)
    raise TimeoutError(f"{n} events did not land in {timeout:.0f}s")


def test_backlog_of_ten_times_the_sustainable_rate_drains_with_exact_counts(
        tmp_path: Path) -> None:
    # windows close by event-time watermark (the idle timer is off, so the worker's input is
    # still once drained): short windows, and a last event per context closes the backlog's
    cfg = make_config(tmp_path, window_seconds=5, allowed_lateness_seconds=1,
                      idle_timeout_seconds=1000.0)
    sup = Supervisor(cfg)
    sup.start()
    try:
        c = sup.cfg
        q = SinkQuery.for_config(c)
        db = c.database
        # warm-up, then a timed batch: the sustainable rate, end to end
        warm = make_events(0, 500, 1.0, seed=1)
        publish(c, warm, progress=False)
        drain(sup)
        timed = make_events(len(warm), 4_000, 4.0, seed=2)
        publish(c, timed, progress=False)
        rate = sustained_rate(sup, q, len(timed))
        drain(sup)
        # the backlog: 10x that rate for 3 s, produced while worker and sink are stopped
        first = len(warm) + len(timed)
        backlog = make_events(first, int(BURST_FACTOR * rate * BURST_SECONDS), BURST_SECONDS,
                              seed=3)
        pids = {name: sup.procs[name].pid for name in ("worker-0", "sink")}
        for pid in pids.values():
            os.kill(pid, signal.SIGSTOP)
        try:
            publish(c, backlog, progress=False)
            waiting = lags(c)[0]  # the whole backlog waits on the input topic
        finally:
            for pid in pids.values():
                os.kill(pid, signal.SIGCONT)
        samples = drain(sup)
        # one event per context, later in event time, closes the backlog's last windows
        closers = [(f"ctx-{k}".encode(), orjson.dumps({
            "event_id": f"closer-{k}", "timestamp": int(time.time() * 1000) + 5_000,
            "deployment_context": f"ctx-{k}", "model": "m1", "input": {"text": "hi"},
            "output": {"text": "hello"}})) for k in range(CONTEXTS)]
        publish(c, closers, progress=False)
        final_lags = drain(sup)[-1]
        total = first + len(backlog) + len(closers)
        # every event stored once; every on-time one but the closers in exactly one closed
        # window (an event whose window had closed is stored as late, never dropped)
        sql = (f"SELECT (SELECT count() FROM {db}.interactions FINAL), "
               f"(SELECT uniqExact(event_id) FROM {db}.interactions FINAL), "
               f"(SELECT countIf(NOT late AND event_id NOT LIKE 'closer-%') "
               f"FROM {db}.interactions FINAL), "
               f"(SELECT sum(events) FROM {db}.segment_windows FINAL WHERE level = 'context'), "
               f"(SELECT count() FROM {db}.dead_letters FINAL)")
        counts = list(q.rows(sql)[0])
        peaks = {name: vm_hwm(pid) for name, pid in pids.items()}
        print(f"sustainable rate {rate:.0f} events/s; backlog {len(backlog)} events; "
              f"worker lag {waiting} at the start, {len(samples)} lag samples to zero; peak RSS "
              f"worker {peaks['worker-0'] / 2**20:.0f} MiB, sink {peaks['sink'] / 2**20:.0f} MiB; "
              f"counts {counts}")
    finally:
        sup.stop()
    assert len(backlog) == int(BURST_FACTOR * rate * BURST_SECONDS) > 0
    assert waiting >= len(backlog)
    assert final_lags == (0, 0)
    on_time = counts[2]
    assert counts == [total, total, on_time, on_time, 0]
    assert on_time > total - 500  # at most a stray few late (still stored and counted)
    assert peaks["worker-0"] < WORKER_RSS_CAP
    assert peaks["sink"] < SINK_RSS_CAP
