"""Throughput, one run: consume ceilings, the worker, per-stage cost, two workers, alert
latency, state size and recovery, in one table.

Events are built from the real data (``../shared/data``, the demo scenario's mix: Arena-Hard,
XSTest and JailbreakBench texts at their real sizes); no text from the data is printed. Every
input topic is pre-loaded before anything is timed. Rows:

(a) a confluent-kafka consumer with ``orjson.loads`` per message over the pre-loaded topic (the
    baseline); (b) a bare Faust agent counting ``stream.take(500, within=0.5)`` batches of
    the same bytes; (c) postwatch's worker (validate, evaluate, aggregate, judge, publish,
    write state) on the pre-loaded input topic, per worker and per CPU-second of its process;
(d) the pure core (``pipeline.windows.Processor``, no Kafka) on the same events, in µs per
    event per stage; (e) two workers on four partitions; (f) alert latency: from the produce
    of the event that moves the watermark past a window's end + allowed lateness to the
    alert's arrival on ``anomalies``; (g) bytes of state per segment at 10,100 segment values
    (open-window and reference separately, and an idle segment's open-window state), and the
    reference at the demo's density after 60 windows; (h) recovery of a SIGKILLed worker
    restarted with that many segments in its changelog, and whether the embedded broker
    compacts changelogs.

When (c)/(b) is short of 0.7 a pyinstrument profile of the pure core is printed.

    PYTHONPATH=. .venv/bin/python bench/throughput.py            # ~8 min on 2 cores
    PYTHONPATH=. .venv/bin/python bench/throughput.py --quick    # about 3 min
    PYTHONPATH=. .venv/bin/python bench/throughput.py --only a,b,c,d
"""

from __future__ import annotations

import argparse
import bisect
import collections
import contextlib
import functools
import heapq
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic  # noqa: E402

from pipeline import windows as core  # noqa: E402
from pipeline.app import chunk_records, faust_settings  # noqa: E402
from pipeline.config import Config  # noqa: E402
from pipeline.publish import make_producer  # noqa: E402
from pipeline.runtime import (  # noqa: E402
    EMBEDDED_MAX_MESSAGE_BYTES,
    EMBEDDED_TIMEOUTS,
    _die_with_parent,
    ensure_topics,
    start_tansu,
)
from pipeline.scenario import build_demo_scenario, encode_event, find_data_dir  # noqa: E402
from pipeline.sink import bootstrap, consumer_lag  # noqa: E402
from pipeline.windows import SEP, Message, Processor, encode_state, level_of  # noqa: E402

ALL_PARTS = "a,b,c,d,e,f,g,h"
RAW_TOPIC = "bench.raw"
TAKE_APP = "bench-take"
CHANGELOG = "{app}-state-changelog"  # Faust's name for the worker's "state" table
STATE_SEGMENTS = (100, 50)  # contexts x cohorts, one model: 100 + 5,000 + 5,000 segment values
OPEN_FIELDS = ("windows", "scan")  # open windows; the tail scan where the tree has early detection
REF_FIELDS = ("ref", "ref_first", "baseline", "baseline_period", "how", "anomaly", "vectors",
              "recent", "excluded")
EARLY_METRIC = re.compile(r":(look|tail)\d+$")  # early detection's tests, where the tree has it
ASSIGNED = re.compile(r"input partitions assigned: \[([0-9, ]*)\]")


# --------------------------------------------------------------------------------------------
# events from the real data


@dataclass
class Workload:
    """Events of ``copies`` demo scenarios (seeds 1..copies), each scenario's two contexts
    renamed so that the contexts of all copies cover the partitions evenly (the demo's two
    contexts both hash to partition 0), merged in event-time order."""

    events: list[dict[str, Any]]
    messages: list[tuple[bytes, bytes]]
    partition_of: dict[str, int]

    @property
    def pairs(self) -> list[tuple[str, str, float | None]]:
        return [(e["input"].get("text") or "", e["output"].get("text") or "",
                 e.get("latency_ms")) for e in self.events]


def context_on(base: str, partition: int, partitions: int, taken: set[str]) -> str:
    """A context name derived from ``base`` whose murmur2 partition is ``partition``."""
    for tag in range(10_000):
        name = f"{base}-{tag}"
        if name not in taken and core.partition_for(name, partitions) == partition:
            taken.add(name)
            return name
    raise RuntimeError("no context name found")


def build_workload(data_dir: Path | None, copies: int, minutes: int, partitions: int,
                   now_ms: int) -> Workload:
    start = now_ms - now_ms % 60_000 - (minutes + 2) * 60_000
    streams = []
    taken: set[str] = set()
    partition_of: dict[str, int] = {}
    slot = 0
    for copy in range(copies):
        scen = build_demo_scenario(data_dir, seed=copy + 1, start_ms=start, minutes=minutes)
        rename: dict[str, str] = {}
        for ev in scen.events:
            ctx = ev["deployment_context"]
            if ctx not in rename:
                rename[ctx] = context_on(ctx, slot % partitions, partitions, taken)
                partition_of[rename[ctx]] = slot % partitions
                slot += 1
            ev["deployment_context"] = rename[ctx]
        streams.append(scen.events)
    events = list(heapq.merge(*streams, key=lambda e: int(e["timestamp"])))
    return Workload(events, [encode_event(e) for e in events], partition_of)


