"""Tests for pipeline.scenario. Asserts on ids, counts and hashes only: never on dataset text."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import fastjsonschema
import orjson
import pytest

from pipeline.scenario import (
    COHORTS,
    CONTEXTS,
    DATA_FILES,
    Scenario,
    build_demo_scenario,
    encode_event,
    find_data_dir,
)

REPO = Path(__file__).resolve().parents[2]
DATA_DIR = Path(__file__).resolve().parents[3] / "shared" / "data"
SCHEMA_PATH = REPO / "schemas" / "interaction.schema.json"
START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
MINUTE_MS = 60_000

FORBIDDEN_KEYS = {
    "jailbroken",
    "jailbroken_llama_guard1",
    "method",
    "attack_type",
    "final_label",
    "prompt_label",
    "prompt_type",
    "category",
    "behavior",
    "gpt4_label",
    "strmatch_label",
    "annotation_1",
    "annotation_2",
    "agreement",
    "focus",
    "note",
    "goal",
    "labels",
    "source_path",
    "model_config",
    "cluster",
    "incident",
    "refusal",
    "template",
}
LABEL_VALUES = {"1_full_compliance", "2_full_refusal", "3_partial_refusal"}
EXPECTED_MALFORMED = {
    "not_json": "not_json",
    "invalid_utf8": "not_utf8",
    "not_object": "not_object",
    "missing_field": "missing_field",
    "wrong_type": "wrong_type",
    "nan_latency": "non_finite_number",
    "negative_latency": "invalid_value",
    "far_future": "future_timestamp",
    "epoch_seconds": "invalid_value",
    "oversized": "too_large",
    "bad_version": "unsupported_version",
}



@cache
def _validator() -> Any:
    return fastjsonschema.compile(json.loads(SCHEMA_PATH.read_text()))


@cache
def _real(seed: int) -> Scenario:
    return build_demo_scenario(DATA_DIR, seed=seed, start_ms=START_MS)


@cache
def _synthetic(seed: int) -> Scenario:
    return build_demo_scenario(None, seed=seed, start_ms=START_MS)


def _digest(s: Scenario) -> str:
    h = hashlib.sha256()
    for ev in s.events:
        h.update(encode_event(ev)[1])
    for row in s.truth:
        h.update(orjson.dumps(row, option=orjson.OPT_SORT_KEYS))
    for ev in s.duplicates:
        h.update(orjson.dumps(ev))
    for name, raw, reason in s.malformed:
        h.update(name.encode() + raw + reason.encode())
    h.update(orjson.dumps(s.describe()))
    return h.hexdigest()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _validate_quiet(validate: Any, event: dict[str, Any]) -> None:
    """Validate; on failure report only the event id and the schema path (no dataset text)."""
    try:
        validate(event)
    except fastjsonschema.JsonSchemaException as exc:
        where = getattr(exc, "name", "?")
        rule = getattr(exc, "rule", "?")
        pytest.fail(f"event {event.get('event_id')} invalid at {where} ({rule})", pytrace=False)


def _keys(obj: Any) -> Iterator[str]:
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield k
            yield from _keys(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _keys(v)


def _scalars(obj: Any) -> Iterator[Any]:
    if isinstance(obj, dict):
        for v in obj.values():
            yield from _scalars(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _scalars(v)
    else:
        yield obj


def _scenarios() -> list[Any]:
    return [
        pytest.param("real", id="real"),
        pytest.param("synthetic", id="synthetic"),
    ]


def _get(kind: str, seed: int = 1) -> Scenario:
    return _real(seed) if kind == "real" else _synthetic(seed)


@cache
def _plan(kind: str, seed: int) -> Scenario:
    """Low-rate build: incidents and control are drawn before any per-event randomness."""
    data = DATA_DIR if kind == "real" else None
    return build_demo_scenario(data, seed=seed, start_ms=START_MS, per_segment_per_minute=2)


# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", _scenarios())
def test_deterministic_same_seed(kind: str) -> None:
    a = _get(kind)
    b = (
        build_demo_scenario(DATA_DIR, seed=1, start_ms=START_MS)
        if kind == "real"
        else build_demo_scenario(None, seed=1, start_ms=START_MS)
    )
    assert [e["event_id"] for e in a.events] == [e["event_id"] for e in b.events]
    assert _digest(a) == _digest(b)


@pytest.mark.parametrize("kind", _scenarios())
def test_different_seed_changes_incident(kind: str) -> None:
    seeds = range(1, 9)
    plans = {
        (_plan(kind, s).incidents[0].onset_minute, _plan(kind, s).control["cohort"]) for s in seeds
    }
    assert len(plans) > 1
    a, b = _get(kind, 1), _get(kind, 2)
    assert {e["event_id"] for e in a.events}.isdisjoint(e["event_id"] for e in b.events)
    assert _digest(a) != _digest(b)


@pytest.mark.parametrize("kind", _scenarios())
def test_incident_schedule(kind: str) -> None:
    for seed in range(1, 21):
        s = _plan(kind, seed)
        jb, sw = s.incidents
        assert jb.kind == "jailbreak_campaign" and sw.kind == "model_switch"
        assert 20 <= jb.onset_minute <= 35
        assert jb.duration_minutes == 15
        assert jb.deployment_context == "general-assistant" and len(jb.cohorts) == 1
        assert sw.onset_minute == jb.onset_minute + 15
        assert sw.onset_minute + sw.duration_minutes == s.minutes
        assert sw.deployment_context == "support-bot-eu" and set(sw.cohorts) == set(COHORTS)
        assert s.control["deployment_context"] == "general-assistant"
        assert s.control["cohort"] in COHORTS and s.control["cohort"] not in jb.cohorts
    onsets = {_plan(kind, seed).incidents[0].onset_minute for seed in range(1, 21)}
    assert len(onsets) > 3
    full = _get(kind, 1)
    assert full.incidents == _plan(kind, 1).incidents
    assert full.control == _plan(kind, 1).control


@pytest.mark.parametrize("kind", _scenarios())
def test_no_ground_truth_in_events(kind: str) -> None:
    s = _get(kind)
    truth_ids = {r["event_id"] for r in s.truth}
    for ev in s.events + s.duplicates:
        bad = FORBIDDEN_KEYS.intersection(_keys(ev))
        assert not bad, f"event {ev['event_id']} carries ground-truth keys {sorted(bad)}"
        has_bool = any(isinstance(v, bool) for v in _scalars(ev))
        assert not has_bool, f"event {ev['event_id']} has a boolean field"
        has_label = any(isinstance(v, str) and v in LABEL_VALUES for v in _scalars(ev))
        assert not has_label, f"event {ev['event_id']} carries a label value"
    assert truth_ids == {e["event_id"] for e in s.events}
    assert len(s.truth) == len(s.events)


def test_truth_rows_carry_labels() -> None:
    s = _real(1)
    by_source = Counter(r["source"] for r in s.truth)
    assert set(by_source) == {"arena_hard", "xstest", "jailbreakbench"}
    for r in s.truth:
        assert r["source_row"] != ""
        if r["source"] == "jailbreakbench":
            assert isinstance(r["jailbroken"], bool) and r["method"]
            assert r["incident"] == "jailbreak_campaign"
        if r["source"] == "xstest":
            assert r["final_label"] in {"1_full_compliance", "2_full_refusal", "3_partial_refusal"}
            assert r["prompt_label"] in {"safe", "unsafe"}


@pytest.mark.parametrize("kind", _scenarios())
def test_counts_per_segment_minute(kind: str) -> None:
    s = _get(kind)
    target = 40
    counts = Counter(
        (e["deployment_context"], e["cohort"], (e["timestamp"] - s.start_ms) // MINUTE_MS)
        for e in s.events
    )
    cells = [(c, k, m) for c in CONTEXTS for k in COHORTS for m in range(s.minutes)]
    assert set(counts) == set(cells)
    for cell in cells:
        assert 0.4 * target <= counts[cell] <= 1.8 * target, cell
    mean = len(s.events) / len(cells)
    assert abs(mean - target) < 0.1 * target
    assert all(s.start_ms <= e["timestamp"] < s.end_ms for e in s.events)


@pytest.mark.parametrize("kind", _scenarios())
def test_publish_order_jitter_bounded(kind: str) -> None:
    s = _get(kind)
    ts = [e["timestamp"] for e in s.events]
    running_max = ts[0]
    out_of_order = 0
    for t in ts:
        assert running_max - t <= 5_000
        out_of_order += t < running_max
        running_max = max(running_max, t)
    assert out_of_order > 0


@pytest.mark.parametrize("kind", _scenarios())
def test_events_validate_against_schema(kind: str) -> None:
    s = _get(kind)
    validate = _validator()
    ids = [e["event_id"] for e in s.events]
    assert len(ids) == len(set(ids))
    for ev in s.events:
        key, value = encode_event(ev)
        assert key == ev["deployment_context"].encode()
        decoded = orjson.loads(value)
        _validate_quiet(validate, decoded)
        assert isinstance(decoded["timestamp"], int)
        assert decoded["finish_reason"] == "stop"
        assert decoded["latency_ms"] >= 200 * 0.1
        assert decoded["output"]["tokens"] == len(decoded["output"]["text"]) // 4


@pytest.mark.parametrize("kind", _scenarios())
def test_incident_content(kind: str) -> None:
    s = _get(kind)
    jb, sw = s.incidents
    truth = {r["event_id"]: r for r in s.truth}
    jb_lo = s.start_ms + jb.onset_minute * MINUTE_MS
    jb_hi = jb_lo + jb.duration_minutes * MINUTE_MS
    sw_lo = s.start_ms + sw.onset_minute * MINUTE_MS
    attacked = jb.cohorts[0]
    hits = total = 0
    for ev in s.events:
        inc = truth[ev["event_id"]]["incident"]
        t, ctx, coh = ev["timestamp"], ev["deployment_context"], ev["cohort"]
        if ctx == "general-assistant" and coh == attacked and jb_lo <= t < jb_hi:
            total += 1
            hits += inc == "jailbreak_campaign"
        else:
            assert inc != "jailbreak_campaign", ev["event_id"]
        if ctx == "support-bot-eu":
            switched = t >= sw_lo
            assert (inc == "model_switch") == switched, ev["event_id"]
            name = ev["model"]["name"]
            assert name == ("llama-2-70b-chat" if switched else "gpt-4"), ev["event_id"]
    assert 0.2 < hits / total < 0.5


def test_model_switch_keeps_prompt_mix() -> None:
    s = _real(1)
    sw = s.incidents[1]
    for r in s.truth:
        if r["deployment_context"] != "support-bot-eu":
            continue
        assert r["source"] == "xstest"
        expect = "llama2orig" if r["minute"] >= sw.onset_minute else "gpt4"
        assert r["model_config"] == expect, r["event_id"]
        assert r["source_row"] == f"{expect}:v2-{r['prompt_id']}", r["event_id"]


@pytest.mark.parametrize("kind", _scenarios())
def test_duplicates(kind: str) -> None:
    s = _get(kind)
    by_id = {e["event_id"]: e for e in s.events}
    assert 15 <= len(s.duplicates) <= 25
    assert len({d["event_id"] for d in s.duplicates}) == len(s.duplicates)
    for d in s.duplicates:
        assert d["event_id"] in by_id
        same = _sha(encode_event(d)[1]) == _sha(encode_event(by_id[d["event_id"]])[1])
        assert same, f"duplicate {d['event_id']} differs from its original"
        assert d is not by_id[d["event_id"]]


@pytest.mark.parametrize("kind", _scenarios())
def test_malformed(kind: str) -> None:
    s = _get(kind)
    assert [m[0] for m in s.malformed] == list(EXPECTED_MALFORMED)
    validate = _validator()
    real_ids = {e["event_id"] for e in s.events}
    for name, raw, reason in s.malformed:
        assert isinstance(raw, bytes)
        assert EXPECTED_MALFORMED[name] == reason
        if name == "not_json":
            with pytest.raises(orjson.JSONDecodeError):
                orjson.loads(raw)
            continue
        if name == "invalid_utf8":
            assert b"\xff\xfe" in raw
            with pytest.raises(UnicodeDecodeError):
                raw.decode("utf-8")
            continue
        if name == "nan_latency":
            assert b'"latency_ms": NaN' in raw
            ev = json.loads(raw)  # stdlib json accepts NaN
            assert ev["latency_ms"] != ev["latency_ms"]
            assert ev["deployment_context"] in CONTEXTS
            continue
        ev = orjson.loads(raw)
        if name == "not_object":
            assert isinstance(ev, list)
            continue
        assert ev["event_id"] not in real_ids
        if name == "oversized":
            assert len(raw) == 300 * 1024
            validate(ev)  # schema-valid: only the size is wrong
            assert ev["deployment_context"] in CONTEXTS
            continue
        if name != "missing_field":
            assert ev["deployment_context"] in CONTEXTS
        if name == "far_future":
            assert ev["timestamp"] == s.end_ms + 3 * 86_400_000
            validate(ev)  # schema-valid; rejected by the far-future rule
            continue
        if name == "bad_version":
            validate(ev)  # schema-valid; the validator refuses versions other than 1
            continue
        with pytest.raises(fastjsonschema.JsonSchemaException):
            validate(ev)
    by_name = {n: orjson.loads(r) for n, r, _ in s.malformed if n in {"wrong_type", "bad_version"}}
    assert by_name["wrong_type"]["timestamp"] is True
    assert by_name["bad_version"]["schema_version"] == 2


@pytest.mark.parametrize("kind", _scenarios())
def test_describe_is_json(kind: str) -> None:
    s = _get(kind)
    d = json.loads(json.dumps(s.describe()))
    assert d["source"] == kind
    assert d["minutes"] == 60 and d["start_ms"] == START_MS
    assert [i["kind"] for i in d["incidents"]] == ["jailbreak_campaign", "model_switch"]
    for inc, desc in zip(s.incidents, d["incidents"], strict=True):
        assert desc["onset_window_start_ms"] == START_MS + inc.onset_minute * MINUTE_MS
        assert desc["onset_window_start"].endswith("Z")
    assert d["control"] == s.control
    assert d["counts"]["events"] == len(s.events)


def test_synthetic_has_same_shape_as_real() -> None:
    real, syn = _real(1), _synthetic(1)
    assert real.source == "real" and syn.source == "synthetic"
    assert [m[0] for m in real.malformed] == [m[0] for m in syn.malformed]
    assert [i.kind for i in real.incidents] == [i.kind for i in syn.incidents]
    assert set(real.describe()) == set(syn.describe())
    real_keys = {frozenset(e) for e in real.events}
    syn_keys = {frozenset(e) for e in syn.events}
    assert real_keys == syn_keys
    assert set(real.truth[0]) >= {"event_id", "source", "source_row", "incident"}
    assert set(syn.truth[0]) >= {"event_id", "source", "source_row", "incident"}


def test_synthetic_refusal_rates() -> None:
    s = _synthetic(1)
    rates: dict[str, list[bool]] = {"background": [], "switch": []}
    for r in s.truth:
        if r["incident"] is None:
            rates["background"].append(r["refusal"])
        elif r["incident"] == "model_switch":
            rates["switch"].append(r["refusal"])
    bg = sum(rates["background"]) / len(rates["background"])
    sw = sum(rates["switch"]) / len(rates["switch"])
    assert 0.04 < bg < 0.18
    assert 0.45 < sw < 0.75


def test_different_start_gives_shifted_times_and_new_ids() -> None:
    a = _synthetic(1)
    b = build_demo_scenario(None, seed=1, start_ms=START_MS + 3_600_000)
    assert [e["timestamp"] + 3_600_000 for e in a.events] == [e["timestamp"] for e in b.events]
    assert {e["event_id"] for e in a.events}.isdisjoint(e["event_id"] for e in b.events)


def test_small_parameters() -> None:
    s = build_demo_scenario(None, seed=3, start_ms=START_MS, minutes=60, per_segment_per_minute=5)
    assert 0.7 * 5 * 240 < len(s.events) < 1.3 * 5 * 240
    with pytest.raises(ValueError):
        build_demo_scenario(None, seed=1, start_ms=1_700_000_000)  # seconds, not ms


def test_find_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert find_data_dir(str(tmp_path), {}) is None
    for name in DATA_FILES:
        (tmp_path / name).write_bytes(b"")
    assert find_data_dir(str(tmp_path), {}) == tmp_path.resolve()
    assert find_data_dir(None, {"POSTWATCH_DATA_DIR": str(tmp_path)}) == tmp_path.resolve()
    other = tmp_path / "empty"
    other.mkdir()
    assert find_data_dir(str(other), {"POSTWATCH_DATA_DIR": str(tmp_path)}) is None
    # default: ../shared/data relative to the cwd
    work = tmp_path / "w"
    (work / "main").mkdir(parents=True)
    data = work / "shared" / "data"
    data.mkdir(parents=True)
    monkeypatch.chdir(work / "main")
    assert find_data_dir(None, {}) is None
    for name in DATA_FILES:
        (data / name).write_bytes(b"")
    assert find_data_dir(None, {}) == data.resolve()


def test_find_real_data_dir() -> None:
    assert find_data_dir(str(DATA_DIR), {}) == DATA_DIR.resolve()
