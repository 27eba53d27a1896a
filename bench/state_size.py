"""Bytes of worker state per segment, open-window and reference separately.

Builds segments from the demo scenario's real events (../shared/data) through the worker's
own core (pipeline.windows.Processor), then measures the encoded table values:

    PYTHONPATH=. .venv/bin/python bench/state_size.py [--minutes 60]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.config import Config
from pipeline.scenario import build_demo_scenario, encode_event, find_data_dir
from pipeline.windows import SEP, Message, Processor, encode_state, level_of


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=int, default=60)
    ap.add_argument("--data-dir")
    args = ap.parse_args()
    import os

    data = find_data_dir(args.data_dir, os.environ)
    now = int(time.time() * 1000)
    start = now - now % 60_000 - (args.minutes + 2) * 60_000
    scen = build_demo_scenario(data, seed=1, start_ms=start, minutes=args.minutes)
    cfg = Config(control_token="bench", partitions=1)
    store: dict[str, bytes] = {}

    def get(key: str) -> object:
        raw = store.get(key)
        return None if raw is None else orjson.loads(raw)

    msgs = [Message(i, encode_event(e)[1], timestamp_ms=e["timestamp"])
            for i, e in enumerate(scen.events)]
    mid = len(msgs) * 2 // 3  # stop in the middle of the stream: windows are open
    for i in range(0, mid, 500):
        proc = Processor(cfg, 0, get)
        proc.process(msgs[i:min(i + 500, mid)], now)
        for k, v in proc.writes.items():
            if v is None:
                store.pop(k, None)
            else:
                store[k] = encode_state(v)

    rows = []
    for key, raw in store.items():
        if not key.startswith("seg" + SEP):
            continue
        value = orjson.loads(raw)
        seg = tuple(key.split(SEP)[1:])
        open_b = len(orjson.dumps(value.get("windows", {})))
        ref_b = len(orjson.dumps({k: value[k] for k in ("ref", "baseline", "anomaly", "vectors")
                                  if k in value}))
        rows.append((level_of(seg), open_b, ref_b, len(raw)))  # type: ignore[arg-type]
    print(f"command: PYTHONPATH=. python bench/state_size.py --minutes {args.minutes}")
    print(f"{'level':<9}{'segments':>9}{'open window (median B)':>24}{'reference (median B)':>22}"
          f"{'reference (max B)':>19}{'whole value (median B)':>24}")
    for level in ("context", "cohort", "model"):
        sel = [r for r in rows if r[0] == level]
        if sel:
            print(f"{level:<9}{len(sel):>9}{statistics.median(r[1] for r in sel):>24.0f}"
                  f"{statistics.median(r[2] for r in sel):>22.0f}{max(r[2] for r in sel):>19}"
                  f"{statistics.median(r[3] for r in sel):>24.0f}")
    meta = sum(len(v) for k, v in store.items() if not k.startswith("seg" + SEP))
    print(f"partition meta + dedup buckets: {meta} B for {mid} events")


if __name__ == "__main__":
    main()
