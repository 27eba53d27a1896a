"""The sink killed with SIGKILL at two points defined by its state, restarted by the
supervisor: every row lands exactly once.

- ``buffer_nonempty``: the sink's second batch is consumed (in its buffer) but not written and
  its offsets not committed. If the sink committed on consumption, those rows would be lost.
- ``after_insert``: (in the restarted sink) the third batch's rows are written but its offsets
  not committed: the next sink reads them again and ClickHouse deduplicates them.

Real components throughout (embedded Tansu, a Faust worker, the sink, chdb); the faults are the
sink's own test-only fault points (``fault`` setting), each firing once. Windows close by
event-time watermark (the idle timer is off), and the store is compared, with FINAL, against an
uninterrupted computation of the same input by the worker's pure core and against what the
result topics hold.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from detectors.judge import base_metric
from pipeline.publish import publish
from pipeline.query import SinkQuery
from pipeline.runtime import Supervisor
from pipeline.sink import committed_offsets, end_offsets, fault_marker, sink_info_path
from tests.conftest import make_config
from tests.pipeline.test_sink_outage import KEYS, PLAN, W, plan_events, read_topic, worker_outputs

pytestmark = pytest.mark.integration

FAULTS = ("buffer_nonempty", 2), ("after_insert", 3)


def _drained(broker: str, group: str, topics: list[str]) -> bool:
    ends = end_offsets(broker, topics)
    return committed_offsets(broker, group, ends) == ends


def test_sink_killed_with_a_full_buffer_and_after_an_insert_lands_every_row_once(
        tmp_path: Path) -> None:
    cfg = make_config(tmp_path, window_seconds=60, allowed_lateness_seconds=0,
                      min_window_events=20, min_reference_events=100,
                      idle_timeout_seconds=1000.0, sink_batch_rows=4,
                      sink_buffer_bytes=256 * 1024,
                      fault=",".join(f"sink:{p}:{n}" for p, n in FAULTS))
    markers = [fault_marker(cfg.state_dir, f"sink:{p}:{n}") for p, n in FAULTS]
    now = int(time.time() * 1000)
    start = now - now % W - (len(PLAN) + 5) * W
    events = plan_events(start)
    sup = Supervisor(cfg)
    sup.start()
    try:
        publish(sup.cfg, [(orjson.loads(v)["deployment_context"].encode(), v) for v in events],
                progress=False)
        c = sup.cfg
        deadline = time.monotonic() + 180
        done = False
        while time.monotonic() < deadline and not done:
            sup.supervise()  # restarts the killed sink (after 1 s, then 2 s)
            for name, proc in sup.procs.items():
                assert name == "sink" or proc.poll() is None, f"{name} died"
            done = (all(m.exists() for m in markers) and sup.procs["sink"].poll() is None
                    and _drained(c.broker, c.app_id, [c.topics.input])
                    and _drained(c.broker, f"{c.app_id}-sink", c.topics.outputs()))
            time.sleep(0.3)
        assert done, f"not drained; markers {[m.exists() for m in markers]}"
        assert sup.restarts.get("sink") == 2  # one restart per fault, each fired once
        # each kill left consumed, uncommitted messages behind
        assert all(int(m.read_text().split(": ")[1].split()[0]) > 0 for m in markers)
        info = orjson.loads(sink_info_path(c).read_bytes())
        assert info["pid"] == sup.procs["sink"].pid  # the query goes to the live sink
        q = SinkQuery.for_config(c)
        db = c.database

        # the uninterrupted computation of the same input (the worker's pure core)
        expected = worker_outputs(cfg, start)
        # interactions: every event once
        assert q.rows(f"SELECT count(), uniqExact(event_id) FROM {db}.interactions FINAL") == [
            [len(events), len(events)]]
        # windows: identical rows on the deterministic columns, sketches byte-equal
        cols = ("deployment_context", "cohort", "model", "level", "window_start", "events",
                "refusal", "over_refusal", "pii_input", "pii_output", "late_events",
                "input_chars_sum", "output_chars_sum", "latency_count", "closed_by", "summary")
        sql_cols = [f"toUnixTimestamp64Milli({k})" if k == "window_start"
                    else f"lower(hex(SHA256({k})))" if k == "summary" else k for k in cols]
        rows = q.rows(f"SELECT {', '.join(sql_cols)}, latency_sum_ms "
                      f"FROM {db}.segment_windows FINAL")
        got = sorted((tuple(r[:-1]), r[-1]) for r in rows)
        want = sorted((tuple(hashlib.sha256(base64.b64decode(w[k])).hexdigest()
                             if k == "summary" else w[k] for k in cols), w["latency_sum_ms"])
                      for w in expected.windows)
        assert len(got) == len(want) == 3 * 3 * (len(PLAN) - 1)  # 3 contexts x 3 levels
        assert [g[0] for g in got] == [w[0] for w in want]
        assert [g[1] for g in got] == pytest.approx([w[1] for w in want], rel=1e-9)
        assert q.rows(f"SELECT sum(events) FROM {db}.segment_windows FINAL "
                      f"WHERE level = 'context'") == [[(len(PLAN) - 1) * 40 * 3]]
        # drift results and alerts: what the result topics hold, once each
        drift = [r for v in read_topic(c, c.topics.drift, "check-drift") for r in orjson.loads(v)]
        assert q.rows(f"SELECT count() FROM {db}.drift_results FINAL") == [
            [len({orjson.dumps([r[k] for k in KEYS['drift_results']]) for r in drift})]]
        alerts = [orjson.loads(v) for v in read_topic(c, c.topics.alerts, "check-alerts")]
        ids = Counter(a["alert_id"] for a in alerts)
        assert ids and max(ids.values()) == 1  # no duplicate alert id on `anomalies`
        stored: list[list[Any]] = q.rows(f"SELECT alert_id FROM {db}.alerts FINAL")
        assert sorted(r[0] for r in stored) == sorted(ids)
        firing = {a["segment"]["deployment_context"] for a in alerts
                  if base_metric(a["metric"]) == "refusal_rate" and a["status"] == "firing"}
        assert firing == {"alpha", "beta", "gamma"}
    finally:
        sup.stop()
