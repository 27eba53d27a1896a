"""`postwatch baseline freeze|clear`: the operator's frozen reference for a context.

The summaries of the chosen period are read back from ClickHouse (`segment_windows.summary`),
merged per segment, and sent to the context's partition as a control message, so the worker
that owns the context applies it in order with the traffic (and a replay applies it again).
"""

from __future__ import annotations

import base64
from typing import Any

import orjson

from detectors.summary import WindowSummary
from pipeline.config import Config
from pipeline.query import SinkQuery
from pipeline.windows import CONTROL_HEADER, SEP, partition_for


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def merged_summaries(q: SinkQuery, cfg: Config, context: str, start_ms: int,
                     end_ms: int) -> dict[str, tuple[int, str]]:
    """segment (cohort SEP model) -> (windows merged, base64 summary) over [start, end)."""
    rows = q.rows(
        f"SELECT cohort, model, base64Encode(summary) FROM {cfg.database}.segment_windows FINAL "
        f"WHERE deployment_context = {_quote(context)} AND window_start >= "
        f"fromUnixTimestamp64Milli({int(start_ms)}) AND window_start < "
        f"fromUnixTimestamp64Milli({int(end_ms)}) ORDER BY cohort, model, window_start")
    merged: dict[str, WindowSummary] = {}
    counts: dict[str, int] = {}
    for cohort, model, b64 in rows:
        key = f"{cohort}{SEP}{model}"
        summary = WindowSummary.from_bytes(base64.b64decode(b64))
        if key in merged:
            merged[key].merge(summary)
        else:
            merged[key] = summary
        counts[key] = counts.get(key, 0) + 1
    return {k: (counts[k], base64.b64encode(v.to_bytes()).decode()) for k, v in merged.items()}


def segments_of(q: SinkQuery, cfg: Config, context: str) -> list[str]:
    rows = q.rows(f"SELECT DISTINCT cohort, model FROM {cfg.database}.segment_windows "
                  f"WHERE deployment_context = {_quote(context)}")
    return [f"{c}{SEP}{m}" for c, m in rows]


def control_message(cfg: Config, context: str, segments: dict[str, str],
                    period: tuple[int, int] | None) -> dict[str, Any]:
    """The message (topic, partition, value, headers) that installs or clears a baseline."""
    body = {"kind": "baseline", "context": context, "segments": segments,
            "from": period[0] if period else None, "to": period[1] if period else None}
    return {"topic": cfg.topics.input, "partition": partition_for(context, cfg.partitions),
            "value": orjson.dumps(body), "headers": [(CONTROL_HEADER, cfg.control_token.encode())]}
