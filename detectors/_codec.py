"""Compact, deterministic byte encoding shared by the sketches and window summaries.

Unsigned LEB128 varints, zig-zag signed varints and length-prefixed UTF-8 strings. Every
encoder writes map entries in sorted key order, so equal values give identical bytes.
"""

from __future__ import annotations

import struct

import numpy as np

__all__ = ["Reader", "put_f64", "put_str", "put_svarint", "put_uvarint", "put_uvarints"]


def put_uvarint(out: bytearray, value: int) -> None:
    if value < 0:
        raise ValueError(f"uvarint must be non-negative, got {value}")
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def put_svarint(out: bytearray, value: int) -> None:
    put_uvarint(out, (value << 1) if value >= 0 else ((-value) << 1) - 1)


def put_uvarints(out: bytearray, values: np.ndarray) -> None:
    """Append many unsigned varints at once (same bytes as :func:`put_uvarint` in a loop)."""
    v = np.asarray(values, dtype=np.uint64)
    if v.size == 0:
        return
    if (np.asarray(values) < 0).any():
        raise ValueError("uvarints must be non-negative")
    groups = np.stack([(v >> np.uint64(7 * i)) & np.uint64(0x7F) for i in range(10)], axis=1)
    nbytes = np.maximum(1, 10 - np.argmax((groups != 0)[:, ::-1], axis=1))
    nbytes[(groups == 0).all(axis=1)] = 1
    idx = np.arange(10)
    keep = idx[None, :] < nbytes[:, None]
    more = idx[None, :] < (nbytes[:, None] - 1)
    data = (groups | (more.astype(np.uint64) << np.uint64(7)))[keep]
    out += data.astype(np.uint8).tobytes()


def put_f64(out: bytearray, value: float) -> None:
    out += struct.pack("<d", value)


def put_str(out: bytearray, value: str) -> None:
    raw = value.encode("utf-8")
    put_uvarint(out, len(raw))
    out += raw


class Reader:
    """Sequential reader over bytes written with the ``put_*`` functions."""

    __slots__ = ("buf", "pos")

    def __init__(self, buf: bytes, pos: int = 0) -> None:
        self.buf = memoryview(buf)
        self.pos = pos

    def uvarint(self) -> int:
        shift = result = 0
        while True:
            if self.pos >= len(self.buf):
                raise ValueError("truncated varint")
            byte = self.buf[self.pos]
            self.pos += 1
            result |= (byte & 0x7F) << shift
            if byte < 0x80:
                return result
            shift += 7

    def uvarints(self, count: int) -> np.ndarray:
        """Read ``count`` unsigned varints at once, as int64."""
        if count == 0:
            return np.zeros(0, dtype=np.int64)
        raw = np.frombuffer(self.buf, dtype=np.uint8, offset=self.pos)
        ends = np.flatnonzero(raw < 0x80)
        if ends.size < count:
            raise ValueError("truncated varints")
        ends = ends[:count]
        size = int(ends[-1]) + 1
        chunk = raw[:size].astype(np.uint64)
        starts = np.concatenate([[0], ends[:-1] + 1])
        owner = np.repeat(np.arange(count), ends - starts + 1)
        shift = (np.arange(size) - starts[owner]).astype(np.uint64) * np.uint64(7)
        parts = (chunk & np.uint64(0x7F)) << shift
        values = np.add.reduceat(parts, starts)
        self.pos += size
        return values.astype(np.int64)

    def svarint(self) -> int:
        u = self.uvarint()
        return (u >> 1) if not u & 1 else -((u + 1) >> 1)

    def f64(self) -> float:
        if self.pos + 8 > len(self.buf):
            raise ValueError("truncated float")
        (value,) = struct.unpack_from("<d", self.buf, self.pos)
        self.pos += 8
        return value

    def str(self) -> str:
        size = self.uvarint()
        if self.pos + size > len(self.buf):
            raise ValueError("truncated string")
        value = bytes(self.buf[self.pos : self.pos + size]).decode("utf-8")
        self.pos += size
        return value

    def bytes(self, size: int) -> bytes:
        if self.pos + size > len(self.buf):
            raise ValueError("truncated bytes")
        value = bytes(self.buf[self.pos : self.pos + size])
        self.pos += size
        return value

    def done(self) -> bool:
        return self.pos == len(self.buf)
