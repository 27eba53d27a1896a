"""The bad-input catalogue through the real embedded broker and a running worker and sink.

Every case in `bad_input_catalogue.py` declares its outcome up front. Valid events are
interleaved with the bad ones; afterwards every valid event and every accepted case is in
`interactions` exactly once, every rejected message is in `dead_letters` with its declared
reason (matched by its partition and offset), and the worker never stopped.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from pipeline.demo import wait_complete
from pipeline.publish import make_producer
from pipeline.query import SinkQuery
from pipeline.runtime import Supervisor
from tests.conftest import REPO, make_config
from tests.integration.bad_input_catalogue import ACCEPTED, CONTEXT, Case, cases, dumps, event

pytestmark = pytest.mark.integration

VALID = 120


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("badinput")
    cfg = make_config(tmp)
    now = int(time.time() * 1000)
    ts = now - now % 60_000 - 5 * 60_000
    catalogue = cases(ts, cfg.max_event_bytes + 1)
    valid = [event(f"valid-{i}", ts + i * 1000, event_id=f"valid-{i}") for i in range(VALID)]
    sup = Supervisor(cfg)
    sup.start()
    try:
        producer = make_producer(sup.cfg)
        where: dict[int, tuple[int, int]] = {}  # case index -> (partition, offset)
        errors: list[Any] = []

        def note(i: int) -> Any:
            def cb(err: Any, msg: Any) -> None:
                if err is not None:
                    errors.append((i, err))
                elif i >= 0:
                    where[i] = (msg.partition(), msg.offset())
            return cb

        per_gap = VALID // (len(catalogue) + 1) + 1
        vi = 0
        for i, case in enumerate(catalogue):
            for ev in valid[vi:vi + per_gap]:
                producer.produce(sup.cfg.topics.input, key=CONTEXT.encode(), value=dumps(ev),
                                 on_delivery=note(-1))
            vi += per_gap
            producer.produce(sup.cfg.topics.input, key=case.key, value=case.value,
                             headers=case.headers or None, on_delivery=note(i))
            producer.poll(0)
        for ev in valid[vi:]:
            producer.produce(sup.cfg.topics.input, key=CONTEXT.encode(), value=dumps(ev),
                             on_delivery=note(-1))
        producer.flush(60)
        assert errors == []
        accepted_ids = {c.event_id for c in catalogue if c.expected == ACCEPTED}
        rejected = [c for c in catalogue if c.expected != ACCEPTED]
        q = SinkQuery.for_config(sup.cfg)
        wait_complete(q, sup, VALID + len(accepted_ids), len(rejected), 180)
        yield {"sup": sup, "q": q, "db": sup.cfg.database, "cases": catalogue, "where": where,
               "accepted_ids": accepted_ids}
    finally:
        sup.stop()


def test_the_catalogue_covers_at_least_30_kinds() -> None:
    catalogue = cases(1_796_300_000_000, 256 * 1024 + 1)
    assert len({c.name for c in catalogue}) == len(catalogue) >= 30
    assert len({c.expected for c in catalogue}) >= 12


def test_every_rejected_message_is_dead_lettered_with_its_declared_reason(
        run: dict[str, Any]) -> None:
    q, db = run["q"], run["db"]
    rows = q.rows(f"SELECT source_partition, source_offset, reason FROM {db}.dead_letters FINAL")
    got = {(int(p), int(o)): reason for p, o, reason in rows}
    cat: list[Case] = run["cases"]
    expected = {run["where"][i]: c.expected for i, c in enumerate(cat) if c.expected != ACCEPTED}
    assert got == expected


def test_every_valid_and_accepted_event_is_stored_exactly_once(run: dict[str, Any]) -> None:
    q, db = run["q"], run["db"]
    rows = q.rows(f"SELECT event_id, count() FROM {db}.interactions FINAL GROUP BY event_id")
    counts = dict(rows)
    want = {f"valid-{i}" for i in range(VALID)} | run["accepted_ids"]
    assert set(counts) == want
    assert set(counts.values()) == {1}  # the duplicate event_id too


def test_accepted_hostile_text_is_stored_redacted_and_old_events_are_late(
        run: dict[str, Any]) -> None:
    q, db = run["q"], run["db"]
    text = q.rows(f"SELECT input_text FROM {db}.interactions FINAL "
                  f"WHERE event_id = 'bad-pii_in_text'")[0][0]
    assert "jane.roe@example.org" not in text and "4111 1111 1111 1111" not in text
    assert "[REDACTED:email]" in text and "[REDACTED:card]" in text
    late = dict(q.rows(f"SELECT event_id, late FROM {db}.interactions FINAL "
                       f"WHERE event_id IN ('bad-old_backfill', 'valid-0')"))
    assert late == {"bad-old_backfill": True, "valid-0": False}
    cohort = q.rows(f"SELECT cohort FROM {db}.interactions FINAL "
                    f"WHERE event_id = 'bad-duplicate_json_keys'")[0][0]
    assert cohort == "paid"


def test_the_worker_never_stopped(run: dict[str, Any]) -> None:
    sup: Supervisor = run["sup"]
    assert sup.restarts == {}
    assert all(p.poll() is None for p in sup.procs.values())


def test_readme_table_lists_every_case_with_its_outcome() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    table = {m.group(1): m.group(2) for m in
             re.finditer(r"^ *\| `([a-z0-9_]+)` \| [^|]+ \| `?([a-z0-9_]+)`? \|$", readme, re.M)}
    catalogue = cases(1_796_300_000_000, 256 * 1024 + 1)
    assert {c.name: c.expected for c in catalogue}.items() <= table.items()
