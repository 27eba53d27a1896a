"""A burst of 10x the sustainable rate for 30 seconds through the whole pipeline.

Starts `postwatch up`'s processes (embedded Tansu broker, one Faust worker, the sink, chdb),
measures the sustainable rate end to end (a warm-up batch, then a timed batch: events per
second from its first rows landing in ClickHouse to its last), then produces at ``--factor``
times that rate for ``--seconds`` (events stamped with the time they are produced) and prints,
every ``--every`` seconds until worker and sink have caught up, the lag of each (messages their
consumer groups have not committed) and their resident memory; then a summary with the peak
RSS (VmHWM) of every process and the counts in ClickHouse.

    PYTHONPATH=. .venv/bin/python bench/burst.py                    # ~6 min on 2 cores
    PYTHONPATH=. .venv/bin/python bench/burst.py --seconds 5        # a short one
"""

from __future__ import annotations

import argparse
import random
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import orjson

from pipeline.config import Config
from pipeline.publish import make_producer, publish
from pipeline.query import SinkQuery
from pipeline.runtime import Supervisor
from pipeline.sink import consumer_lag

CONTEXTS = 8
WORDS = ("the", "a", "model", "user", "answer", "question", "please", "explain", "how", "why",
         "data", "system", "bread", "recipe", "code", "python", "error", "table", "window",
         "result", "value", "because", "which", "would", "should")