# --------------------------------------------------------------------------------------------
# processes: broker, workers, the bare Faust agent


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Cluster:
    """A fresh embedded broker with the pipeline's topics, and the processes this bench starts
    against it (each stopped by its own Popen handle)."""

    def __init__(self, root: Path, name: str, **overrides: Any) -> None:
        self.dir = root / name
        (self.dir / "logs").mkdir(parents=True)
        self.broker, url = start_tansu(log_path=self.dir / "logs" / "broker.log")
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.started: dict[str, float] = {}
        self.cfg = Config(broker=url, state_dir=str(self.dir / "state"),
                          store=str(self.dir / "store"), control_token="bench",
                          **{**EMBEDDED_TIMEOUTS, **overrides}).validate()
        Path(self.cfg.state_dir).mkdir()
        ensure_topics(self.cfg, input_max_bytes=EMBEDDED_MAX_MESSAGE_BYTES)
        self.config_path = self.dir / "config.json"
        self.config_path.write_bytes(self.cfg.to_json())

    def _spawn(self, name: str, cmd: list[str]) -> subprocess.Popen[bytes]:
        log = open(self.log_path(name), "ab")  # noqa: SIM115 (the child keeps it)
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.started[name] = time.time()
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env,
                                preexec_fn=_die_with_parent)
        log.close()
        self.procs[name] = proc
        return proc

    def log_path(self, name: str) -> Path:
        return self.dir / "logs" / f"{name}.log"

    def worker(self, index: int = 0) -> subprocess.Popen[bytes]:
        """``postwatch worker`` as ``postwatch up`` starts it."""
        return self._spawn(f"worker-{index}", [
            sys.executable, "-m", "pipeline.cli", "--config-json", str(self.config_path),
            "worker", "--index", str(index)])

    def take_agent(self, topic: str, expect: int, out: Path) -> subprocess.Popen[bytes]:
        return self._spawn("take", [
            sys.executable, str(Path(__file__).resolve()), "--role", "take",
            "--config-json", str(self.config_path), "--topic", topic,
            "--expect", str(expect), "--out", str(out)])

    def assignments(self, name: str) -> list[tuple[float, list[int]]]:
        """(seconds since the process started, partitions) for every assignment it logged."""
        out = []
        try:
            text = self.log_path(name).read_text(errors="replace")
        except FileNotFoundError:
            return []
        for line in text.splitlines():
            m = ASSIGNED.search(line)
            if m:
                stamp = re.search(r"\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3})\]", line)
                t = (time.mktime(time.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S"))
                     + int(stamp.group(2)) / 1000 - self.started[name]) if stamp else float("nan")
                out.append((t, [int(p) for p in m.group(1).replace(" ", "").split(",") if p]))
        return out

    def kill(self, name: str, sig: signal.Signals = signal.SIGTERM) -> None:
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with code {proc.returncode}; see "
                                   f"{self.log_path(name)}")

    def stop(self) -> None:
        for name in list(self.procs):
            self.kill(name)
        self.broker.send_signal(signal.SIGTERM)
        try:
            self.broker.wait(15)
        except subprocess.TimeoutExpired:
            self.broker.kill()
            self.broker.wait()


@contextlib.contextmanager
def cluster(root: Path, name: str, **overrides: Any) -> Iterator[Cluster]:
    c = Cluster(root, name, **overrides)
    try:
        yield c
    finally:
        c.stop()


def produce(cfg: Config, topic: str, messages: list[tuple[bytes, bytes]]) -> float:
    """Produce and flush; returns seconds taken."""
    producer = make_producer(cfg)
    t0 = time.perf_counter()
    for key, value in messages:
        while True:
            try:
                producer.produce(topic, key=key, value=value)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    if producer.flush(120):
        raise RuntimeError(f"{topic}: messages left undelivered")
    return time.perf_counter() - t0


def create_topic(cfg: Config, name: str, partitions: int) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap(cfg.broker)})
    for fut in admin.create_topics([NewTopic(name, num_partitions=partitions,
                                             replication_factor=1)]).values():
        fut.result()


class TopicReader:
    """Reads a topic from its beginning in a thread. Per message: the Kafka timestamp (the
    producer's clock), the local arrival time, and the decoded value."""

    def __init__(self, cfg: Config, topic: str, decode: Callable[[bytes], Any]) -> None:
        self.topic = topic
        self.decode = decode
        self.items: list[tuple[float, float, Any]] = []
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self.consumer = Consumer({"bootstrap.servers": bootstrap(cfg.broker),
                                  "group.id": f"bench-reader-{topic}-{time.time_ns()}",
                                  "enable.auto.commit": False,
                                  "auto.offset.reset": "earliest", "fetch.wait.max.ms": 10})
        parts = self.consumer.list_topics(topic, timeout=10).topics[topic].partitions
        self.consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for m in self.consumer.consume(500, 0.05):
                if m.error() is not None:
                    continue
                arrived = time.time()
                value = self.decode(m.value())
                with self.lock:
                    self.items.append((m.timestamp()[1] / 1000, arrived, value))

    def snapshot(self) -> list[tuple[float, float, Any]]:
        with self.lock:
            return list(self.items)

    def close(self) -> None:
        self._stop.set()
        self.thread.join(5)
        self.consumer.close()


def evaluated_records(value: bytes) -> list[tuple[str, int, str]]:
    """(event_id, source partition, context) of each record of an ``interactions.evaluated``
    chunk."""
    return [(r["event_id"], r["source_partition"], r["deployment_context"])
            for r in orjson.loads(value)]


