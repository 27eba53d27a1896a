"""Decode and validate one raw interaction message.

Returns either a normalised :class:`Interaction` or a :class:`Rejection` with a
machine-readable reason code. Nothing here raises on bad input.

Reason codes (stable, used in the DLQ headers and the ``dead_letters`` table):

=====================  ===============================================================
``empty_value``        the message has no value (empty bytes or a tombstone)
``too_large``          message larger than ``max_event_bytes``
``not_utf8``           bytes are not valid UTF-8
``not_json``           not parseable as JSON
``invalid_escape``     a broken ``\\u`` escape or a lone UTF-16 surrogate in a JSON string
``non_finite_number``  NaN / Infinity literals, or a number that overflows a double
``too_deep``           JSON nested deeper than ``MAX_DEPTH`` levels
``not_object``         valid JSON but not an object
``unsupported_version`` ``schema_version`` other than 1
``missing_field``      a required field is absent
``wrong_type``         a field has the wrong JSON type
``invalid_value``      a field has the right type but an invalid value (range, format, ...)
``future_timestamp``   event time too far ahead of the newest accepted event time
=====================  ===============================================================

Unknown fields are accepted and ignored (producers may be newer than the worker).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import fastjsonschema
import orjson

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"

REASONS = (
    "empty_value",
    "too_large",
    "not_utf8",
    "not_json",
    "invalid_escape",
    "non_finite_number",
    "too_deep",
    "not_object",
    "unsupported_version",
    "missing_field",
    "wrong_type",
    "invalid_value",
    "future_timestamp",
)


@dataclass(frozen=True, slots=True)
class Rejection:
    reason: str
    detail: str


@dataclass(slots=True)
class Interaction:
    """A valid event, flattened for the evaluators and aggregators."""

    event_id: str
    ts_ms: int
    context: str
    cohort: str
    model: str
    model_version: str
    input_text: str | None
    output_text: str | None
    input_tokens: int | None
    output_tokens: int | None
    latency_ms: float | None
    finish_reason: str
    scores: dict[str, float]
    raw: dict[str, Any]


@cache
def _validator() -> Any:
    schema = orjson.loads((SCHEMA_DIR / "interaction.schema.json").read_bytes())
    return fastjsonschema.compile(schema, formats={"date-time": _is_rfc3339})


_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"
)


MIN_TIMESTAMP_MS = 946_684_800_000  # 2000-01-01T00:00:00Z, as the schema's integer minimum


def _is_rfc3339(value: str) -> bool:
    if not _RFC3339.match(value):
        return False
    try:
        return parse_rfc3339_ms(value) >= MIN_TIMESTAMP_MS
    except (ValueError, OverflowError):
        return False


def parse_rfc3339_ms(value: str) -> int:
    """RFC 3339 string with an explicit offset -> epoch milliseconds."""
    v = value.replace("z", "Z").replace("t", "T").replace(" ", "T")
    frac = ""
    if "." in v:
        head, rest = v.split(".", 1)
        digits = len(rest) - len(rest.lstrip("0123456789"))
        frac, tz = rest[:digits], rest[digits:]
        v = head + tz
    dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        raise ValueError("timestamp needs an offset")
    ms = int(dt.timestamp()) * 1000
    return ms + int((frac + "000")[:3]) if frac else ms


def _reason_for_schema_error(err: Any) -> str:
    rule = getattr(err, "rule", "")
    if rule == "required":
        return "missing_field"
    if rule == "type":
        return "wrong_type"
    if rule == "oneOf" or rule == "anyOf":
        # oneOf/anyOf failures: a type mismatch on every branch is a wrong type
        value = getattr(err, "value", None)
        definition = getattr(err, "definition", {}) or {}
        branches = definition.get("oneOf") or definition.get("anyOf") or []
        types = {b.get("type") for b in branches if isinstance(b, dict)} - {None}
        if types and not any(_json_type_matches(value, t) for t in types):
            return "wrong_type"
        if any("required" in b for b in branches if isinstance(b, dict)):
            return "missing_field"
    return "invalid_value"


def _json_type_matches(value: Any, t: str) -> bool:
    return {
        "string": isinstance(value, str),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
        "object": isinstance(value, dict),
        "array": isinstance(value, list),
        "boolean": isinstance(value, bool),
    }.get(t, False)


def _has_non_finite(raw: bytes, text: str) -> bool:
    if b"NaN" not in raw and b"Infinity" not in raw:
        return False
    try:
        json.loads(text, parse_constant=_raise_constant)
    except _NonFiniteError:
        return True
    except (ValueError, RecursionError):
        return False
    return False


class _NonFiniteError(Exception):
    pass


def _raise_constant(name: str) -> Any:
    raise _NonFiniteError(name)


MAX_DEPTH = 32  # an event is 3 levels deep; free-form labels/attributes get the rest


def _depth_exceeds(obj: Any, limit: int) -> bool:
    """True when ``obj`` nests containers deeper than ``limit`` (iterative, O(nodes))."""
    stack: list[tuple[Any, int]] = [(obj, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


def decode(raw: bytes, max_bytes: int) -> Interaction | Rejection:
    """Decode and schema-check one message (no event-time checks: see :func:`check_time`)."""
    if not raw:
        return Rejection("empty_value", "empty message (no value)")
    if len(raw) > max_bytes:
        return Rejection("too_large", f"{len(raw)} bytes > max_event_bytes {max_bytes}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return Rejection("not_utf8", f"invalid UTF-8 at byte {e.start}")
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        if _has_non_finite(raw, text) or "infinity" in e.msg:
            return Rejection("non_finite_number", "NaN or Infinity (or a number overflowing a "
                             "double) is not valid JSON")
        if "surrogate" in e.msg or "escaped sequence" in e.msg:
            return Rejection("invalid_escape", f"{e.msg} at char {e.pos}")
        if "depth limit" in e.msg:
            return Rejection("too_deep", f"JSON nested deeper than {MAX_DEPTH} levels")
        return Rejection("not_json", f"{e.msg} at char {e.pos}")
    if not isinstance(obj, dict):
        return Rejection("not_object", f"top-level JSON {type(obj).__name__}, expected object")
    if _depth_exceeds(obj, MAX_DEPTH):
        return Rejection("too_deep", f"JSON nested deeper than {MAX_DEPTH} levels")
    version = obj.get("schema_version", 1)
    if version != 1 or isinstance(version, bool):
        return Rejection("unsupported_version",
                         f"schema_version {str(version)[:20]!r} is not supported (this worker "
                         "reads version 1)")
    try:
        _validator()(obj)
    except fastjsonschema.JsonSchemaValueException as e:
        return Rejection(_reason_for_schema_error(e), _detail(e))
    return _normalise(obj)


_ONE_OF_HELP = {
    "timestamp": "timestamp must be integer epoch milliseconds >= 946684800000 (2000-01-01) "
    "or an RFC 3339 string with offset",
    "model": "model must be a non-empty string or an object with a non-empty 'name'",
    "input": "input must be an object with 'text' (string) and/or 'tokens' (integer >= 0)",
    "output": "output must be an object with 'text' (string) and/or 'tokens' (integer >= 0)",
}


def _detail(err: Any) -> str:
    field = str(getattr(err, "name", "")).removeprefix("data").lstrip(".")
    if getattr(err, "rule", "") in ("oneOf", "anyOf") and field in _ONE_OF_HELP:
        return _ONE_OF_HELP[field]
    return _short(err.message)


def _short(message: str, limit: int = 200) -> str:
    message = message.replace("data.", "").replace("data ", "")
    return message if len(message) <= limit else message[: limit - 3] + "..."


def _normalise(obj: dict[str, Any]) -> Interaction:
    ts = obj["timestamp"]
    # JSON Schema counts 1.0 as an integer; a string is RFC 3339 (checked by the schema)
    ts_ms = int(ts) if isinstance(ts, int | float) else parse_rfc3339_ms(ts)
    model = obj["model"]
    if isinstance(model, str):
        name, version = model, ""
    else:
        name, version = model["name"], model.get("version", "")
    inp, out = obj["input"], obj["output"]
    return Interaction(
        event_id=obj["event_id"],
        ts_ms=ts_ms,
        context=obj["deployment_context"],
        cohort=obj.get("cohort", "unknown"),
        model=name,
        model_version=version,
        input_text=inp.get("text"),
        output_text=out.get("text"),
        input_tokens=inp.get("tokens"),
        output_tokens=out.get("tokens"),
        latency_ms=obj.get("latency_ms"),
        finish_reason=obj.get("finish_reason", ""),
        scores=obj.get("scores", {}),
        raw=obj,
    )


def check_time(ts_ms: int, newest_ms: int, tolerance_ms: int) -> Rejection | None:
    """Reject event times more than ``tolerance_ms`` ahead of the newest accepted one."""
    if ts_ms > newest_ms + tolerance_ms:
        ahead = (ts_ms - newest_ms) / 3_600_000
        return Rejection("future_timestamp", f"{ahead:.1f} h ahead of newest accepted event time")
    return None
