"""The worker's pure core: windows, exactly-once effect, dedup, late data, judge."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from detectors.judge import base_metric
from pipeline.config import Config
from pipeline.windows import (
    OTHER,
    SEP,
    Message,
    Processor,
    encode_state,
    meta_key,
    seg_key,
)

W = 60_000
T0 = 1_764_000_000_000 - 1_764_000_000_000 % W  # a window boundary


def cfg(**kw: Any) -> Config:
    base = {"window_seconds": 60, "allowed_lateness_seconds": 10, "min_window_events": 20,
            "min_reference_events": 100, "control_token": TOKEN, "partitions": 1}
    base.update(kw)
    return Config(**base)


def event(i: int, ts: int, ctx: str = "ctx", cohort: str = "free", model: str = "m1",
          output: str = "Sure, here is the answer.", inp: str = "How do I bake bread?",
          event_id: str | None = None) -> bytes:
    return orjson.dumps({
        "event_id": event_id or f"e{i}", "timestamp": ts, "deployment_context": ctx,
        "cohort": cohort, "model": {"name": model}, "input": {"text": inp},
        "output": {"text": output}, "latency_ms": 100.0 + i % 40,  # stationary
    })


TOKEN = "test-token"


def tick(offset: int, last_data_offset: int, at_ms: int) -> Message:
    body = orjson.dumps({"kind": "idle", "last_data_offset": last_data_offset})
    return Message(offset, body, timestamp_ms=at_ms, control=TOKEN.encode())


class Store(dict[str, Any]):
    """A dict standing in for the Faust table (values JSON-encoded like the real one)."""

    def get_value(self, key: str) -> Any:
        raw = self.get(key)
        return None if raw is None else orjson.loads(raw)

    def apply(self, writes: dict[str, Any], limit: int | None = None) -> None:
        for n, (k, v) in enumerate(writes.items()):
            if limit is not None and n >= limit:
                return
            if v is None:
                self.pop(k, None)
            else:
                self[k] = encode_state(v)


def run(store: Store, config: Config, msgs: list[Message], partition: int = 0,
        persist_limit: int | None = None) -> Any:
    proc = Processor(config, partition, store.get_value)
    out = proc.process(msgs, now_ms=T0 + 10 * W)
    store.apply(proc.writes, persist_limit)
    return out


def data(values: list[bytes], first_offset: int = 0) -> list[Message]:
    """Data messages stamped by a producer whose clock agrees with the event time."""
    out = []
    for i, v in enumerate(values):
        try:
            ts = orjson.loads(v).get("timestamp")
        except (orjson.JSONDecodeError, AttributeError):
            ts = None
        out.append(Message(first_offset + i, v, timestamp_ms=ts if isinstance(ts, int) else T0))
    return out


def test_window_with_one_event_closes_when_idle_tick_arrives() -> None:
    store, c = Store(), cfg()
    out = run(store, c, data([event(0, T0 + 5_000)]))
    assert out.windows == []
    out = run(store, c, [tick(1, 0, T0 + W + 10_000)])
    assert sorted((r["level"], r["events"], r["closed_by"]) for r in out.windows) == [
        ("cohort", 1, "idle"), ("context", 1, "idle"), ("model", 1, "idle")]
    assert all(r["window_start"] == T0 for r in out.windows)
    assert store.get_value(meta_key(0))["contexts"]["ctx"]["open"] == []


def test_idle_tick_is_ignored_when_data_arrived_after_it_was_sent() -> None:
    store, c = Store(), cfg()
    run(store, c, data([event(0, T0 + 5_000), event(1, T0 + 6_000)]))
    out = run(store, c, [tick(2, 0, T0 + 5 * W)])  # sent before offset 1 was seen
    assert out.windows == []


def test_watermark_closes_window_only_after_allowed_lateness() -> None:
    store, c = Store(), cfg(allowed_lateness_seconds=10)
    out = run(store, c, data([event(0, T0 + 1_000), event(1, T0 + W + 9_000)]))
    assert out.windows == []  # watermark is 9 s past the window end, lateness is 10 s
    out = run(store, c, data([event(2, T0 + W + 10_000)], first_offset=2))
    ctx_rows = [r for r in out.windows if r["level"] == "context"]
    assert [(r["window_start"], r["events"], r["closed_by"]) for r in ctx_rows] == [
        (T0, 1, "watermark")]


def test_event_within_lateness_lands_in_its_window_and_later_one_is_late() -> None:
    store, c = Store(), cfg(allowed_lateness_seconds=10)
    msgs = data([
        event(0, T0 + 1_000),
        event(1, T0 + W + 5_000),
        event(2, T0 + 50_000),       # out of order, within lateness: window T0
        event(3, T0 + W + 11_000),   # closes T0
        event(4, T0 + 2_000),        # too late for T0
        event(5, T0 + 3 * W),        # closes T0+W; the late count rides on the next row
    ])
    out = run(store, c, msgs)
    rows = {(r["window_start"], r["level"]): r for r in out.windows}
    assert rows[(T0, "context")]["events"] == 2
    assert rows[(T0 + W, "context")]["events"] == 2
    assert rows[(T0 + W, "context")]["late_events"] == 1
    late = [e["event_id"] for e in out.evaluated if e["late"]]
    assert late == ["e4"]
    assert store.get_value(meta_key(0))["counts"]["late"] == 1


def test_duplicate_event_id_counts_once() -> None:
    store, c = Store(), cfg()
    run(store, c, data([event(0, T0 + 1_000), event(1, T0 + 2_000)]))
    out = run(store, c, data([event(0, T0 + 1_000), event(2, T0 + 3_000)], first_offset=2))
    assert [e["event_id"] for e in out.evaluated] == ["e2"]
    out = run(store, c, [tick(4, 3, T0 + 5 * W)])
    ctx = next(r for r in out.windows if r["level"] == "context")
    assert ctx["events"] == 3
    assert store.get_value(meta_key(0))["counts"]["duplicate"] == 1


def _uninterrupted(c: Config, msgs: list[Message]) -> list[dict[str, Any]]:
    store = Store()
    out = run(store, c, msgs)
    return sorted(out.windows, key=lambda r: (r["window_start"], r["level"], r["cohort"]))


@pytest.mark.parametrize("persisted", [0, 1, 2, 3, 5])
def test_replay_after_a_crash_with_part_of_the_writes_persisted_counts_each_event_once(
        persisted: int) -> None:
    c = cfg(allowed_lateness_seconds=0)
    first = data([event(i, T0 + i * 1_000, cohort=("a", "b")[i % 2]) for i in range(10)])
    second = data([event(10 + i, T0 + W + i * 1_000, cohort=("a", "b")[i % 2])
                   for i in range(10)] + [event(99, T0 + 3 * W)], first_offset=10)
    expected = _uninterrupted(c, first + second)

    store = Store()
    out1 = run(store, c, first, persist_limit=persisted)  # crash: a prefix of writes landed
    # restart: everything after the last committed offset (none) is delivered again
    out2 = run(store, c, first + second)
    got = sorted(out1.windows + out2.windows,
                 key=lambda r: (r["window_start"], r["level"], r["cohort"]))
    # every window is emitted, with the same values; a re-emission is identical (idempotent)
    def enc(r: dict[str, Any]) -> bytes:
        return orjson.dumps(r, option=orjson.OPT_SORT_KEYS)

    assert {enc(r) for r in got} == {enc(r) for r in expected}


def test_far_future_timestamp_is_dead_lettered_and_does_not_move_the_watermark() -> None:
    store, c = Store(), cfg()
    msgs = [Message(0, event(0, T0 + 1_000), timestamp_ms=T0 + 2_000),
            Message(1, event(1, T0 + 2 * 86_400_000), timestamp_ms=T0 + 3_000)]
    out = run(store, c, msgs)
    assert [(d["reason"], d["source_offset"]) for d in out.dead_letters] == [
        ("future_timestamp", 1)]
    assert store.get_value(meta_key(0))["contexts"]["ctx"]["wm"] == T0 + 1_000


def test_malformed_messages_get_reason_codes_and_the_stream_moves_on() -> None:
    store, c = Store(), cfg()
    msgs = data([b"{oops", b"\xff\xfe", b"[1]", event(0, T0 + 1_000)])
    out = run(store, c, msgs)
    assert [d["reason"] for d in out.dead_letters] == ["not_json", "not_utf8", "not_object"]
    assert [len(d["sha256"]) for d in out.dead_letters] == [64, 64, 64]
    assert [e["event_id"] for e in out.evaluated] == ["e0"]


def test_cohorts_beyond_the_cap_go_to_other_and_are_counted() -> None:
    store, c = Store(), cfg(max_cohorts_per_context=2)
    msgs = data([event(i, T0 + i, cohort=f"c{i}") for i in range(4)])
    out = run(store, c, msgs)
    assert [e["cohort"] for e in out.evaluated] == ["c0", "c1", OTHER, OTHER]
    out = run(store, c, [tick(4, 3, T0 + 5 * W)])
    ctx = next(r for r in out.windows if r["level"] == "context")
    assert ctx["overflow_events"] == 2
    assert {r["cohort"] for r in out.windows} == {"*", "c0", "c1", OTHER}


def test_text_is_redacted_before_it_leaves_the_worker() -> None:
    store, c = Store(), cfg()
    out = run(store, c, data([event(0, T0, inp="mail me at jane.doe@example.com please")]))
    text = out.evaluated[0]["input_text"]
    assert "jane.doe@example.com" not in text and "REDACTED" in text
    out = run(Store(), cfg(store_text="none"), data([event(0, T0)]))
    assert out.evaluated[0]["input_text"] is None


def test_a_model_present_since_the_start_is_not_judged_against_its_parents_mix() -> None:
    """m1 never refuses, m2 refuses half the time: the cohort's mix refuses 35%. m1 was
    part of that mix all along, so it must not be judged against it (it would 'drift' down
    in every window); it waits for a reference of its own."""
    c = cfg(min_reference_events=100, min_window_events=10, allowed_lateness_seconds=0)
    msgs, i = [], 0
    for w in range(8):  # m1 has too few events for a reference of its own in 8 windows
        for k in range(40):
            model = "m1" if k % 3 == 0 else "m2"
            out = ("I'm sorry, but I can't help with that." if model == "m2" and k % 2 == 0
                   else "Sure: step 1.")
            msgs.append(event(i, T0 + w * W + k * 100, model=model, output=out))
            i += 1
    msgs.append(event(i, T0 + 10 * W))
    result = run(Store(), c, data(msgs))
    m1 = [d for d in result.drift if d["model"] == "m1" and d["metric"] == "refusal_rate"]
    assert m1 == []  # no reference of its own yet, and the parent's is not its own
    assert [a for a in result.alerts if a["segment"]["model"] == "m1"] == []


@pytest.mark.parametrize("early", [True, False])
def test_new_model_is_judged_against_its_parents_reference_and_alerts(early: bool) -> None:
    c = cfg(min_reference_events=100, min_window_events=20, allowed_lateness_seconds=0,
            early_detection=early)
    msgs, i = [], 0
    for w in range(6):  # 6 windows of 40 events, refusal rate 5% on model m1
        for k in range(40):
            out = "I'm sorry, but I can't help with that." if k % 20 == 0 else "Sure: step 1."
            msgs.append(event(i, T0 + w * W + k * 100, output=out))
            i += 1
    for k in range(40):  # window 6: a new model refuses 60%
        out = "I'm sorry, but I can't help with that." if k % 5 < 3 else "Sure: step 1."
        msgs.append(event(i, T0 + 6 * W + k * 100, model="m2", output=out))
        i += 1
    msgs.append(event(i, T0 + 8 * W))
    store = Store()
    result = run(store, c, data(msgs))
    alerts = [a for a in result.alerts if base_metric(a["metric"]) == "refusal_rate"]
    by_seg = {(a["segment"]["cohort"], a["segment"]["model"]): a for a in alerts}
    assert ("free", "m2") in by_seg
    new = by_seg[("free", "m2")]
    assert new["reference_segment"] == {"deployment_context": "ctx", "cohort": "free",
                                        "model": "*"}
    assert new["n_ref"] == 200  # the parent's full reference blocks
    if early:  # the 32nd event completes the scan's first chunk and the window's first look
        assert new["metric"] in ("refusal_rate:tail32", "refusal_rate:look32")
        assert new["n"] == 32 and new["observed"] == pytest.approx(20 / 32)
    else:  # at the window's close
        assert new["metric"] == "refusal_rate"
        assert new["n"] == 40 and new["observed"] == pytest.approx(0.6)
    assert new["reference"] == pytest.approx(0.05)
    assert new["window_start"] == T0 + 6 * W
    assert len(new["evidence_event_ids"]) == 5
    m2 = store.get_value(seg_key(("ctx", "free", "m2")))
    assert m2["excluded"] == 1 and "ref" not in m2  # an incident is not its own reference
    # stationary windows raised nothing
    assert all(a["window_start"] == T0 + 6 * W for a in result.alerts)


def test_a_tail_that_tests_significant_at_every_chunk_writes_one_row_per_window() -> None:
    # drift_results rows are keyed by segment, kind, metric and window (the sink's
    # ReplacingMergeTree key): the scan's tail32 finding repeats at every chunk of an
    # incident window and must not produce rows with one key
    c = cfg(min_reference_events=100, min_window_events=20, allowed_lateness_seconds=0)
    msgs, i = [], 0
    for w in range(6):  # 6 windows of 40 events, refusal rate 5%
        for k in range(40):
            out = "I'm sorry, but I can't help with that." if k % 20 == 0 else "Sure: step 1."
            msgs.append(event(i, T0 + w * W + k * 100, output=out))
            i += 1
    for k in range(160):  # window 6: 160 events, refusal rate 60% (five chunks of 32)
        out = "I'm sorry, but I can't help with that." if k % 5 < 3 else "Sure: step 1."
        msgs.append(event(i, T0 + 6 * W + k * 100, output=out))
        i += 1
    msgs.append(event(i, T0 + 8 * W))
    result = run(Store(), c, data(msgs))
    keys = [(r["deployment_context"], r["cohort"], r["model"], r["kind"], r["metric"],
             r["window_start"]) for r in result.drift]
    assert len(keys) == len(set(keys))
    tail32 = [r for r in result.drift if r["metric"] == "refusal_rate:tail32"
              and r["level"] == "context"]
    assert len(tail32) == 1  # the first full chunk of the incident; the later ones repeat its key
    assert tail32[0]["n"] == 32 and tail32[0]["window_start"] == T0 + 6 * W
    assert tail32[0]["detail"].endswith("tail ending at the segment's event 288")


def test_alert_fires_once_then_resolves_after_three_clean_windows() -> None:
    # window tests only: the tail scan's findings would count too (see the new-model test)
    c = cfg(min_reference_events=100, min_window_events=20, allowed_lateness_seconds=0,
            resolve_after_windows=3, alert_cooldown_seconds=3600, early_detection=False)
    refusal = "I'm sorry, but I can't help with that."
    msgs, i = [], 0
    # 6 quiet windows (a full reference block of 5), 3 windows of 50% refusals, quiet again
    plan = [0.05] * 6 + [0.5] * 3 + [0.05] * 6
    for w, rate in enumerate(plan):
        every = round(1 / rate)
        for k in range(40):
            msgs.append(event(i, T0 + w * W + k * 100,
                              output=refusal if k % every == 0 else "Sure: step 1."))
            i += 1
    msgs.append(event(i, T0 + (len(plan) + 1) * W))
    out = run(Store(), c, data(msgs))
    seg = [a for a in out.alerts
           if a["level"] == "model" and a["metric"].startswith("refusal_rate")]
    # one lifecycle for the window test and the merged-window test of the metric; the merge
    # of windows 8-10 still holds incident window 8, so the three clean windows are 11-13
    assert [(a["status"], (a["window_start"] - T0) // W) for a in seg] == [
        ("firing", 6), ("resolved", 13)]
    assert seg[0]["dedup_key"] == seg[1]["dedup_key"]
    assert seg[0]["alert_id"] != seg[1]["alert_id"]
    assert seg[0]["config_hash"] == c.judge_hash()


def test_event_ahead_of_the_producer_clock_cannot_close_windows_still_filling() -> None:
    store, c = Store(), cfg(allowed_lateness_seconds=10, max_clock_skew_seconds=5)
    msgs = [Message(0, event(0, T0 + 1_000), timestamp_ms=T0 + 1_000),
            Message(1, event(1, T0 + 23 * 3_600_000), timestamp_ms=T0 + 2_000),  # 23 h ahead
            Message(2, event(2, T0 + 3_000), timestamp_ms=T0 + 3_000)]
    out = run(store, c, msgs)
    assert out.dead_letters == []
    assert [e["late"] for e in out.evaluated] == [False, False, False]
    assert store.get_value(meta_key(0))["contexts"]["ctx"]["wm"] == T0 + 2_000 + 5_000


def test_one_context_backfilling_old_data_does_not_affect_another() -> None:
    store, c = Store(), cfg()
    old = T0 - 400 * 86_400_000
    msgs = [Message(0, event(0, old, ctx="backfill"), timestamp_ms=T0),
            Message(1, event(1, T0 + 1_000, ctx="live"), timestamp_ms=T0 + 1_000),
            Message(2, event(2, T0 + 2_000, ctx="live"), timestamp_ms=T0 + 2_000)]
    out = run(store, c, msgs)
    assert out.dead_letters == []
    assert [(e["deployment_context"], e["late"]) for e in out.evaluated] == [
        ("backfill", False), ("live", False), ("live", False)]


def test_idle_tick_closes_only_windows_that_ended_more_than_the_lateness_ago() -> None:
    store, c = Store(), cfg(allowed_lateness_seconds=30)
    run(store, c, data([event(0, T0 + 1_000)]))
    out = run(store, c, [tick(1, 0, T0 + 20_000)])  # same minute: nothing to close yet
    assert out.windows == []
    out = run(store, c, data([event(2, T0 + 50_000)], first_offset=2))
    assert [e["late"] for e in out.evaluated] == [False]
    out = run(store, c, [tick(3, 2, T0 + W + 30_000)])
    assert [r["events"] for r in out.windows if r["level"] == "context"] == [2]


def test_forged_control_messages_are_dead_lettered_not_obeyed() -> None:
    store, c = Store(), cfg()
    run(store, c, data([event(0, T0 + 1_000)]))
    body = orjson.dumps({"kind": "idle", "last_data_offset": 0})
    out = run(store, c, [Message(1, body, timestamp_ms=T0 + 5 * W, control=b"guess")])
    assert out.windows == []
    assert [d["reason"] for d in out.dead_letters] == ["forged_control"]


def test_event_keyed_to_the_wrong_partition_is_forwarded_to_its_context_partition() -> None:
    from pipeline.windows import partition_for

    c = cfg(partitions=4)
    home = partition_for("ctx", 4)
    other = (home + 1) % 4
    out = run(Store(), c, data([event(0, T0 + 1_000)]), partition=other)
    assert out.evaluated == [] and out.dead_letters == []
    assert [(k, p) for k, _, p in out.reroute] == [(b"ctx", home)]
    out = run(Store(), c, data([event(0, T0 + 1_000)]), partition=home)
    assert [e["event_id"] for e in out.evaluated] == ["e0"] and out.reroute == []


def test_resent_event_with_another_timestamp_still_counts_once() -> None:
    store, c = Store(), cfg()
    run(store, c, data([event(0, T0 + 1_000)]))
    out = run(store, c, data([event(0, T0 + 50_000)], first_offset=1))
    assert out.evaluated == []
    assert store.get_value(meta_key(0))["counts"]["duplicate"] == 1


def test_identifiers_are_redacted_before_they_become_segment_keys() -> None:
    out = run(Store(), cfg(), data([event(0, T0, cohort="bob@example.com",
                                           model="AKIAIOSFODNN7EXAMPLE")]))
    ev = out.evaluated[0]
    assert "bob@example.com" not in ev["cohort"] and "AKIAIOSFODNN7EXAMPLE" not in ev["model"]


def test_a_card_number_at_the_text_cut_is_redacted_not_split() -> None:
    text = "x" * 3_990 + " 4111 1111 1111 1111 tail"
    out = run(Store(), cfg(max_text_chars=4_000), data([event(0, T0, inp=text)]))
    stored = out.evaluated[0]["input_text"]
    assert "4111" not in stored and len(stored) == 4_000


def test_a_context_that_stops_sending_raises_a_dead_man_alert_resolved_by_its_next_event() -> None:
    store, c = Store(), cfg(silence_timeout_seconds=300, allowed_lateness_seconds=0)
    msgs = [Message(0, event(0, T0, ctx="quiet"), timestamp_ms=T0),
            Message(1, event(1, T0, ctx="busy"), timestamp_ms=T0)]
    msgs += [Message(2 + k, event(2 + k, T0 + k * W, ctx="busy"), timestamp_ms=T0 + k * W)
             for k in range(1, 7)]
    out = run(store, c, msgs)
    silence = [a for a in out.alerts if base_metric(a["metric"]) == "silence"]
    assert [(a["segment"]["deployment_context"], a["status"]) for a in silence] == [
        ("quiet", "firing")]
    assert silence[0]["window_start"] == T0 + 5 * W  # first check at or after 300 s
    out = run(store, c, [Message(9, event(9, T0 + 7 * W, ctx="quiet"), timestamp_ms=T0 + 7 * W)])
    assert [(a["metric"], a["status"]) for a in out.alerts] == [("silence", "resolved")]
    assert out.alerts[0]["dedup_key"] == silence[0]["dedup_key"]


def test_a_frozen_baseline_replaces_the_trailing_reference() -> None:
    import base64

    from detectors.summary import WindowSummary

    c = cfg(min_reference_events=100, allowed_lateness_seconds=0)
    refusal = "I'm sorry, but I can't help with that."
    frozen = WindowSummary()
    for k in range(400):  # the operator's baseline: 50% refusals
        frozen.add({"refusal": k % 2 == 0, "jailbreak": False, "pii_input": False,
                    "pii_output": False, "error": False}, {}, {}, None)
    body = orjson.dumps({"kind": "baseline", "context": "ctx", "from": 0, "to": 1,
                         "segments": {f"*{SEP}*": base64.b64encode(frozen.to_bytes()).decode()}})
    msgs = [Message(0, body, timestamp_ms=T0, control=TOKEN.encode())]
    msgs += data([event(i + 1, T0 + (i // 40) * W + (i % 40) * 100,
                        output=refusal if i % 20 == 0 else "Sure.") for i in range(7 * 40)],
                 first_offset=1)
    out = run(Store(), c, msgs)
    ctx_refusal = [d for d in out.drift if d["level"] == "context"
                   and d["metric"] == "refusal_rate"]
    # judged against the baseline from the first window on (no trailing history needed)
    assert ctx_refusal[0]["window_start"] == T0
    assert ctx_refusal[0]["reference_kind"] == "baseline"
    assert ctx_refusal[0]["reference"] == pytest.approx(0.5)
    assert all(d["finding"] for d in ctx_refusal)  # 5% vs the frozen 50%


@pytest.mark.parametrize(("mode", "expected_finding"), [("trailing", True),
                                                        ("hour_of_week", False)])
def test_same_hour_of_week_reference_expects_a_weekly_peak(mode: str,
                                                           expected_finding: bool) -> None:
    """Hourly windows for two weeks; every Monday 09:00 refuses 50% (a weekly pattern), other
    hours 5%. Against the trailing reference, the second Monday 09:00 is a finding; against
    the same hour of the previous week it is not."""
    from pipeline.windows import hour_of_week

    hour = 3_600_000
    c = cfg(window_seconds=3600, allowed_lateness_seconds=0, min_reference_events=40,
            reference_mode=mode, reference_block_windows=5, reference_blocks=6)
    monday = T0 - T0 % (7 * 86_400_000) + 4 * 86_400_000  # epoch weeks start on Thursday
    assert hour_of_week(monday) == 0
    refusal = "I'm sorry, but I can't help with that."
    msgs, i = [], 0
    for h in range(7 * 24 + 11):
        peak = h % (7 * 24) == 9
        for k in range(40):
            out = refusal if (k % 2 == 0 if peak else k % 20 == 0) else "Sure."
            msgs.append(event(i, monday + h * hour + k * 1000, output=out))
            i += 1
    out = run(Store(), c, data(msgs))
    second_peak = monday + (7 * 24 + 9) * hour
    tests = [d for d in out.drift if d["window_start"] == second_peak and d["level"] == "context"
             and d["metric"] == "refusal_rate"]
    assert len(tests) == 1
    assert tests[0]["finding"] is expected_finding
    assert tests[0]["reference_kind"] == ("trailing" if mode == "trailing" else "hour_of_week")


@pytest.mark.parametrize("segments", [
    {f"a{SEP}b": "!!notbase64"},         # not base64
    {"no-separator": ""},                 # not cohort SEP model
    {f"a{SEP}b": "AAAA"},                 # base64, but not a summary
    ["not", "an", "object"],
])
def test_a_malformed_baseline_message_is_dead_lettered_and_the_stream_goes_on(
        segments: object) -> None:
    store, c = Store(), cfg()
    body = orjson.dumps({"kind": "baseline", "context": "ctx", "segments": segments})
    msgs = [Message(0, body, timestamp_ms=T0, control=TOKEN.encode()),
            *data([event(1, T0 + 1_000)], first_offset=1)]
    out = run(store, c, msgs)
    assert [d["reason"] for d in out.dead_letters] == ["processing_error"]
    assert [e["event_id"] for e in out.evaluated] == ["e1"]
    assert "baseline" not in store.get_value(seg_key(("ctx", "*", "*")))


# -- a crash in the middle of the changelog writes of a batch that closes windows ------------

REFUSAL = "I'm sorry, but I can't help with that."
CRASH_CFG = {"allowed_lateness_seconds": 0, "min_window_events": 8, "min_reference_events": 40,
             "reference_block_windows": 2, "reference_blocks": 3, "silence_timeout_seconds": 0}
# refusal rate per (window, cohort): cohorts drift by different amounts in window 6, so the
# closing step's tests span strong, moderate and null p-values (one BH family)
DRIFT = {(6, "a"): 0.5, (6, "b"): 0.4, (7, "a"): 0.34}


def _window_events(ctx: str, w: int, first_id: int, n: int = 60) -> list[bytes]:
    out = []
    for k in range(n):
        cohort = "abc"[k % 3]
        rate = DRIFT.get((w, cohort), 0.05) * (0.7 if ctx == "ctx2" else 1.0)
        refuse = (k // 3) % round(1 / rate) == 0  # k // 3: the cohort's n-th event
        out.append(event(first_id + k, T0 + w * W + k * 1_000, ctx=ctx, cohort=cohort,
                         model=("m1", "m2")[k // 6 % 2], output=REFUSAL if refuse else "Sure."))
    if ctx == "ctx" and w >= 5:  # a model rolled out in window 5: judged on its parent's reference
        out += [event(first_id + n + k, T0 + w * W + k * 4_000 + 500, ctx=ctx, cohort="c",
                      model="m3", output=REFUSAL if k % 4 == 0 else "Sure.") for k in range(12)]
    return out


def _crash_scenario() -> tuple[list[Message], list[Message], list[Message]]:
    """history (fully persisted), the batch that crashes, and what follows. The crashed batch
    closes windows 6 and 7 of both contexts (two watermark steps, each one BH family across
    every segment of its context), and a cohort seen only in that batch opens window 8."""
    hist, crash, tail = [], [], []
    i = 0
    for w in range(9):
        for ctx in ("ctx", "ctx2"):
            evs = _window_events(ctx, w, i)
            i += len(evs)
            if w == 8:  # the crashed batch ends early in window 8, with a new cohort
                crash += evs[:6] + [event(5_000 + k, T0 + 8 * W + 20_000 + k, ctx=ctx,
                                          cohort="new") for k in range(3)]
            else:
                (hist if w < 6 else crash).extend(evs)
    tail += [event(9_000, T0 + 11 * W, ctx="ctx"), event(9_001, T0 + 11 * W, ctx="ctx2")]
    first = data(hist)
    second = data(crash, first_offset=len(first))
    return first, second, data(tail, first_offset=len(first) + len(second))


def _enc(r: dict[str, Any]) -> bytes:
    return orjson.dumps(r, option=orjson.OPT_SORT_KEYS)


def _segments(store: Store) -> dict[str, Any]:
    """Segment states without the offsets they have applied (batch boundaries differ)."""
    out = {}
    for k in store:
        if k.startswith("seg" + SEP):
            value = store.get_value(k)
            value.pop("applied")
            out[k] = value
    return out


@pytest.fixture(scope="module")
def crash_runs() -> dict[str, Any]:
    c = cfg(**CRASH_CFG)
    hist, crash, tail = _crash_scenario()
    base = Store()
    run(base, c, hist)
    expected = Store(base)
    out = [run(expected, c, crash), run(expected, c, tail)]
    # the writes of the crashed batch, in the order the worker writes them
    probe = Processor(c, 0, Store(base).get_value)
    probe.process(crash, now_ms=T0 + 10 * W)
    return {"cfg": c, "base": base, "crash": crash, "tail": tail, "expected": expected,
            "out": out, "writes": list(probe.writes)}


def test_the_crash_scenario_closes_several_segments_in_one_step_with_a_mixed_family(
        crash_runs: dict[str, Any]) -> None:
    """What the sweep below relies on: the crashed batch's step closes windows of segments of
    every level in one BH family, with decisions that depend on the whole family."""
    family = [d for o in crash_runs["out"] for d in o.drift
              if d["window_start"] == T0 + 6 * W and d["deployment_context"] == "ctx"]
    levels = {d["level"] for d in family}
    segments = {(d["cohort"], d["model"]) for d in family}
    assert levels == {"context", "cohort", "model"} and len(segments) >= 8
    assert any(d["finding"] for d in family) and not all(d["bh_rejected"] for d in family)
    # rejected only thanks to the family: its p-value is above q / m (Bonferroni would keep it)
    q = crash_runs["cfg"].fdr_q
    assert any(d["bh_rejected"] and d["p_value"] > q / len(family) for d in family)
    assert [a for a in crash_runs["out"][0].alerts if a["window_start"] == T0 + 6 * W]
    # a model rolled out after its parent's reference had a block: judged on the parent's
    m3 = [d for d in family if d["model"] == "m3"]
    assert m3 and {tuple(d["reference_segment"]) for d in m3} == {("ctx", "c", "*")}
    # the order of the writes: journal first, meta last, segments from the model level up
    writes = crash_runs["writes"]
    assert writes[0].startswith("journal" + SEP) and writes[-1] == meta_key(0)
    levels_in_order = [k.count("*") for k in writes if k.startswith("seg" + SEP)]
    assert levels_in_order == sorted(levels_in_order) and len(levels_in_order) >= 20


@pytest.mark.parametrize("persisted", range(0, 27, 2))  # of the crashed batch's 26 writes
def test_replay_after_a_crash_mid_changelog_reproduces_windows_tests_alerts_and_state(
        crash_runs: dict[str, Any], persisted: int) -> None:
    """The worker crashes after ``persisted`` of the crashed batch's writes reached the
    changelog (its outputs were published before); the restarted worker replays that batch
    and the rest. Every window row, drift row (bh_rejected and finding included) and alert
    equals the uninterrupted run's, nothing is published twice once the journal is written,
    and every segment's state ends equal. (Without the journal, the decisions of the
    partial BH family differ; with segments written in first-touch order, a new model is
    judged on its parent's later reference; without re-opening a written segment's windows,
    the window a new cohort opened in the crashed batch never closes.)"""
    assert len(crash_runs["writes"]) == 26
    c = crash_runs["cfg"]
    store = Store(crash_runs["base"])
    out1 = run(store, c, crash_runs["crash"], persist_limit=persisted)  # crash
    replay = Processor(c, 0, store.get_value)  # restart: the batch is delivered again
    out2 = replay.process(crash_runs["crash"] + crash_runs["tail"], now_ms=T0 + 10 * W)
    store.apply(replay.writes)
    exp = crash_runs["out"]
    for kind in ("windows", "drift", "alerts"):
        published = [_enc(r) for o in (out1, out2) for r in getattr(o, kind)]
        want = {_enc(r) for o in exp for r in getattr(o, kind)}
        assert set(published) == want, (kind, len(set(published) - want),
                                        len(want - set(published)))
        # what the replay recomputed for outputs already published is the same records
        again = {_enc(r) for r in getattr(replay.suppressed, kind)}
        assert again <= want, (kind, len(again - want))
        if persisted:  # the journal was written: nothing is published twice
            assert len(published) == len(set(published)), kind
    assert _segments(store) == _segments(crash_runs["expected"])
