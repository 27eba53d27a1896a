"""The process model: an external broker by configuration, the query path through the sink,
and no process left behind when the supervisor is stopped or killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from pipeline.publish import publish
from pipeline.query import SinkQuery
from pipeline.runtime import Supervisor
from pipeline.scenario import encode_event
from tests.conftest import REPO, make_config

pytestmark = pytest.mark.integration


def events(n: int, start_ms: int, contexts: tuple[str, ...] = ("a", "b")) -> list[dict[str, Any]]:
    return [{"event_id": f"ev-{i}", "timestamp": start_ms + i * 1_000,
             "deployment_context": contexts[i % len(contexts)], "cohort": "c", "model": "m",
             "input": {"text": f"question {i}"}, "output": {"text": f"answer {i}"},
             "latency_ms": 10.0 * i} for i in range(n)]


def cli(tmp: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "--store", str(tmp / "store"), "--state-dir",
         str(tmp / "state"), *args], capture_output=True, text=True, timeout=timeout, cwd=REPO)


def wait_rows(q: SinkQuery, sup: Supervisor, sql: str, expected: Any, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    rows: Any = None
    while time.monotonic() < deadline:
        sup.check_alive()
        rows = [list(r) for r in q.rows(sql)]
        if rows == expected:
            return rows
        time.sleep(0.5)
    return rows


def test_external_broker_by_configuration_and_queries_through_the_sink(
        tansu: str, tmp_path: Path) -> None:
    cfg = make_config(tmp_path, broker=tansu)
    sup = Supervisor(cfg)
    sup.start()
    try:
        assert "broker" not in sup.procs  # the supervisor started no broker of its own
        now = int(time.time() * 1000)
        evs = events(120, now - now % 60_000 - 5 * 60_000)
        publish(sup.cfg, [encode_event(e) for e in evs], progress=False)
        q = SinkQuery.for_config(sup.cfg)
        assert q.url is not None and q.url.startswith("http://127.0.0.1:")
        sql = ("SELECT deployment_context, sum(events) FROM postwatch.segment_windows FINAL "
               "WHERE level = 'context' GROUP BY deployment_context ORDER BY 1")
        assert wait_rows(q, sup, sql, [["a", 60], ["b", 60]]) == [["a", 60], ["b", 60]]
        # the CLI goes through the running sink (the chdb store is owned by it)
        res = cli(tmp_path, "query", "--format", "json", sql)
        assert res.returncode == 0, res.stderr[-2000:]
        assert orjson.loads(res.stdout)["rows"] == [["a", 60], ["b", 60]]
        refused = cli(tmp_path, "query", "DROP TABLE postwatch.alerts")
        assert refused.returncode != 0 and "readonly" in refused.stderr.lower()
    finally:
        sup.stop()
    # after the sink stopped, the CLI opens the store itself
    res = cli(tmp_path, "query", "--format", "json",
              "SELECT count() FROM postwatch.interactions FINAL")
    assert res.returncode == 0, res.stderr[-2000:]
    assert orjson.loads(res.stdout)["rows"] == [[120]]


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    state = next(line for line in status.splitlines() if line.startswith("State:"))
    return "Z" not in state.split()[1]


def _start_up(tmp: Path) -> tuple[subprocess.Popen[str], list[int]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "--store", str(tmp / "store"), "--state-dir",
         str(tmp / "state"), "up", "--workers", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO)
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("publish to topic"):
            break
    kids = _children(proc.pid)
    assert len(kids) == 4, "".join(lines)  # broker, sink, two workers
    return proc, kids


def _wait_gone(pids: list[int], timeout: float = 60) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.2)
    return [p for p in pids if _alive(p)]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_up_stops_every_process_on_sigterm_or_ctrl_c(tmp_path: Path, sig: signal.Signals) -> None:
    proc, kids = _start_up(tmp_path)
    proc.send_signal(sig)
    assert proc.wait(60) == 0
    assert _wait_gone(kids) == []


def test_no_process_is_left_behind_when_the_supervisor_is_killed(tmp_path: Path) -> None:
    proc, kids = _start_up(tmp_path)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    assert _wait_gone(kids) == []


def test_two_workers_share_the_partitions_and_every_event_counts_once(
        tansu: str, tmp_path: Path) -> None:
    cfg = make_config(tmp_path, broker=tansu, workers=2)
    sup = Supervisor(cfg)
    sup.start()
    try:
        assert sorted(n for n in sup.procs if n.startswith("worker")) == ["worker-0", "worker-1"]
        now = int(time.time() * 1000)
        contexts = tuple(f"ctx-{i}" for i in range(8))
        evs = events(400, now - now % 60_000 - 8 * 60_000, contexts)
        src = tmp_path / "events.jsonl"
        src.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in evs + evs[:25]))  # 25 re-sent
        res = cli(tmp_path, "--broker", tansu, "publish", str(src))
        assert res.returncode == 0, res.stderr[-2000:]
        assert "published 425 messages" in res.stdout
        q = SinkQuery.for_config(sup.cfg)
        sql = ("SELECT count(), sum(events) FROM postwatch.segment_windows FINAL "
               "WHERE level = 'context'")
        # 400 distinct events one second apart span 7 one-minute windows, in each of 8 contexts
        got = wait_rows(q, sup, sql, [[56, 400]])
        assert got == [[56, 400]]
        parts = q.rows("SELECT uniqExact(source_partition) FROM postwatch.interactions FINAL")
        assert parts[0][0] > 1
    finally:
        sup.stop()
