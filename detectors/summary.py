"""Per-window, per-segment summary: counts, flag counts, sketches, categories, text features.

A :class:`WindowSummary` is everything the judge needs from one window of one segment, and
nothing else: the event count, the number of events raising each Bernoulli flag (refusal,
jailbreak, PII...), one :class:`~detectors.sketch.QuantileSketch` per numeric metric (latency,
token counts, external scores), counts per value of each categorical field (finish reason,
language), and hashed bag-of-words features of the input text. Every part is a count or a
sketch, so two summaries merge exactly (an hour is the merge of its minutes), and
:meth:`WindowSummary.to_bytes` writes every map in sorted order, so the same events give the
same bytes whatever the order in which windows were merged.

Text features are stored sparsely as ``bucket -> number of events whose input contains a
word hashing to that bucket`` (presence per event, not occurrence, so one long prompt cannot
dominate a window), plus ``text_n``, the number of events that carried text. The hash is
CRC-32 of the lower-cased UTF-8 word, stable across processes and platforms (Python's
``hash()`` is salted per process). Categorical fields keep at most ``max_categories`` distinct
values each; later new values are counted under ``__other__``.

Parameters
----------
text_buckets
    Number of hash buckets for text features (at least 1,024; default 4,096).
resolution
    Resolution of the numeric sketches (see :class:`~detectors.sketch.QuantileSketch`).
max_categories
    Distinct values kept per categorical field before folding into ``__other__``.

Examples
--------
>>> w = WindowSummary()
>>> w.add({"refusal": True}, {"latency_ms": 812.0}, {"finish_reason": "stop"}, "Hello there")
>>> w.add({"refusal": False}, {"latency_ms": None}, {"finish_reason": "length"}, None)
>>> w.n, w.flags, w.numeric["latency_ms"].n, w.categorical, w.text_n, len(w.text)
(2, {'refusal': 1}, 1, {'finish_reason': {'stop': 1, 'length': 1}}, 1, 2)
>>> hashed_features("Hello hello, WORLD")
{1670: 2, 323: 1}
>>> WindowSummary.from_bytes(w.to_bytes()).to_bytes() == w.to_bytes(), len(w.to_bytes())
(True, 91)

References
----------
Weinberger, K. et al. (2009). Feature hashing for large scale multitask learning. ICML.

"""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Mapping
from typing import Any

from detectors._codec import Reader, put_str, put_uvarint
from detectors.sketch import QuantileSketch, _put_store, _read_store

__all__ = ["MAX_TEXT_CHARS", "OTHER", "WindowSummary", "hashed_features"]

MAX_TEXT_CHARS = 8192
OTHER = "__other__"
_VERSION = 1
_WORD = re.compile(r"\w+")


def hashed_features(
    text: str, buckets: int = 4096, max_chars: int = MAX_TEXT_CHARS
) -> dict[int, int]:
    """Hashed bag of lower-cased words of ``text``: ``bucket -> occurrences``.

    Linear time: only the first ``max_chars`` characters are read, words are ``\\w+`` runs
    (a regex without backtracking), and each word is hashed once with CRC-32.

    Parameters
    ----------
    text
        The input text.
    buckets
        Number of hash buckets.
    max_chars
        Characters considered, from the start of the text.

    Examples
    --------
    >>> hashed_features("a b a", buckets=1024)
    {579: 2, 1017: 1}

    """
    if buckets < 1:
        raise ValueError(f"buckets must be positive, got {buckets}")
    out: dict[int, int] = {}
    for word in _WORD.findall(text[:max_chars].lower()):
        b = zlib.crc32(word.encode("utf-8", "surrogatepass")) % buckets
        out[b] = out.get(b, 0) + 1
    return out


