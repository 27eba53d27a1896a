"""The Prometheus endpoints of two running workers and the sink, scraped over HTTP.

Real embedded broker, two Faust workers (tables on RocksDB, ``worker_store = "rocksdb://"``,
so the production table store runs here too) serving /metrics on ``metrics_port`` and
``metrics_port + 1``, the sink on ``sink_metrics_port``. Known input: valid events over four
contexts, re-sent duplicates, every rejected case of the bad-input catalogue, and, once every
window has closed, events of an already closed window (late). The scraped counters, summed
over the two workers, equal those known counts and what ClickHouse holds.
"""

from __future__ import annotations

import re
import socket
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pipeline.demo import wait_complete
from pipeline.metrics import scrape, total
from pipeline.publish import make_producer
from pipeline.query import SinkQuery
from pipeline.runtime import Supervisor, free_port
from tests.conftest import make_config
from tests.integration.bad_input_catalogue import ACCEPTED, CONTEXT, cases, dumps, event

pytestmark = pytest.mark.integration

ASSIGNED = re.compile(r"input partitions assigned: \[([0-9, ]*)\]")
CONTEXTS = ("metrics-a", "metrics-b", "metrics-c", "metrics-d")
VALID = 200
RESENT = 7
LATE = 3


def two_free_ports() -> int:
    """A port p with p and p + 1 free (the two workers' metrics ports)."""
    for _ in range(50):
        p = free_port()
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", p + 1))
            except OSError:
                continue
        return p
    raise RuntimeError("no two consecutive free ports")


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return str(resp.read().decode())


def wait_for(what: str, sup: Supervisor, check: Callable[[], Any], timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sup.check_alive()
        value = check()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def test_worker_and_sink_metrics_equal_the_known_counts(tmp_path: Path) -> None:
    port = two_free_ports()
    sink_port = free_port()
    cfg = make_config(tmp_path, workers=2, worker_store="rocksdb://", metrics_port=port,
                      sink_metrics_port=sink_port)
    now = int(time.time() * 1000)
    ts = now - now % 60_000 - 5 * 60_000
    valid = [event(f"m-{i}", ts + i * 900, event_id=f"m-{i}",
                   deployment_context=CONTEXTS[i % len(CONTEXTS)]) for i in range(VALID)]
    rejected = [c for c in cases(ts, cfg.max_event_bytes + 1)
                if c.expected != ACCEPTED and not c.headers and c.key == CONTEXT.encode()]
    assert len(rejected) >= 25 and len({c.expected for c in rejected}) >= 10
    workers = [f"http://127.0.0.1:{port + i}/metrics" for i in range(2)]
    sink_url = f"http://127.0.0.1:{sink_port}/metrics"
    sup = Supervisor(cfg)
    sup.start()
    try:
        c = sup.cfg
        logs = [Path(c.state_dir) / "logs" / f"worker-{i}.log" for i in range(2)]

        def settled() -> bool:
            # both workers hold partitions and together all four: no rebalance (and no
            # replay that events_in would count twice) once events flow
            last = []
            for log in logs:
                found = ASSIGNED.findall(log.read_text(errors="replace")) if log.exists() else []
                if not found or not found[-1].strip():
                    return False
                last.append({int(p) for p in found[-1].split(",")})
            return last[0].isdisjoint(last[1]) and len(last[0] | last[1]) == 4

        wait_for("both workers assigned", sup, settled)
        producer = make_producer(c)
        for ev in valid + valid[:RESENT]:
            producer.produce(c.topics.input, key=ev["deployment_context"].encode(),
                             value=dumps(ev))
            producer.poll(0)
        for case in rejected:
            producer.produce(c.topics.input, key=case.key, value=case.value)
        producer.flush(60)
        q = SinkQuery.for_config(c)
        wait_complete(q, sup, VALID, len(rejected), 180)  # every window closed and stored
        # events of the first, closed window: late (stored and counted)
        late = [event(f"late-{i}", ts + i, event_id=f"late-{i}", deployment_context=CONTEXTS[0])
                for i in range(LATE)]
        for ev in late:
            producer.produce(c.topics.input, key=CONTEXTS[0].encode(), value=dumps(ev))
        producer.flush(60)
        wait_complete(q, sup, VALID + LATE, len(rejected), 120)
        db = c.database
        stored = dict(zip(("windows", "alerts", "late"), q.rows(
            f"SELECT (SELECT count() FROM {db}.segment_windows FINAL), "
            f"(SELECT count() FROM {db}.alerts FINAL), "
            f"(SELECT countIf(late) FROM {db}.interactions FINAL)")[0], strict=True))

        def scraped() -> tuple[dict[Any, float], list[dict[Any, float]]]:
            merged: dict[Any, float] = Counter()
            each = [scrape(get(url)) for url in workers]
            for one in each:
                for k, v in one.items():
                    merged[k] += v
            return merged, each

        published = VALID + RESENT + len(rejected) + LATE

        last: list[Any] = []

        def caught_up() -> dict[str, Any] | None:
            m, each = scraped()
            lags = [v for (n, _), v in m.items() if n == "postwatch_consumer_lag"]
            s = scrape(get(sink_url))
            last[:] = [total(m, "postwatch_events_in_total"), published, lags,
                       total(s, "postwatch_sink_buffer_messages")]
            if (total(m, "postwatch_events_in_total") == published and len(lags) == 4
                    and not any(lags) and total(s, "postwatch_sink_buffer_messages") == 0):
                return {"worker": m, "per_worker": each, "sink": s}
            return None

        try:
            final = wait_for("every message applied and the sink's buffer empty", sup,
                             caught_up)
        except AssertionError as e:  # say which part did not hold
            raise AssertionError(f"{e}: events_in, published, lags, sink buffer = {last}") from e
        m, s = final["worker"], final["sink"]
    finally:
        sup.stop()

    assert total(m, "postwatch_events_in_total") == published
    assert total(m, "postwatch_events_valid_total") == VALID + LATE
    assert total(m, "postwatch_duplicate_events_total") == RESENT
    assert total(m, "postwatch_late_events_total") == LATE == stored["late"]
    assert total(m, "postwatch_rerouted_events_total") == 0
    dead = {lab[0][1]: v for (n, lab), v in m.items() if n == "postwatch_dead_letters_total"}
    assert dead == dict(Counter(case.expected for case in rejected))
    assert total(m, "postwatch_windows_closed_total") == stored["windows"] > 0
    assert total(m, "postwatch_alerts_total") == stored["alerts"]
    assert total(m, "postwatch_windows_open") == 0
    assert total(m, "postwatch_flush_seconds_count") > 0
    # each worker serves its own registry: both applied events
    assert len(final["per_worker"]) == 2
    assert all(total(one, "postwatch_events_in_total") > 0 for one in final["per_worker"])
    assert total(s, "postwatch_sink_rows_written_total", table="interactions") == VALID + LATE
    assert total(s, "postwatch_sink_rows_written_total", table="dead_letters") == len(rejected)
    assert total(s, "postwatch_sink_rows_written_total", table="segment_windows") == (
        stored["windows"])
    assert total(s, "postwatch_sink_rows_written_total", table="alerts") == stored["alerts"]
    assert total(s, "postwatch_sink_retries_total") == 0
    assert total(s, "postwatch_sink_buffer_bytes") == 0
    assert total(s, "postwatch_sink_batches_committed_total") > 0
