"""The bad-input catalogue: hostile or malformed messages, each with its outcome declared
up front (``accepted``, or the dead-letter reason code). Synthetic text only.

`test_bad_input.py` feeds every case through the real embedded broker and a running worker
and checks each outcome; the README's table is this list (a test keeps the two in step).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

ACCEPTED = "accepted"
CONTEXT = "badinput-ctx"


@dataclass(frozen=True)
class Case:
    name: str
    what: str
    value: bytes | None
    expected: str  # "accepted" or a DLQ reason code
    key: bytes | None = CONTEXT.encode()
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    event_id: str | None = None  # for accepted cases: the id that must be stored once


def event(name: str, ts_ms: int, **over: Any) -> dict[str, Any]:
    ev: dict[str, Any] = {
        "event_id": f"bad-{name}", "timestamp": ts_ms, "deployment_context": CONTEXT,
        "cohort": "free", "model": "m1", "input": {"text": "what is the capital of France?",
                                                   "tokens": 8},
        "output": {"text": "Paris.", "tokens": 2}, "latency_ms": 120.0,
    }
    ev.update(over)
    return ev


def dumps(ev: dict[str, Any]) -> bytes:
    return orjson.dumps(ev)


def _nested(depth: int) -> Any:
    v: Any = 1
    for _ in range(depth):
        v = [v]
    return v


def cases(ts_ms: int, oversize_bytes: int) -> list[Case]:
    """Every case, for events around ``ts_ms`` (epoch ms) and a pipeline whose
    ``max_event_bytes`` is below ``oversize_bytes``."""

    def ev(name: str, **over: Any) -> dict[str, Any]:
        return event(name, ts_ms, **over)

    def ok(name: str, what: str, value: bytes, **kw: Any) -> Case:
        kw.setdefault("event_id", f"bad-{name}")
        return Case(name, what, value, ACCEPTED, **kw)

    def dlq(name: str, what: str, value: bytes | None, reason: str, **kw: Any) -> Case:
        return Case(name, what, value, reason, **kw)

    valid = dumps(ev("template"))
    big_text = "synthetic padding. " * (oversize_bytes // 19 + 1)
    return [
        dlq("not_json", "bytes that are not JSON", b"{not json", "not_json"),
        dlq("trailing_garbage", "a JSON object followed by more bytes",
            dumps(ev("trailing")) + b" x", "not_json"),
        dlq("whitespace_only", "a value of spaces only", b"   ", "not_json"),
        dlq("utf8_bom", "JSON preceded by a UTF-8 byte order mark", b"\xef\xbb\xbf" + valid,
            "not_json"),
        dlq("empty_value", "an empty value", b"", "empty_value"),
        dlq("tombstone", "a null value (tombstone)", None, "empty_value"),
        dlq("invalid_utf8", "bytes 0xff 0xfe inside a string",
            valid.replace(b"capital", b"cap\xff\xfeital"), "not_utf8"),
        dlq("overlong_utf8", "an overlong UTF-8 encoding of '/'",
            valid.replace(b"capital", b"cap\xc0\xafital"), "not_utf8"),
        dlq("encoded_surrogate", "a UTF-16 surrogate encoded as UTF-8 bytes",
            valid.replace(b"capital", b"cap\xed\xa0\x80ital"), "not_utf8"),
        dlq("lone_surrogate_escape", "a lone \\ud800 escape in a string",
            valid.replace(b"capital", b"cap\\ud800ital"), "invalid_escape"),
        dlq("broken_u_escape", "a \\u escape with two hex digits",
            valid.replace(b"capital", b"cap\\u12ital"), "invalid_escape"),
        dlq("json_array", "a JSON array instead of an object", b"[" + valid + b"]",
            "not_object"),
        dlq("json_string", "a JSON string", b'"hello"', "not_object"),
        dlq("json_null", "JSON null", b"null", "not_object"),
        dlq("missing_event_id", "no event_id",
            dumps({k: v for k, v in ev("x").items() if k != "event_id"}), "missing_field"),
        dlq("missing_text_and_tokens", "input with neither text nor tokens",
            dumps(ev("no_input", input={})), "missing_field"),
        dlq("timestamp_bool", "timestamp true", dumps(ev("ts_bool", timestamp=True)),
            "wrong_type"),
        dlq("input_as_string", "input given as a bare string",
            dumps(ev("input_str", input="hello")), "wrong_type"),
        dlq("tokens_float", "a token count of 3.5",
            dumps(ev("tok_float", output={"tokens": 3.5})), "wrong_type"),
        dlq("model_number", "model given as a number", dumps(ev("model_num", model=42)),
            "wrong_type"),
        dlq("latency_string", "latency_ms as a string",
            dumps(ev("lat_str", latency_ms="fast")), "wrong_type"),
        dlq("nan_latency", "latency_ms NaN", dumps(ev("nan"))[:-1] + b',"latency_ms":NaN}',
            "non_finite_number"),
        dlq("overflowing_number", "latency_ms 1e400 (infinite as a double)",
            valid.replace(b'"latency_ms":120.0', b'"latency_ms":1e400'), "non_finite_number"),
        dlq("negative_latency", "latency_ms -5", dumps(ev("neg_lat", latency_ms=-5)),
            "invalid_value"),
        dlq("absurd_latency", "latency_ms of 30 years",
            dumps(ev("abs_lat", latency_ms=1e12)), "invalid_value"),
        dlq("negative_tokens", "output tokens -1",
            dumps(ev("neg_tok", output={"tokens": -1})), "invalid_value"),
        dlq("absurd_tokens", "input tokens 10^12",
            dumps(ev("abs_tok", input={"tokens": 10**12})), "invalid_value"),
        dlq("score_out_of_range", "an external score of 1.5",
            dumps(ev("score", scores={"toxicity": 1.5})), "invalid_value"),
        dlq("epoch_seconds", "timestamp in seconds, not milliseconds",
            dumps(ev("secs", timestamp=ts_ms // 1000)), "invalid_value"),
        dlq("timestamp_no_offset", "RFC 3339 timestamp without an offset",
            dumps(ev("no_tz", timestamp="2026-12-01T10:00:00")), "invalid_value"),
        dlq("far_future", "timestamp three days ahead",
            dumps(ev("future", timestamp=ts_ms + 3 * 86_400_000)), "future_timestamp"),
        dlq("unsupported_version", "schema_version 2",
            dumps(ev("v2", schema_version=2)), "unsupported_version"),
        dlq("oversized", "a value just over max_event_bytes",
            dumps(ev("big", input={"text": big_text[:oversize_bytes]})), "too_large"),
        dlq("ten_megabytes", "a 10 MB value (the embedded broker accepts up to 16 MiB)",
            dumps(ev("huge", input={"text": "y" * (10 * 1024 * 1024)})), "too_large"),
        dlq("deep_attributes", "attributes nested 40 levels",
            dumps(ev("deep", attributes={"a": _nested(40)})), "too_deep"),
        dlq("deep_brackets", "100,000 opening brackets", b"[" * 100_000, "too_deep"),
        dlq("long_context", "deployment_context of 201 characters",
            dumps(ev("long_ctx", deployment_context="c" * 201)), "invalid_value"),
        dlq("newline_in_context", "a newline inside deployment_context",
            dumps(ev("nl_ctx", deployment_context="ctx\nother")), "invalid_value"),
        dlq("nul_in_cohort", "a NUL character inside cohort",
            dumps(ev("nul_cohort", cohort="free\u0000x")), "invalid_value"),
        dlq("empty_context", "an empty deployment_context",
            dumps(ev("empty_ctx", deployment_context="")), "invalid_value"),
        dlq("long_event_id", "event_id of 201 characters",
            dumps(ev("x", event_id="e" * 201)), "invalid_value"),
        dlq("forged_control", "a control header without the worker's token", valid,
            "forged_control", headers=[("postwatch-control", b'{"kind":"flush"}')]),
        ok("extra_fields", "unknown fields at the top level and inside input and model",
           dumps(ev("extra_fields", future_field={"x": 1}, input={"text": "hi", "role": "user"},
                    model={"name": "m1", "region": "eu"}))),
        ok("duplicate_json_keys", "the same key twice in one object (the last one wins)",
           dumps(ev("duplicate_json_keys"))[:-1] + b',"cohort":"paid"}'),
        ok("old_backfill", "a timestamp in 2001 (a backfill: stored, counted late)",
           dumps(ev("old_backfill", timestamp=978_307_200_000))),
        ok("null_key", "no message key", dumps(ev("null_key")), key=None),
        ok("binary_key", "a key that is not UTF-8", dumps(ev("binary_key")),
           key=b"\xff\xfe\x00key"),
        ok("huge_key", "a 10 KB key", dumps(ev("huge_key")), key=b"k" * 10_000),
        ok("garbage_headers", "headers with binary values",
           dumps(ev("garbage_headers")), headers=[("x-junk", b"\x00\xff" * 50)]),
        ok("tokens_only", "token counts and no text", dumps(ev(
            "tokens_only", input={"tokens": 12}, output={"tokens": 30}))),
        ok("pii_in_text", "an email address and a card number in the input (stored redacted)",
           dumps(ev("pii_in_text", input={
               "text": "mail jane.roe@example.org, card 4111 1111 1111 1111"}))),
        ok("control_chars_in_text", "NUL, escape and bidi-override characters in the text",
           dumps(ev("control_chars_in_text", input={"text": "a\u0000b\u001b[31mc\u202ed"}))),
        ok("mixed_scripts", "Latin, Cyrillic, CJK, Arabic, emoji and zero-width characters",
           dumps(ev("mixed_scripts", input={"text": "Héllo привет 你好 مرحبا 🙂\u200b!"}))),
        ok("duplicate_event_id", "the same event sent twice (counted once)",
           dumps(ev("duplicate_event_id"))),
        ok("duplicate_event_id_again", "the second copy of the same event",
           dumps(ev("duplicate_event_id")), event_id="bad-duplicate_event_id"),
    ]
