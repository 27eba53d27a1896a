"""Rebalance on the real embedded broker: a second worker joins mid-stream, takes half the
partitions (their state comes from the changelog), and later leaves, cleanly (SIGTERM) or by
SIGKILL; its partitions go back to the first worker. ClickHouse ends identical to the
uninterrupted run of test_kill (same input, same settings) and no alert is published twice.

The input is published in three parts. The join happens once the first worker has results
in ClickHouse; the leave at a point defined by state: after the second worker's results for
all of part two of its partitions are in ClickHouse (clean stop), or from inside the second
worker right after a flush that leaves an open window (test-only fault point, SIGKILL)."""

from __future__ import annotations

import math
import re
import signal
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pipeline.query import SinkQuery
from pipeline.runtime import Supervisor
from pipeline.windows import partition_for
from tests.integration.test_kill import (
    PARTITIONS,
    assert_identical,
    run_pipeline,
    uninterrupted,
)

pytestmark = pytest.mark.integration

ASSIGNED = re.compile(r"input partitions assigned: \[([0-9, ]*)\]")


def wait_for(what: str, sup: Supervisor, check: Callable[[], Any], timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        sup.check_alive()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def assignments(log: str) -> list[list[int]]:
    """The input partitions of each assignment a worker got, in order (from its log)."""
    return [[int(p) for p in m.split(",") if p.strip()] for m in ASSIGNED.findall(log)]


def log_of(sup: Supervisor, name: str) -> str:
    return (Path(sup.cfg.state_dir) / "logs" / f"{name}.log").read_text(errors="replace")


def interactions_on(q: SinkQuery, partitions: list[int]) -> int:
    where = ", ".join(str(p) for p in partitions)
    return int(q.rows("SELECT count() FROM postwatch.interactions FINAL "
                      f"WHERE source_partition IN ({where})")[0][0])


@pytest.mark.parametrize("leave", ["sigterm", "sigkill"])
def test_a_worker_joins_mid_stream_and_leaves_and_the_result_is_the_uninterrupted_one(
        tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, leave: str) -> None:
    want, events, expected = uninterrupted(tmp_path_factory)
    third = math.ceil(len(events) / 3)  # run_pipeline publishes three parts of this size
    seen: dict[str, Any] = {}

    def join(sup: Supervisor) -> None:
        q = SinkQuery.for_config(sup.cfg)
        # mid-stream: the first worker has published results of part one
        wait_for("results of part one", sup,
                 lambda: int(q.rows("SELECT count() FROM postwatch.interactions FINAL")[0][0]))
        env = {"POSTWATCH_FAULT": "worker:window_open:3"} if leave == "sigkill" else {}
        seen["name"] = name = sup.add_worker(env=env)
        seen["mine"] = wait_for("the new worker's partitions", sup,
                                lambda: [a for a in assignments(log_of(sup, name)) if a][-1:])[0]

    def leave_(sup: Supervisor) -> None:
        name, mine = seen["name"], seen["mine"]
        if leave == "sigterm":
            q = SinkQuery.for_config(sup.cfg)
            # all of parts one and two on its partitions is processed (by it, since part two)
            due = sum(1 for e in events[:2 * third]
                      if partition_for(e["deployment_context"], PARTITIONS) in mine)
            wait_for("the new worker's results", sup, lambda: interactions_on(q, mine) >= due)
            seen["code"] = sup.remove_worker(name, signal.SIGTERM)
        else:
            # it kills itself after its third flush that leaves an open window
            proc = sup.procs[name]
            wait_for("the new worker's fault point", sup, lambda: proc.poll() is not None)
            seen["code"] = sup.remove_worker(name)  # not restarted

    got = run_pipeline(tmp_path, events, expected, stages=[join, leave_])
    contexts = {partition_for(c, PARTITIONS) for c in ("support", "billing", "coding")}
    assert len(seen["mine"]) == PARTITIONS // 2 and set(seen["mine"]) & contexts
    if leave == "sigterm":
        assert seen["code"] == 0
    else:
        assert seen["code"] == -signal.SIGKILL
        assert "test fault point worker:window_open:3: SIGKILL" in got.logs["worker-1"]
    # the first worker gave up the joining worker's partitions, and got them back
    first = assignments(got.logs["worker-0"])
    assert first[-1] == list(range(PARTITIONS))
    assert any(set(a).isdisjoint(seen["mine"]) and a for a in first)
    assert got.restarts == {}
    assert_identical(got, want)
    assert sorted(got.alert_ids) == sorted(want.alert_ids)
    assert [i for i, n in Counter(got.alert_ids).items() if n > 1] == []