def wait_for(cond: Callable[[], bool], timeout: float, what: str,
             alive: Callable[[], None] | None = None, every: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if alive is not None:
            alive()
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(every)


def steady_rate(stamps: list[tuple[float, int]], total: int) -> tuple[float, float, float]:
    """Events/s between outputs: from the first output (its events, and those within 50 ms of
    it, are not counted: they were processed before it) to the output that brings the count
    to 95% of ``total`` (the tail waits for timers: a partial batch is flushed by a ticker,
    ``take(within=)`` waits for a full batch). Returns (rate, first, end) times."""
    stamps = sorted(stamps)
    t0 = stamps[0][0]
    head = sum(n for t, n in stamps if t <= t0 + 0.05)
    done, end = 0, t0
    for stamp in stamps:
        done += stamp[1]
        end = stamp[0]
        if done >= 0.95 * total:
            break
    return ((done - head) / (end - t0) if end > t0 + 0.05 else float("nan")), t0, end


# --------------------------------------------------------------------------------------------
# (a), (b), (c)


def consume_ceiling(cfg: Config, topic: str, total: int, passes: int = 3) -> float:
    """(a) confluent-kafka + orjson.loads over the whole topic; median events/s of passes,
    each timed from its first message to its last."""
    rates = []
    for _ in range(passes):
        c = Consumer({"bootstrap.servers": bootstrap(cfg.broker), "group.id": "bench-ceiling",
                      "enable.auto.commit": False, "fetch.max.bytes": 64 * 1024 * 1024})
        parts = c.list_topics(topic, timeout=10).topics[topic].partitions
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
        n, t0 = 0, 0.0
        deadline = time.monotonic() + 120
        while n < total and time.monotonic() < deadline:
            # never more than what is left: consume() waits its timeout for a full batch
            for m in c.consume(min(1000, total - n), 1.0):
                if m.error() is None:
                    if n == 0:
                        t0 = time.perf_counter()
                    orjson.loads(m.value())
                    n += 1
        rates.append((n - 1) / (time.perf_counter() - t0))
        c.close()
    return statistics.median(rates)


def take_role(args: argparse.Namespace) -> None:
    """(b), run as its own process: a bare Faust agent counting ``take(500)`` batches of raw
    bytes, with the worker's Faust settings for the embedded broker."""
    import faust

    cfg = Config.from_json(Path(args.config_json).read_bytes())
    app = faust.App(TAKE_APP, **faust_settings(cfg, 99))
    topic = app.topic(args.topic, key_type=bytes, value_type=bytes, key_serializer="raw",
                      value_serializer="raw", partitions=cfg.partitions)
    batches: list[tuple[float, int]] = []

    @app.agent(topic)
    async def count(stream: Any) -> None:
        n = 0
        async for batch in stream.take(500, within=0.5):
            batches.append((time.time(), len(batch)))
            n += len(batch)
            if n >= args.expect:
                Path(args.out).write_bytes(orjson.dumps(batches))

    faust.Worker(app, loglevel="WARNING", quiet=True, redirect_stdouts=False
                 ).execute_from_commandline()


def take_ceiling(c: Cluster, topic: str, total: int) -> float:
    out = c.dir / "take.json"
    c.take_agent(topic, total, out)
    wait_for(out.exists, 300, "the bare Faust agent", c.check_alive)
    batches = [(float(t), int(n)) for t, n in orjson.loads(out.read_bytes())]
    c.kill("take")
    return steady_rate(batches, total)[0]


@dataclass
class WorkerRun:
    rate: float
    cpu_rate: float  # events per CPU-second of the worker process
    cpu_share: float  # CPU seconds / wall seconds while timed
    broker_cpu_share: float
    startup_s: float  # spawn -> first output
    assigned_s: float  # spawn -> partitions assigned


def worker_throughput(c: Cluster, w: Workload) -> WorkerRun:
    """(c) one worker on the pre-loaded input topic: events/s from its first output on
    ``interactions.evaluated`` to its last, and events per CPU-second of its process."""
    reader = TopicReader(c.cfg, c.cfg.topics.evaluated, lambda v: len(orjson.loads(v)))
    try:
        proc = c.worker(0)
        total = len(w.messages)
        first_cpu: tuple[float, float, float] | None = None

        def have() -> int:
            return sum(n for _, _, n in reader.snapshot())

        while True:
            c.check_alive()
            n = have()
            if first_cpu is None and n > 0:
                first_cpu = (cpu_seconds(proc.pid), cpu_seconds(c.broker.pid), time.time())
            if n >= total:
                break
            if time.time() - c.started["worker-0"] > 900:
                raise TimeoutError("the worker did not finish")
            time.sleep(0.05)
        end_cpu = (cpu_seconds(proc.pid), cpu_seconds(c.broker.pid), time.time())
        items = reader.snapshot()
    finally:
        reader.close()
    rate, t0, _t1 = steady_rate([(ts, n) for ts, _, n in items], total)
    assert first_cpu is not None
    events_timed = total - sum(n for ts, _, n in items if ts <= t0 + 0.05)
    wall = end_cpu[2] - first_cpu[2]
    cpu = end_cpu[0] - first_cpu[0]
    assigned = c.assignments("worker-0")
    c.kill("worker-0")
    return WorkerRun(rate, events_timed / cpu, cpu / wall, (end_cpu[1] - first_cpu[1]) / wall,
                     t0 - c.started["worker-0"], assigned[0][0] if assigned else float("nan"))


# --------------------------------------------------------------------------------------------
# (d) the pure core, per stage


STAGES = ("decode + validate", "evaluate", "aggregate (windows, dedup, state updates)",
          "early detection (tail scan, interim looks)", "judge (close windows, tests, alerts)",
          "encode state (table values)", "encode outputs (result chunks)")
DECODE, EVALUATE, AGGREGATE, EARLY, JUDGE, ENCODE_STATE, ENCODE_OUT = STAGES


def partition_messages(w: Workload, partitions: int, now_ms: int
                       ) -> dict[int, list[Message]]:
    """Each partition's messages in offset order, stamped with one producer time."""
    out: dict[int, list[Message]] = collections.defaultdict(list)
    for key, value in w.messages:
        p = core.partition_for(key.decode(), partitions)
        out[p].append(Message(len(out[p]), value, timestamp_ms=now_ms))
    return out


@contextlib.contextmanager
def stage_timers(acc: dict[str, float]) -> Iterator[None]:
    """Time pipeline.windows' decode, evaluate and window closing (judge) in place."""

    def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*a: Any, **k: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                acc[name] += time.perf_counter() - t0
        return wrapper

    saved_decode, saved_evaluate = core.decode, core.evaluate
    methods = {name: getattr(Processor, name) for name in ("_close_due", "_early")
               if hasattr(Processor, name)}  # _early: early detection, where the tree has it
    core.decode = timed(DECODE, saved_decode)  # type: ignore[assignment]
    core.evaluate = timed(EVALUATE, saved_evaluate)  # type: ignore[assignment]
    for name, fn in methods.items():
        setattr(Processor, name, timed(JUDGE if name == "_close_due" else EARLY, fn))
    try:
        yield
    finally:
        core.decode, core.evaluate = saved_decode, saved_evaluate  # type: ignore[assignment]
        for name, fn in methods.items():
            setattr(Processor, name, fn)


def run_core(cfg: Config, msgs: dict[int, list[Message]], now_ms: int,
             acc: dict[str, float] | None = None) -> dict[str, bytes]:
    """The worker's flush loop without Kafka: batches of ``batch_size`` per partition, a
    decoded cache per partition, state values encoded as the worker writes them, outputs
    encoded as the worker publishes them. Returns the store (key -> encoded value)."""
    store: dict[str, bytes] = {}

    def get(key: str) -> Any:
        raw = store.get(key)
        return None if raw is None else orjson.loads(raw)

    acc = acc if acc is not None else collections.defaultdict(float)
    for p, ms in sorted(msgs.items()):
        cache: dict[str, Any] = {}
        for i in range(0, len(ms), cfg.batch_size):
            t0 = time.perf_counter()
            proc = Processor(cfg, p, get, cache)
            out = proc.process(ms[i:i + cfg.batch_size], now_ms)
            t1 = time.perf_counter()
            for records in (out.evaluated, out.windows, out.drift):
                chunk_records(records)
            for alert in out.alerts:
                orjson.dumps(alert)
            t2 = time.perf_counter()
            for k, v in proc.writes.items():
                if v is None:
                    store.pop(k, None)
                else:
                    store[k] = encode_state(v)
            t3 = time.perf_counter()
            acc["process"] += t1 - t0
            acc[ENCODE_OUT] += t2 - t1
            acc[ENCODE_STATE] += t3 - t2
    return store


def warm_up(w: Workload) -> None:
    for i, o, _ in w.pairs[:100]:
        core.evaluate(i, o)


def core_stages(cfg: Config, w: Workload, now_ms: int) -> tuple[dict[str, float], dict[str, bytes]]:
    """(d) µs per event of each stage over the workload's events."""
    warm_up(w)
    acc: dict[str, float] = collections.defaultdict(float)
    msgs = partition_messages(w, cfg.partitions, now_ms)
    with stage_timers(acc):
        store = run_core(cfg, msgs, now_ms, acc)
    n = len(w.messages)
    acc[AGGREGATE] = acc.pop("process") - acc[DECODE] - acc[EVALUATE] - acc[EARLY] - acc[JUDGE]
    return {s: acc[s] / n * 1e6 for s in STAGES if s != EARLY or hasattr(Processor, "_early")
            }, store


def profile_core(cfg: Config, w: Workload, now_ms: int, top: int = 15,
                 share: float = 0.5) -> list[str]:
    """pyinstrument over the pure core on the first ``share`` of each partition's events (in
    event-time order, to bound the run time); the functions with the largest cumulative time
    (recursion counted once; the wrappers above 95% left out), with their self time, and the
    largest self times."""
    try:
        from pyinstrument import Profiler
    except ImportError:
        return ["(pyinstrument is not installed: .venv/bin/pip install pyinstrument)"]
    msgs = {p: ms[:int(len(ms) * share)]
            for p, ms in partition_messages(w, cfg.partitions, now_ms).items()}
    profiler = Profiler(interval=0.001)
    profiler.start()
    run_core(cfg, msgs, now_ms)
    session = profiler.stop()
    root = session.root_frame()
    assert root is not None
    cum: dict[str, float] = collections.defaultdict(float)
    own: dict[str, float] = collections.defaultdict(float)

    def walk(frame: Any, stack: frozenset[str]) -> None:
        name = f"{frame.function}  {frame.file_path_short}:{frame.line_no}"
        if frame.function.startswith("["):  # pyinstrument's [self], [await]: not functions
            return
        if name not in stack:
            cum[name] += frame.time
        own[name] += frame.total_self_time
        for child in frame.children:
            walk(child, stack | {name})

    walk(root, frozenset())
    total = root.time
    n = sum(len(ms) for ms in msgs.values())
    rows = [(k, v) for k, v in cum.items() if v < 0.95 * total]
    rows.sort(key=lambda kv: -kv[1])
    lines = [f"pyinstrument, pure core over the first {share:.0%} of each partition's events "
             f"({n}): {total:.1f} s profiled ({total / n * 1e6:,.0f} µs/event with the "
             f"profiler); top {top} by cumulative time", "",
             "| function | cumulative µs/event | % | self µs/event |",
             "| --- | ---: | ---: | ---: |"]
    for name, t in rows[:top]:
        lines.append(f"| `{name}` | {t / n * 1e6:,.0f} | {100 * t / total:.0f} | "
                     f"{own[name] / n * 1e6:,.0f} |")
    lines += ["", "largest self times: " + "; ".join(
        f"`{name}` {t / n * 1e6:,.0f} µs ({100 * t / total:.0f}%)"
        for name, t in sorted(own.items(), key=lambda kv: -kv[1])[:8])]
    return lines


# --------------------------------------------------------------------------------------------
# (e) two workers


@dataclass
class TwoWorkers:
    total_rate: float
    per_worker: list[tuple[str, list[int], int, float]]  # name, partitions, events, rate
    moved: int  # assignments logged after the first (rebalances seen)


def two_workers(c: Cluster, w: Workload) -> TwoWorkers:
    """Two workers started together on the pre-loaded topic; per worker: the partitions it
    held when the last event was applied, the events of those partitions, and its events/s
    from its first output to its last."""
    reader = TopicReader(c.cfg, c.cfg.topics.evaluated, evaluated_records)
    total = len(w.messages)
    try:
        c.worker(0)
        c.worker(1)
        wait_for(lambda: sum(len(v) for _, _, v in reader.snapshot()) >= total, 900,
                 "two workers", c.check_alive, 0.2)
        items = reader.snapshot()
    finally:
        reader.close()
    rate, _, _ = steady_rate([(ts, len(v)) for ts, _, v in items], total)
    per_partition: dict[int, list[tuple[float, int]]] = collections.defaultdict(list)
    for ts, _, recs in items:
        per_partition[recs[0][1]].append((ts, len(recs)))
    out = []
    moved = 0
    for name in ("worker-0", "worker-1"):
        history = c.assignments(name)
        moved += max(0, len(history) - 1)
        parts = history[-1][1] if history else []
        stamps = [s for p in parts for s in per_partition.get(p, [])]
        events = sum(n for _, n in stamps)
        r = steady_rate(stamps, events)[0] if stamps else 0.0
        out.append((name, parts, events, r))
    c.kill("worker-0")
    c.kill("worker-1")
    return TwoWorkers(rate, out, moved)


# --------------------------------------------------------------------------------------------
# (f) alert latency


@dataclass
class Latency:
    latencies: list[float]  # seconds, one per alert published when its window closed
    windows: int  # distinct windows with such an alert
    early: int  # alerts published before their window closed (early detection)
    firing: int
    resolved: int
    windows_sent: int


def alert_latency(c: Cluster, w: Workload, cycles: int, warm: int = 10, pace_s: float = 1.0,
                  per_cohort: int = 50) -> Latency:
    """One worker, one context with two cohorts, a real-text stream replayed at one event-time
    minute per ``pace_s`` wall seconds (event times in the past, so the watermark follows
    them). Cohort ``a`` has a deliberate change in 2 of every 8 windows after a 10-window
    warm-up (30% ``finish_reason=error``, 5x latency), which fires alerts, and resolves them.
    Latency: alert arrival on ``anomalies`` minus the produce time of the first event whose
    timestamp is at or past the alert window's end + allowed lateness (the event that makes
    the watermark close it)."""
    cfg = c.cfg
    pairs = w.pairs
    rng = random.Random(7)
    cycle, change = 8, 2
    n_windows = warm + cycles * cycle + 3
    now = int(time.time() * 1000)
    start = now - now % 60_000 - (n_windows + 5) * 60_000
    ctx = "latency-probe"
    schedule: list[tuple[int, bytes]] = []
    for win in range(n_windows):
        changed = win >= warm and (win - warm) % cycle < change
        for cohort in ("a", "b"):
            for _ in range(per_cohort):
                i, o, lat = pairs[rng.randrange(len(pairs))]
                ts = start + win * 60_000 + rng.randrange(60_000)
                bad = changed and cohort == "a"
                ev = {"event_id": f"lat-{len(schedule)}", "timestamp": ts,
                      "deployment_context": ctx, "cohort": cohort, "model": "m1",
                      "input": {"text": i}, "output": {"text": o},
                      "latency_ms": (lat or 500.0) * (5 if bad else 1),
                      "finish_reason": "error" if bad and rng.random() < 0.3 else "stop"}
                schedule.append((ts, orjson.dumps(ev)))
    schedule.sort(key=lambda s: s[0])
    reader = TopicReader(cfg, cfg.topics.alerts, orjson.loads)
    sent_at: list[tuple[int, float]] = []  # (event timestamp, wall time of its produce)
    try:
        c.worker(0)
        wait_for(lambda: bool(c.assignments("worker-0")), 60, "the worker", c.check_alive)
        producer = make_producer(cfg)
        t_start = time.time()
        for ts, value in schedule:
            due = t_start + (ts - start) / 60_000 * pace_s
            while (delay := due - time.time()) > 0:
                producer.poll(min(delay, 0.01))
            sent_at.append((ts, time.time()))
            producer.produce(cfg.topics.input, key=ctx.encode(), value=value)
            producer.poll(0)
        producer.flush(30)
        time.sleep(3.0)  # the last windows' alerts
        c.check_alive()
        alerts = reader.snapshot()
    finally:
        reader.close()
    c.kill("worker-0")
    lateness = cfg.allowed_lateness_seconds * 1000
    stamps = [ts for ts, _ in sent_at]
    lat, wins = [], set()
    counts: collections.Counter[str] = collections.Counter()
    for _, arrived, alert in alerts:
        if alert["segment"]["deployment_context"] != ctx:
            continue
        k = bisect.bisect_left(stamps, alert["window_end"] + lateness)
        if k == len(stamps):
            continue  # closed by an idle tick after the stream ended
        if arrived < sent_at[k][1] or EARLY_METRIC.search(alert["metric"]):
            counts["early"] += 1  # an open window's interim look or tail scan
            continue
        lat.append(arrived - sent_at[k][1])
        wins.add(alert["window_end"])
        counts[alert["status"]] += 1
    return Latency(lat, len(wins), counts["early"], counts["firing"], counts["resolved"],
                   n_windows)


# --------------------------------------------------------------------------------------------
# (g) state per segment


def field_sizes(value: dict[str, Any]) -> dict[str, int]:
    """Encoded bytes of each field of a state value (each encoded once: sketches are slow)."""
    return {k: len(encode_state(v)) for k, v in value.items()}


def open_bytes(sizes: dict[str, int]) -> int:
    """A segment's open-window state: its open windows (``{}``, 2 bytes, when it has none)
    and the tail scan of early detection, where the tree has it."""
    return sum(sizes[k] for k in OPEN_FIELDS if k in sizes)


def split_value(value: dict[str, Any]) -> tuple[int, int, int]:
    """Encoded bytes of a segment value's open-window state, its reference (trailing blocks,
    baseline, seasonal slots, anomaly baselines, recent windows; field values without their
    names), and the whole value (as encode_state writes it: ``{"k":v,...}``)."""
    sizes = field_sizes(value)
    whole = 1 + sum(len(k.encode()) + 4 + n for k, n in sizes.items()) if sizes else 2
    return open_bytes(sizes), sum(sizes[k] for k in REF_FIELDS if k in sizes), whole


@dataclass
class SizeStats:
    segments: int
    open_med: float
    open_max: int
    ref_med: float
    ref_max: int
    whole_med: float
    by_level: dict[str, tuple[int, float, int]]  # level -> segments, ref median, ref max


def size_stats(values: dict[str, Any]) -> SizeStats:
    rows = []
    for key, value in values.items():
        if key.startswith("seg" + SEP):
            seg: core.Segment = tuple(key.split(SEP)[1:])  # type: ignore[assignment]
            rows.append((level_of(seg), *split_value(value)))
    by_level = {}
    for level in ("context", "cohort", "model"):
        refs = [r[2] for r in rows if r[0] == level]
        if refs:
            by_level[level] = (len(refs), statistics.median(refs), max(refs))
    return SizeStats(len(rows), statistics.median(r[1] for r in rows), max(r[1] for r in rows),
                     statistics.median(r[2] for r in rows), max(r[2] for r in rows),
                     statistics.median(r[3] for r in rows), by_level)


def segment_events(pairs: list[tuple[str, str, float | None]], contexts: int, cohorts: int,
                   windows: int, start_ms: int, seed: int = 3) -> list[tuple[bytes, bytes]]:
    """One real-text event per (context, cohort, window), contexts ``seg-NNN`` and cohorts
    ``cNN``, one model: ``contexts * (1 + 2 * cohorts)`` segment values. Within a window the
    events are spread over the minute in time order."""
    rng = random.Random(seed)
    out = []
    for win in range(windows):
        for k in range(cohorts):
            for ctx in range(contexts):
                i, o, lat = pairs[rng.randrange(len(pairs))]
                ts = start_ms + win * 60_000 + (k * contexts + ctx) * 60_000 // (contexts * cohorts)
                ev = {"event_id": f"s-{win}-{ctx}-{k}", "timestamp": ts,
                      "deployment_context": f"seg-{ctx:03d}", "cohort": f"c{k:02d}",
                      "model": "m1", "input": {"text": i}, "output": {"text": o},
                      "latency_ms": lat}
                out.append(encode_event(ev))
    return out


def largest_reference(store: dict[str, bytes]) -> str:
    """The reference fields of the segment whose reference is largest, with their sizes."""
    values = [orjson.loads(v) for k, v in store.items() if k.startswith("seg" + SEP)]
    big = max(values, key=lambda v: split_value(v)[1])
    sizes = field_sizes(big)
    parts = sorted(((sizes[k], k) for k in REF_FIELDS if k in sizes), reverse=True)
    return ", ".join(f"{k} {b:,}" for b, k in parts)


@dataclass
class StateSizes:
    with_open: SizeStats
    idle: SizeStats
    idle_open_bytes: tuple[int, int]  # median, max of an idle segment's open-window state
    meta_bytes: int  # all partitions' meta values
    dedup_bytes: int
    events: int
    windows: int
    seconds: float


def state_sizes(cfg: Config, pairs: list[tuple[str, str, float | None]], windows: int,
                now_ms: int) -> StateSizes:
    """(g) 10,100 segment values through the pure core (evaluate memoised per text pair: it
    decides flags, not sizes, and is timed in (d)). Measured after the last window's events
    (one open window each), then after an idle tick on every partition closed it (idle)."""
    t_start = time.perf_counter()
    contexts, cohorts = STATE_SEGMENTS
    start = now_ms - now_ms % 60_000 - (windows + 3) * 60_000
    messages = segment_events(pairs, contexts, cohorts, windows, start)
    evaluate = core.evaluate
    memo = functools.lru_cache(maxsize=None)(
        lambda i, o, max_chars=64_000, output_model=None: evaluate(
            i, o, max_chars=max_chars, output_model=output_model))
    by_p: dict[int, list[Message]] = collections.defaultdict(list)
    for key, value in messages:
        p = core.partition_for(key.decode(), cfg.partitions)
        by_p[p].append(Message(len(by_p[p]), value, timestamp_ms=now_ms))
    caches: dict[int, dict[str, Any]] = collections.defaultdict(dict)
    core.evaluate = memo  # type: ignore[assignment]
    try:
        for p, ms in by_p.items():
            for i in range(0, len(ms), cfg.batch_size):
                Processor(cfg, p, lambda _k: None, caches[p]).process(
                    ms[i:i + cfg.batch_size], now_ms)
        values = {k: v for cache in caches.values() for k, v in cache.items()}
        with_open = size_stats(values)
        for p, cache in caches.items():  # every partition falls silent: an idle tick
            meta = cache[core.meta_key(p)]
            tick = orjson.dumps({"kind": "idle", "last_data_offset": meta["last_data_offset"]})
            Processor(cfg, p, lambda _k: None, cache).process(
                [Message(len(by_p[p]), tick, timestamp_ms=now_ms, control=b"bench")], now_ms)
    finally:
        core.evaluate = evaluate  # type: ignore[assignment]
    values = {k: v for cache in caches.values() for k, v in cache.items()}
    idle = size_stats(values)
    idle_open = [open_bytes(field_sizes({f: v[f] for f in OPEN_FIELDS if f in v}))
                 for k, v in values.items() if k.startswith("seg" + SEP)]
    meta_b = sum(len(encode_state(v)) for k, v in values.items() if k.startswith("meta" + SEP))
    dedup_b = sum(len(encode_state(v)) for k, v in values.items() if k.startswith("dedup" + SEP))
    return StateSizes(with_open, idle, (int(statistics.median(idle_open)), max(idle_open)),
                      meta_b, dedup_b, len(messages), windows, time.perf_counter() - t_start)


# --------------------------------------------------------------------------------------------
# (h) recovery


@dataclass
class Recovery:
    cold_s: float  # empty state: spawn -> probe applied
    cold_assigned_s: float
    restart_s: float  # 10k segments: spawn after SIGKILL -> probe applied
    restart_assigned_s: float
    segments: int
    changelog_records: int
    changelog_keys: int
    changelog_mib: float
    records_after: int
    cleanup_policy: str
    build_s: float


def changelog_stats(cfg: Config) -> tuple[int, int, int]:
    """(records, distinct keys, value bytes) of the worker's changelog topic."""
    topic = CHANGELOG.format(app=cfg.app_id)
    c = Consumer({"bootstrap.servers": bootstrap(cfg.broker), "group.id": "bench-changelog",
                  "enable.auto.commit": False, "enable.partition.eof": True})
    try:
        parts = c.list_topics(topic, timeout=10).topics[topic].partitions
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
        records, size, keys, eof = 0, 0, set(), set()
        deadline = time.monotonic() + 120
        while len(eof) < len(parts) and time.monotonic() < deadline:
            for m in c.consume(1000, 1.0):
                err = m.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        eof.add(m.partition())
                    continue
                records += 1
                size += len(m.value() or b"")
                keys.add(m.key())
        return records, len(keys), size
    finally:
        c.close()


def cleanup_policy(cfg: Config) -> str:
    admin = AdminClient({"bootstrap.servers": bootstrap(cfg.broker)})
    res = ConfigResource(ConfigResource.Type.TOPIC, CHANGELOG.format(app=cfg.app_id))
    try:
        entries = admin.describe_configs([res])[res].result(timeout=10)
    except Exception as e:  # the broker may not implement DescribeConfigs
        return f"not reported ({type(e).__name__})"
    entry = entries.get("cleanup.policy")
    return entry.value if entry is not None else "not reported"


def probe(c: Cluster, reader: TopicReader, event_id: str, ts_ms: int, name: str,
          timeout: float = 180) -> tuple[float, float]:
    """Produce one event of an existing context, wait for its evaluated record; returns
    (seconds from the worker's spawn to its output, spawn to its first assignment)."""
    ev = {"event_id": event_id, "timestamp": ts_ms, "deployment_context": "seg-000",
          "cohort": "c00", "model": "m1", "input": {"text": "probe"},
          "output": {"text": "probe answer"}, "latency_ms": 100.0}
    produce(c.cfg, c.cfg.topics.input, [encode_event(ev)])

    def found() -> float | None:
        for ts, _, recs in reader.snapshot():
            if any(r[0] == event_id for r in recs):
                return float(ts)
        return None

    wait_for(lambda: found() is not None, timeout, f"the probe {event_id}", c.check_alive)
    assigned = c.assignments(name)
    return (found() or 0.0) - c.started[name], assigned[-1][0] if assigned else float("nan")


def recovery(c: Cluster, pairs: list[tuple[str, str, float | None]], windows: int,
             now_ms: int) -> Recovery:
    """(h) cold start with empty state, then 10,100 segment values built by the worker itself
    (one real-text event per context x cohort x window), SIGKILL once every offset is
    committed, restart, time until a new event is applied."""
    cfg = c.cfg
    contexts, cohorts = STATE_SEGMENTS
    start = now_ms - now_ms % 60_000 - (windows + 3) * 60_000
    reader = TopicReader(cfg, cfg.topics.evaluated, evaluated_records)
    try:
        c.worker(0)
        cold, cold_assigned = probe(c, reader, "probe-cold", start, "worker-0")
        t0 = time.perf_counter()
        messages = segment_events(pairs, contexts, cohorts, windows, start)
        produce(cfg, cfg.topics.input, messages)
        wait_for(lambda: sum(len(v) for _, _, v in reader.snapshot()) >= len(messages) + 1,
                 900, "the state build", c.check_alive, 0.5)
        wait_for(lambda: consumer_lag(cfg.broker, cfg.app_id, [cfg.topics.input]) == 0, 60,
                 "the worker's offset commit", c.check_alive, 0.5)
        build_s = time.perf_counter() - t0
        time.sleep(1.0)  # the last state writes are on the broker (acks precede commits)
        records, keys, size = changelog_stats(cfg)
        policy = cleanup_policy(cfg)
        c.kill("worker-0", signal.SIGKILL)
        c.worker(0)
        restart, restart_assigned = probe(c, reader, "probe-restart", start + 1000,
                                          "worker-0", timeout=600)
        records_after = changelog_stats(cfg)[0]
    finally:
        reader.close()
    c.kill("worker-0")
    return Recovery(cold, cold_assigned, restart, restart_assigned,
                    contexts * (1 + 2 * cohorts), records, keys, size / 2**20, records_after,
                    policy, build_s)


# --------------------------------------------------------------------------------------------
# the table


@dataclass
class Table:
    rows: list[tuple[str, str, str, str, str]] = field(default_factory=list)

    def add(self, measure: str, value: str, ratio: str = "", goal: str = "",
            met: str = "") -> None:
        self.rows.append((measure, value, ratio, goal, met))

    def render(self) -> str:
        lines = ["| measure | value | ratio vs baseline | goal | met? |",
                 "| --- | ---: | ---: | --- | --- |"]
        lines += [f"| {' | '.join(r)} |" for r in self.rows]
        return "\n".join(lines)


def yes(ok: bool) -> str:
    return "yes" if ok else "**no**"


def percentile(xs: list[float], q: float) -> float:
    """Nearest-rank percentile (as measured: one of the values)."""
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, int(-(-q * len(s) // 1)) - 1))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller runs, < 3 minutes")
    ap.add_argument("--data-dir", help="default: $POSTWATCH_DATA_DIR or ../shared/data")
    ap.add_argument("--only", default=ALL_PARTS, help="comma-separated parts")
    ap.add_argument("--no-profile", action="store_true")
    ap.add_argument("--workdir", help="keep brokers' and workers' logs here (default: a "
                    "temporary directory, removed at the end)")
    ap.add_argument("--role", help=argparse.SUPPRESS)
    ap.add_argument("--config-json", help=argparse.SUPPRESS)
    ap.add_argument("--topic", help=argparse.SUPPRESS)
    ap.add_argument("--expect", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.role == "take":
        take_role(args)
        return
    run(args)


def run(args: argparse.Namespace) -> None:
    t_begin = time.monotonic()
    parts = set(args.only.split(","))
    data = find_data_dir(args.data_dir, os.environ)
    if data is None:
        raise SystemExit("no data directory (../shared/data or --data-dir): the events must "
                         "be built from the real data")
    copies, minutes = 2, (15 if args.quick else 60)
    raw_repeat = 3
    seg_windows = 1 if args.quick else 5
    cycles, warm = (4, 8) if args.quick else (7, 10)
    now = int(time.time() * 1000)
    w = build_workload(data, copies, minutes, 4, now)
    n = len(w.messages)
    sizes = [len(v) for _, v in w.messages]
    flags = "--quick" if args.quick else ""
    if args.only != ALL_PARTS:
        flags += f" --only {args.only}"
    print(f"command: PYTHONPATH=. .venv/bin/python bench/throughput.py {flags}".rstrip())
    print(f"events: {n} from {copies} demo scenarios x {minutes} min (real data; "
          f"{len(w.partition_of)} contexts over 4 partitions), value bytes median "
          f"{statistics.median(sizes):.0f}, mean {statistics.mean(sizes):.0f}, "
          f"max {max(sizes)}; {os.cpu_count()} cores", flush=True)
    print(tree_state())
    table = Table()
    res: dict[str, Any] = {}
    profile: list[str] = []
    with contextlib.ExitStack() as stack:
        if args.workdir:
            root = Path(args.workdir)
            root.mkdir(parents=True, exist_ok=True)
        else:
            root = Path(stack.enter_context(
                tempfile.TemporaryDirectory(prefix="postwatch-throughput-")))
        if parts & {"a", "b", "c"}:
            with cluster(root, "abc") as c:
                create_topic(c.cfg, RAW_TOPIC, c.cfg.partitions)
                raw = w.messages * raw_repeat
                produce(c.cfg, RAW_TOPIC, raw)
                produce(c.cfg, c.cfg.topics.input, w.messages)
                if "a" in parts:
                    res["a"] = consume_ceiling(c.cfg, RAW_TOPIC, len(raw))
                    log(t_begin, f"(a) {res['a']:.0f} events/s")
                if "b" in parts:
                    res["b"] = take_ceiling(c, RAW_TOPIC, len(raw))
                    log(t_begin, f"(b) {res['b']:.0f} events/s")
                if "c" in parts:
                    res["c"] = worker_throughput(c, w)
                    log(t_begin, f"(c) {res['c'].rate:.0f} events/s")
        cfg = Config(control_token="bench", partitions=4).validate()
        if "d" in parts:
            res["d"], res["d_store"] = core_stages(cfg, w, now)
            log(t_begin, f"(d) {sum(res['d'].values()):.0f} µs/event")
        if "e" in parts:
            with cluster(root, "e") as c:
                produce(c.cfg, c.cfg.topics.input, w.messages)
                res["e"] = two_workers(c, w)
            log(t_begin, f"(e) {res['e'].total_rate:.0f} events/s")
        if "f" in parts:
            with cluster(root, "f") as c:
                res["f"] = alert_latency(c, w, cycles, warm)
            log(t_begin, f"(f) {len(res['f'].latencies)} alerts")
        if "g" in parts:
            res["g"] = state_sizes(cfg, w.pairs, seg_windows, now)
            log(t_begin, f"(g) {res['g'].seconds:.0f} s")
        if "h" in parts:
            # no idle ticks: the state at the kill is exactly what the events built
            with cluster(root, "h", idle_timeout_seconds=3600.0) as c:
                res["h"] = recovery(c, w.pairs, 1 if args.quick else 2, now)
            log(t_begin, f"(h) {res['h'].restart_s:.1f} s")
        ratio_cb = (res["c"].rate / res["b"]) if "c" in res and "b" in res else None
        if (not args.no_profile and "d" in parts
                and (ratio_cb is None or ratio_cb < 0.7)):
            profile = profile_core(cfg, w, now)
            log(t_begin, "profile done")
    fill_table(table, res, n)
    print()
    print(table.render())
    if profile:
        print()
        print("\n".join(profile))
    print(f"\nrun time {time.monotonic() - t_begin:.0f} s")


def tree_state() -> str:
    """The commit measured, and whether the code it runs has uncommitted changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, text=True,
                              capture_output=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "pipeline", "detectors"],
                               cwd=REPO, text=True, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "code: (not a git checkout)"
    changed = [line[3:] for line in dirty.splitlines()]
    return f"code: {head}" + (f" + uncommitted changes in {', '.join(changed)}" if changed
                              else "")


def log(t0: float, msg: str) -> None:
    print(f"  [{time.monotonic() - t0:5.0f} s] {msg}", file=sys.stderr, flush=True)


def fill_table(t: Table, res: dict[str, Any], n: int) -> None:
    a, b = res.get("a"), res.get("b")
    if a is not None:
        t.add("(a) confluent-kafka + orjson consume ceiling (events/s)", f"{a:,.0f}",
              "1 (baseline)")
    if b is not None:
        t.add("(b) bare Faust `take(500)` ceiling (events/s)", f"{b:,.0f}",
              f"{b / a:.3f} of (a)" if a else "")
    c: WorkerRun | None = res.get("c")
    if c is not None:
        ok = b is not None and c.rate / b >= 0.7
        t.add("(c) postwatch worker, per worker (events/s)", f"{c.rate:,.0f}",
              f"{c.rate / b:.3f} of (b)" if b else "", "≥ 0.7 of (b)", yes(ok) if b else "")
        t.add("(c) per core (events per CPU-second of the worker process)",
              f"{c.cpu_rate:,.0f}", f"{c.cpu_rate / b:.3f} of (b)" if b else "")
        t.add("(c) worker / broker CPU while timed (cores busy)",
              f"{c.cpu_share:.2f} / {c.broker_cpu_share:.2f}")
        t.add("(c) worker start: spawn to partitions assigned / to first output (s)",
              f"{c.assigned_s:.1f} / {c.startup_s:.1f}")
    d: dict[str, float] | None = res.get("d")
    if d is not None:
        total = sum(d.values())
        for stage, us in d.items():
            t.add(f"(d) {stage} (µs/event)", f"{us:,.0f}", f"{us / total:.0%} of the core")
        t.add("(d) pure core total (µs/event) = ceiling without Kafka (events/s)",
              f"{total:,.0f} = {1e6 / total:,.0f}",
              f"{1e6 / total / b:.3f} of (b)" if b else "")
        if c is not None:
            worker_us = 1e6 / c.rate
            t.add("(d) the worker's µs/event (1/(c)); the pure core's share of it",
                  f"{worker_us:,.0f}; {total / worker_us:.0%}")
    e: TwoWorkers | None = res.get("e")
    if e is not None:
        t.add("(e) two workers, 4 partitions: total (events/s)", f"{e.total_rate:,.0f}",
              f"{e.total_rate / c.rate:.2f} of (c)" if c else "")
        for name, parts, events, rate in e.per_worker:
            t.add(f"(e) {name}: events/s, partitions, share of events",
                  f"{rate:,.0f}, {parts}, {events / n:.0%}",
                  f"{rate / c.rate:.2f} of (c)" if c else "")
        t.add("(e) reassignments logged after the first", str(e.moved))
    f: Latency | None = res.get("f")
    if f is not None and f.latencies:
        p50, p99 = percentile(f.latencies, 0.5), percentile(f.latencies, 0.99)
        t.add("(f) alert latency p50 / p99 / max (s)",
              f"{p50:.2f} / {p99:.2f} / {max(f.latencies):.2f}", "", "p99 ≤ 2 s", yes(p99 <= 2))
        t.add("(f) alerts at window close measured (firing, resolved), windows with one / "
              "windows sent", f"{len(f.latencies)} ({f.firing}, {f.resolved}), "
              f"{f.windows} / {f.windows_sent}")
        t.add("(f) alerts published before their window closed (early detection, not timed)",
              str(f.early))
    g: StateSizes | None = res.get("g")
    if g is not None:
        wo, idle = g.with_open, g.idle
        t.add(f"(g) segment values built ({g.events:,} events, {g.windows} windows, one "
              "event per context x cohort x window)", f"{wo.segments:,}")
        t.add("(g) open-window state, one window open (bytes, median / max)",
              f"{wo.open_med:,.0f} / {wo.open_max:,}")
        t.add("(g) open-window state of an idle segment (bytes, median / max)",
              f"{g.idle_open_bytes[0]} / {g.idle_open_bytes[1]}", "", "~0",
              yes(g.idle_open_bytes[1] <= 2))
        t.add("(g) reference state at 10,100 segments (bytes, median / max)",
              f"{idle.ref_med:,.0f} / {idle.ref_max:,}", "", "≤ 16 KiB",
              yes(idle.ref_max <= 16 * 1024))
        t.add("(g) whole segment value, idle (bytes, median)", f"{idle.whole_med:,.0f}")
        t.add("(g) partition meta, all 4 / dedup buckets (bytes)",
              f"{g.meta_bytes:,} / {g.dedup_bytes:,}")
    store: dict[str, bytes] | None = res.get("d_store")
    if store is not None:
        dense = size_stats({k: orjson.loads(v) for k, v in store.items()})
        for level, (count, med, mx) in dense.by_level.items():
            t.add(f"(g) reference state at demo density after (d), {level} level "
                  f"({count} segments; bytes, median / max)", f"{med:,.0f} / {mx:,}", "",
                  "≤ 16 KiB", yes(mx <= 16 * 1024))
        t.add("(g) open-window state at demo density after (d) (bytes, median / max)",
              f"{dense.open_med:,.0f} / {dense.open_max:,}")
        t.add("(g) largest reference at demo density, by field (bytes)",
              largest_reference(store))
    h: Recovery | None = res.get("h")
    if h is not None:
        t.add(f"(h) restart after SIGKILL with {h.segments:,} segment values: spawn to a new "
              "event applied (s)", f"{h.restart_s:.1f}",
              f"{h.restart_s / h.cold_s:.1f}x cold start")
        t.add("(h) of which spawn to partitions assigned (s)", f"{h.restart_assigned_s:.1f}")
        t.add("(h) cold start, empty state: spawn to first event applied / to assigned (s)",
              f"{h.cold_s:.1f} / {h.cold_assigned_s:.1f}", "1 (baseline)")
        t.add("(h) changelog: records / distinct keys / MiB before the kill",
              f"{h.changelog_records:,} / {h.changelog_keys:,} / {h.changelog_mib:.1f}")
        compacted = h.records_after < h.changelog_records
        t.add("(h) changelog compacted by the embedded broker? (cleanup.policy; records "
              "after the restart)", f"{'yes' if compacted else 'no'} ({h.cleanup_policy}; "
              f"{h.records_after:,})")
        t.add("(h) building that state through the worker (s)", f"{h.build_s:.0f}")


if __name__ == "__main__":
    main()
