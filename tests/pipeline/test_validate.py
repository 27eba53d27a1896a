"""Decoding and validation of raw input messages: every failure has a reason code."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from pipeline.validate import Interaction, Rejection, check_time, decode, parse_rfc3339_ms

BASE: dict[str, Any] = {
    "event_id": "e1", "timestamp": 1_764_700_000_000, "deployment_context": "ctx",
    "model": "m", "input": {"text": "hi"}, "output": {"tokens": 3},
}
MAX = 256 * 1024
DEEP: Any = 1
for _ in range(31):  # {"attributes": {"a": [[...]]}}: 33 levels > MAX_DEPTH 32
    DEEP = [DEEP]


def reason(obj: Any = None, raw: bytes | None = None) -> str | None:
    r = decode(raw if raw is not None else orjson.dumps(obj), MAX)
    return r.reason if isinstance(r, Rejection) else None


def test_valid_event_is_normalised_with_defaults() -> None:
    r = decode(orjson.dumps({**BASE, "model": {"name": "gpt", "version": "2"}}), MAX)
    assert isinstance(r, Interaction)
    assert (r.cohort, r.model, r.model_version, r.output_text, r.output_tokens) == (
        "unknown", "gpt", "2", None, 3)


def test_rfc3339_timestamp_with_offset_is_converted_to_epoch_ms() -> None:
    assert parse_rfc3339_ms("2026-12-01T10:00:00.123Z") == 1_796_119_200_123
    assert parse_rfc3339_ms("2026-12-01T11:00:00+01:00") == 1_796_119_200_000
    r = decode(orjson.dumps({**BASE, "timestamp": "2026-12-01T10:00:00.5Z"}), MAX)
    assert isinstance(r, Interaction) and r.ts_ms == 1_796_119_200_500


@pytest.mark.parametrize(("obj", "raw", "expected"), [
    (None, b"{not json", "not_json"),
    (None, b'{"a": "\xff\xfe"}', "not_utf8"),
    (None, b"[1, 2, 3]", "not_object"),
    (None, b'{"event_id": "x", "latency_ms": NaN}', "non_finite_number"),
    (None, b'{"event_id": "x", "latency_ms": Infinity}', "non_finite_number"),
    ({k: v for k, v in BASE.items() if k != "deployment_context"}, None, "missing_field"),
    ({**BASE, "input": {}}, None, "missing_field"),
    ({**BASE, "timestamp": True}, None, "wrong_type"),
    ({**BASE, "input": {"text": 5}}, None, "wrong_type"),
    ({**BASE, "latency_ms": -5}, None, "invalid_value"),
    ({**BASE, "timestamp": 1_764_700_000}, None, "invalid_value"),  # epoch seconds, not ms
    ({**BASE, "timestamp": "2026-12-01T10:00:00"}, None, "invalid_value"),  # no offset
    ({**BASE, "schema_version": 2}, None, "unsupported_version"),
    ({**BASE, "schema_version": "1"}, None, "unsupported_version"),
    ({**BASE, "scores": {"toxicity": 1.5}}, None, "invalid_value"),
    ({**BASE, "deployment_context": "ctx\nx"}, None, "invalid_value"),
    ({**BASE, "cohort": "a\x00b"}, None, "invalid_value"),
    ({**BASE, "deployment_context": "c" * 201}, None, "invalid_value"),
    (None, b'{"event_id": "\\ud800"}', "invalid_escape"),
    (None, b'{"event_id": "\\u12"}', "invalid_escape"),
    (None, b'{"latency_ms": 1e400}', "non_finite_number"),
    ({**BASE, "attributes": {"a": DEEP}}, None, "too_deep"),
])
def test_bad_input_gets_its_reason_code(obj: Any, raw: bytes | None, expected: str) -> None:
    assert reason(obj, raw) == expected


def test_oversized_message_is_rejected_before_parsing() -> None:
    raw = orjson.dumps({**BASE, "input": {"text": "x" * 300_000}})
    r = decode(raw, MAX)
    assert isinstance(r, Rejection) and r.reason == "too_large"
    assert str(len(raw)) in r.detail


def test_future_check_is_relative_to_newest_accepted_event_time() -> None:
    day = 86_400_000
    assert check_time(10 * day, 9 * day, day) is None
    rej = check_time(10 * day + 1, 9 * day, day)
    assert rej is not None and rej.reason == "future_timestamp"


@pytest.mark.parametrize(("obj", "raw", "expected"), [
    (None, b"", "empty_value"),
    (None, b"[" * 100_000, "too_deep"),  # deeper than any parser allows
    (None, b'{"a": ' * 5_000 + b"NaN" + b"}" * 5_000, "too_deep"),
    ({**BASE, "input": {"tokens": 2**64 - 1}}, None, "invalid_value"),
    ({**BASE, "latency_ms": 1e308}, None, "invalid_value"),
    ({**BASE, "timestamp": "1970-01-01T00:00:00Z"}, None, "invalid_value"),
    ({**BASE, "timestamp": "0001-01-01T00:00:00+00:00"}, None, "invalid_value"),
])
def test_hostile_input_is_rejected_not_raised(obj: Any, raw: bytes | None, expected: str) -> None:
    assert reason(obj, raw) == expected


def test_unknown_fields_are_accepted_and_ignored() -> None:
    r = decode(orjson.dumps({**BASE, "unexpected": 1, "input": {"text": "hi", "role": "user"},
                             "model": {"name": "m", "region": "eu"}}), MAX)
    assert isinstance(r, Interaction) and (r.input_text, r.model) == ("hi", "m")


def test_whole_number_float_timestamp_is_read_as_milliseconds() -> None:
    r = decode(orjson.dumps({**BASE, "timestamp": 1_764_700_000_000.0}), MAX)
    assert isinstance(r, Interaction) and r.ts_ms == 1_764_700_000_000