class Events:
    """Stationary events over CONTEXTS contexts with texts of a few hundred characters (a pool
    of pre-built texts, so that generating 10k events a second costs little)."""

    def __init__(self, seed: int = 1) -> None:
        rng = random.Random(seed)
        self.texts = [(" ".join(rng.choice(WORDS) for _ in range(rng.randint(10, 80))),
                       " ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 200))))
                      for _ in range(997)]
        self.n = 0

    def next(self, ts_ms: int | None = None) -> tuple[bytes, bytes]:
        i = self.n
        self.n += 1
        ctx = f"ctx-{i % CONTEXTS}"
        inp, out = self.texts[i % len(self.texts)]
        return ctx.encode(), orjson.dumps({
            "event_id": f"ev-{i}", "timestamp": ts_ms or int(time.time() * 1000),
            "deployment_context": ctx, "cohort": ("free", "pro")[i % 2], "model": "m1",
            "input": {"text": inp}, "output": {"text": out}, "latency_ms": float(50 + i % 1950)})

    def batch(self, n: int, seconds: float) -> list[tuple[bytes, bytes]]:
        end = int(time.time() * 1000)
        return [self.next(end - int(seconds * 1000 * (n - k) / n)) for k in range(n)]


def status(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except FileNotFoundError:
        pass
    return 0


def lags(cfg: Config) -> tuple[int, int]:
    return (consumer_lag(cfg.broker, cfg.app_id, [cfg.topics.input]),
            consumer_lag(cfg.broker, f"{cfg.app_id}-sink", cfg.topics.outputs()))


def stored(q: SinkQuery, db: str) -> int:
    return int(q.rows(f"SELECT count() FROM {db}.interactions")[0][0])


def wait_caught_up(sup: Supervisor, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sup.check_alive()
        if lags(sup.cfg) == (0, 0):
            return
        time.sleep(0.25)
    raise TimeoutError("the pipeline did not catch up")


def sustained_rate(sup: Supervisor, q: SinkQuery, events: Events, n: int) -> float:
    """Events per second through worker and sink, first rows to last rows of a batch of n."""
    db = sup.cfg.database
    base = stored(q, db)
    publish(sup.cfg, events.batch(n, n / 1000), progress=False)
    first: tuple[float, int] | None = None
    while True:
        sup.check_alive()
        t, have = time.monotonic(), stored(q, db) - base
        if first is None and have > 0:
            first = (t, have)
        if have >= n and first is not None:
            if first[1] >= n:
                raise RuntimeError("the timed batch landed at once; use a larger --timed")
            return (n - first[1]) / (t - first[0])
        time.sleep(0.1)


def produce_burst(cfg: Config, events: Events, rate: float, seconds: float,
                  progress: dict[str, Any]) -> None:
    """Produce ``rate`` events a second for ``seconds``, stamped as they are produced."""
    producer = make_producer(cfg)
    t0 = time.monotonic()
    sent = 0
    while (elapsed := time.monotonic() - t0) < seconds:
        due = int(rate * elapsed) - sent
        for _ in range(due):
            key, value = events.next()
            while True:
                try:
                    producer.produce(cfg.topics.input, key=key, value=value)
                    break
                except BufferError:
                    producer.poll(0.05)
            sent += 1
        progress["sent"] = sent
        producer.poll(0)
        time.sleep(0.02)
    producer.flush(60)
    progress["sent"] = sent
    progress["seconds"] = time.monotonic() - t0
    progress["done"] = True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--factor", type=float, default=10.0, help="burst rate / sustainable rate")
    ap.add_argument("--seconds", type=float, default=30.0, help="burst duration")
    ap.add_argument("--every", type=float, default=5.0, help="seconds between table rows")
    ap.add_argument("--timed", type=int, default=4000, help="events of the timed batch")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="postwatch-burst-") as tmp:
        cfg = Config(store=f"{tmp}/store", state_dir=f"{tmp}/state").validate()
        sup = Supervisor(cfg)
        sup.start()
        try:
            run(sup, args)
        finally:
            sup.stop()


def run(sup: Supervisor, args: argparse.Namespace) -> None:
    c = sup.cfg
    q = SinkQuery.for_config(c)
    db = c.database
    events = Events()
    publish(c, events.batch(500, 1.0), progress=False)  # warm-up
    wait_caught_up(sup)
    rate = sustained_rate(sup, q, events, args.timed)
    wait_caught_up(sup)
    target = args.factor * rate
    before = events.n
    pids = {n: p.pid for n, p in sup.procs.items()}
    print(f"command: PYTHONPATH=. python bench/burst.py --factor {args.factor:g} "
          f"--seconds {args.seconds:g} --every {args.every:g} --timed {args.timed}")
    print(f"sustainable rate {rate:.0f} events/s (end to end, {args.timed} events); burst "
          f"{args.factor:g}x = {target:.0f} events/s for {args.seconds:g} s\n")
    print("| t (s) | produced | worker lag | sink lag | rows stored | worker RSS MiB "
          "| sink RSS MiB | broker RSS MiB |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    progress: dict[str, Any] = {"sent": 0, "done": False}
    producer = threading.Thread(target=produce_burst,
                                args=(c, events, target, args.seconds, progress), daemon=True)
    t0 = time.monotonic()
    producer.start()
    peak = [0, 0]
    caught_up_at = None
    next_row = 0.0
    while True:
        sup.check_alive()
        t = time.monotonic() - t0
        worker_lag, sink_lag = lags(c)
        peak = [max(peak[0], worker_lag), max(peak[1], sink_lag)]
        done = progress["done"] and (worker_lag, sink_lag) == (0, 0)
        if t >= next_row or done:
            mib = {n: status(p, "VmRSS") / 2**20 for n, p in pids.items()}
            print(f"| {t:.0f} | {progress['sent']} | {worker_lag} | {sink_lag} | "
                  f"{stored(q, db) - before} | "
                  f"{mib['worker-0']:.0f} | {mib['sink']:.0f} | {mib['broker']:.0f} |",
                  flush=True)
            next_row += args.every
        if done:
            caught_up_at = t
            break
        time.sleep(0.5)
    producer.join()
    burst = progress["sent"]
    total = events.n
    counts = q.rows(f"SELECT count(), uniqExact(event_id) FROM {db}.interactions FINAL")[0]
    hwm = {n: status(p, "VmHWM") / 2**20 for n, p in pids.items()}
    drain_s = caught_up_at - progress["seconds"]
    print("\n| measure | value |")
    print("| --- | ---: |")
    print(f"| sustainable rate (measured, events/s) | {rate:.0f} |")
    print(f"| burst: target / achieved rate (events/s) | {target:.0f} / "
          f"{burst / progress['seconds']:.0f} |")
    print(f"| burst events | {burst} |")
    print(f"| peak worker lag / sink lag (messages) | {peak[0]} / {peak[1]} |")
    print(f"| caught up after the burst ended (s) | {drain_s:.0f} |")
    print(f"| throughput during the burst and drain (events/s), ratio to sustainable | "
          f"{burst / caught_up_at:.0f}, {burst / caught_up_at / rate:.2f} |")
    for name in ("worker-0", "sink", "broker"):
        print(f"| peak RSS (VmHWM) {name} (MiB) | {hwm[name]:.0f} |")
    print(f"| interactions stored (FINAL count, distinct ids) / events produced | "
          f"{counts[0]}, {counts[1]} / {total} |")


if __name__ == "__main__":
    main()