class WindowSummary:
    """Mergeable summary of one window of one segment (see the module docstring)."""

    __slots__ = (
        "_memo",
        "categorical",
        "flags",
        "max_categories",
        "n",
        "numeric",
        "resolution",
        "text",
        "text_buckets",
        "text_n",
    )

    def __init__(
        self, text_buckets: int = 4096, resolution: int = 50, max_categories: int = 64
    ) -> None:
        if text_buckets < 1024:
            raise ValueError(f"text_buckets must be at least 1024, got {text_buckets}")
        self.text_buckets = int(text_buckets)
        self.resolution = int(resolution)
        self.max_categories = int(max_categories)
        self.n = 0
        self.flags: dict[str, int] = {}
        self.numeric: dict[str, QuantileSketch] = {}
        self.categorical: dict[str, dict[str, int]] = {}
        self.text: dict[int, int] = {}
        self.text_n = 0
        # values derived from the summary by readers (see :meth:`memo`); reset on change
        self._memo: dict[Any, Any] = {}

    def memo(self) -> dict[Any, Any]:
        """A cache for values computed from this summary as it is now (a reference's moments,
        say); emptied whenever the summary changes."""
        return self._memo

    def _count_category(self, name: str, value: str, count: int) -> None:
        counts = self.categorical.setdefault(name, {})
        if value not in counts and len(counts) >= self.max_categories:
            value = OTHER
        counts[value] = counts.get(value, 0) + count

    def add(
        self,
        flags: Mapping[str, bool],
        numeric: Mapping[str, float | None],
        categorical: Mapping[str, str | None],
        text: str | None,
        features: Mapping[int, int] | None = None,
    ) -> None:
        """Add one event. ``None`` means "not measured" and is skipped; a flag seen only as
        False is kept with count 0 so its rate is known to be zero. ``features`` are the
        text's :func:`hashed_features`, when the caller already has them (one event feeds
        several nested segments)."""
        if self._memo:
            self._memo = {}
        self.n += 1
        for name, raised in flags.items():
            self.flags[name] = self.flags.get(name, 0) + bool(raised)
        for name, value in numeric.items():
            if value is None:
                continue
            if not math.isfinite(value):
                raise ValueError(f"numeric metric {name!r} is not finite: {value}")
            sketch = self.numeric.get(name)
            if sketch is None:
                sketch = self.numeric[name] = QuantileSketch(self.resolution)
            sketch.add(value)
        for name, cat in categorical.items():
            if cat is not None:
                self._count_category(name, cat, 1)
        if text is not None or features is not None:
            self.text_n += 1
            if features is None:
                features = hashed_features(text or "", self.text_buckets)
            for b in features:
                self.text[b] = self.text.get(b, 0) + 1

    def merge(self, other: WindowSummary) -> WindowSummary:
        """Add ``other`` into this summary (in place) and return ``self``."""
        if (other.text_buckets, other.resolution) != (self.text_buckets, self.resolution):
            raise ValueError("cannot merge summaries with different buckets or resolution")
        if self._memo:
            self._memo = {}
        self.n += other.n
        for name, count in other.flags.items():
            self.flags[name] = self.flags.get(name, 0) + count
        for name, sketch in other.numeric.items():
            mine = self.numeric.get(name)
            if mine is None:
                self.numeric[name] = sketch.copy()
            else:
                mine.merge(sketch)
        for name, counts in other.categorical.items():
            for value in sorted(counts):
                self._count_category(name, value, counts[value])
        for b, count in other.text.items():
            self.text[b] = self.text.get(b, 0) + count
        self.text_n += other.text_n
        return self

    def copy(self) -> WindowSummary:
        out = WindowSummary(self.text_buckets, self.resolution, self.max_categories)
        return out.merge(self)

    def to_bytes(self) -> bytes:
        """Deterministic encoding: every map in sorted key order."""
        out = bytearray([_VERSION])
        for value in (self.text_buckets, self.resolution, self.max_categories, self.n):
            put_uvarint(out, value)
        put_uvarint(out, len(self.flags))
        for name in sorted(self.flags):
            put_str(out, name)
            put_uvarint(out, self.flags[name])
        put_uvarint(out, len(self.numeric))
        for name in sorted(self.numeric):
            put_str(out, name)
            out += self.numeric[name].to_bytes()
        put_uvarint(out, len(self.categorical))
        for name in sorted(self.categorical):
            counts = self.categorical[name]
            put_str(out, name)
            put_uvarint(out, len(counts))
            for value in sorted(counts):
                put_str(out, value)
                put_uvarint(out, counts[value])
        put_uvarint(out, self.text_n)
        _put_store(out, self.text)
        return bytes(out)

    @classmethod
    def from_bytes(cls, data: bytes) -> WindowSummary:
        r = Reader(data)
        version = r.uvarint()
        if version != _VERSION:
            raise ValueError(f"unknown summary version {version}")
        w = cls(r.uvarint(), r.uvarint(), r.uvarint())
        w.n = r.uvarint()
        for _ in range(r.uvarint()):
            name = r.str()
            w.flags[name] = r.uvarint()
        for _ in range(r.uvarint()):
            name = r.str()
            sketch, r = QuantileSketch._read(r)
            w.numeric[name] = sketch
        for _ in range(r.uvarint()):
            name = r.str()
            w.categorical[name] = {r.str(): r.uvarint() for _ in range(r.uvarint())}
        w.text_n = r.uvarint()
        w.text = _read_store(r)
        if not r.done():
            raise ValueError("trailing bytes after window summary")
        return w

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WindowSummary) and self.to_bytes() == other.to_bytes()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"WindowSummary(n={self.n}, flags={len(self.flags)}, numeric={len(self.numeric)}, "
            f"categorical={len(self.categorical)}, text_buckets_used={len(self.text)})"
        )
