"""The sink's write path on the real chdb engine: idempotent inserts, and rows that cannot be
written are set aside instead of blocking everything behind them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

SCRIPT = r'''
import sys
from pipeline.config import Config
from pipeline.sink import COLUMNS, Sink, migrate

cfg = Config(store=sys.argv[1])
sink = Sink(cfg, sleep=lambda s: None)
sink.prepare()
row = {c: None for c in COLUMNS["segment_windows"]}
def window(ctx, events, latency_sum):
    r = dict(row, window_start=1_796_000_000_000, window_end=1_796_000_060_000,
             deployment_context=ctx, cohort="*", model="*", level="context", events=events,
             refusal=0, jailbreak=0, pii_input=0, pii_output=0, error=0, harmful_output=0,
             harmful_request=0, over_refusal=0, jailbreak_success=0, late_events=0,
             overflow_events=0, input_chars_sum=0, output_chars_sum=0, input_tokens_sum=0,
             output_tokens_sum=0, latency_sum_ms=latency_sum, latency_count=0,
             latency_max_ms=0.0, first_event_ms=0, last_event_ms=0, sample_event_ids=[],
             closed_by="watermark", source_partition=0, summary=b"")
    return [r[c] for c in COLUMNS["segment_windows"]]
good = [window(f"c{i}", i + 1, 1.0) for i in range(5)]
bad = window("bad", 2**70, None)   # fits no UInt64, and NULL in a non-Nullable column
batch = good[:2] + [bad] + good[2:]
sink._insert("segment_windows", batch, "tok-1")
sink._insert("segment_windows", batch, "tok-1")  # the same batch again: deduplicated
print([list(r) for r in sink.query(
    "SELECT count(), sum(events) FROM postwatch.segment_windows")["rows"]])
print([list(r) for r in sink.query(
    "SELECT target_table, count() FROM postwatch.sink_rejects GROUP BY 1")["rows"]])
'''


def test_unwritable_rows_are_set_aside_and_the_rest_lands_once(tmp_path: Path) -> None:
    # a subprocess: chdb binds one store path per process
    res = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "store")],
                         capture_output=True, text=True, timeout=300, cwd=REPO)
    assert res.returncode == 0, res.stderr[-3000:]
    lines = res.stdout.strip().splitlines()
    assert lines[-2] == "[[5, 15]]"
    assert lines[-1] == "[['segment_windows', 2]]"  # set aside on each attempt, never lost


def test_sink_fault_points_are_read_from_a_spec_shared_with_the_worker() -> None:
    from pipeline.sink import parse_faults

    assert parse_faults("") == {}
    assert parse_faults("worker:alert@1:3,sink:after_insert:2, sink:buffer_nonempty:5") == {
        "after_insert": 2, "buffer_nonempty": 5}
    for bad in ("sink:after_insert", "sink:elsewhere:1", "sink:after_insert:x"):
        with pytest.raises(ValueError, match="sink:<point>:<n>"):
            parse_faults(bad)
