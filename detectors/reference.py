"""Bounded trailing reference for one segment, built from closed window summaries.

:class:`ReferenceState` keeps ``blocks`` merged blocks of ``block_windows`` consecutive closed
windows each, plus the block being filled. :meth:`ReferenceState.reference` is the merge of the
full blocks only: the most recent (up to ``block_windows - 1``) windows are left out, so a
change that starts now is not already in the reference it is compared with, and the reference
moves forward one block at a time (with the defaults, 12 windows of 5 minutes = one hour per
block and 8 hours of history). Its size is bounded by ``blocks + 1`` summaries whatever the
traffic: each summary is a few hundred bytes for flags and categories, up to about 1 KB per
numeric sketch and about 2 bytes per used text bucket (at most ``text_buckets``). The event
counts of the last ``blocks * block_windows`` windows are kept too, for the volume test.

Parameters
----------
block_windows
    Closed windows merged into one block (default 12).
blocks
    Full blocks kept (default 8).

Examples
--------
>>> from detectors.summary import WindowSummary
>>> r = ReferenceState(block_windows=2, blocks=2)
>>> for i in range(5):
...     w = WindowSummary()
...     for _ in range(10 + i):
...         w.add({"refusal": i == 4}, {}, {}, None)
...     r.add_window(w)
>>> r.reference().n, r.counts
(46, [11, 12, 13, 14])
>>> ReferenceState.from_bytes(r.to_bytes()).to_bytes() == r.to_bytes()
True

"""

from __future__ import annotations

from detectors._codec import Reader, put_uvarint
from detectors.summary import WindowSummary

__all__ = ["ReferenceState"]

_VERSION = 1


class ReferenceState:
    """Rotating, bounded trailing reference (see the module docstring)."""

    def __init__(self, block_windows: int = 12, blocks: int = 8) -> None:
        if block_windows < 1 or blocks < 1:
            raise ValueError("block_windows and blocks must be positive")
        self.block_windows = block_windows
        self.blocks = blocks
        self._reset()

    def _reset(self) -> None:
        self.full: list[WindowSummary] = []
        self.current: WindowSummary | None = None
        self.filled = 0
        self.counts: list[int] = []
        self._merged: WindowSummary | None = None  # reference(), until the next full block

    def add_window(self, summary: WindowSummary) -> None:
        """Add one closed window (windows with a finding may be left out by the caller)."""
        if self.current is None:
            self.current = summary.copy()
        else:
            self.current.merge(summary)
        self.filled += 1
        self.counts.append(summary.n)
        del self.counts[: -self.blocks * self.block_windows]
        if self.filled == self.block_windows:
            self.full.append(self.current)
            del self.full[: -self.blocks]
            self._merged = None
            self.current, self.filled = None, 0

    def reference(self) -> WindowSummary | None:
        """Merge of the full blocks, or None before the first block is complete. Merged once
        per block and shared by every caller until the next block completes: read it, do not
        modify it."""
        if not self.full:
            return None
        if self._merged is None:
            out = self.full[0].copy()
            for block in self.full[1:]:
                out.merge(block)
            self._merged = out
        return self._merged

    def to_bytes(self) -> bytes:
        out = bytearray([_VERSION])
        for value in (self.block_windows, self.blocks, self.filled, len(self.counts)):
            put_uvarint(out, value)
        for c in self.counts:
            put_uvarint(out, c)
        put_uvarint(out, len(self.full) + (self.current is not None))
        for block in [*self.full, *([self.current] if self.current is not None else [])]:
            raw = block.to_bytes()
            put_uvarint(out, len(raw))
            out += raw
        return bytes(out)

    @classmethod
    def from_bytes(cls, data: bytes) -> ReferenceState:
        r = Reader(data)
        if r.uvarint() != _VERSION:
            raise ValueError("unknown reference state version")
        state = cls(r.uvarint(), r.uvarint())
        state.filled = r.uvarint()
        state.counts = [r.uvarint() for _ in range(r.uvarint())]
        summaries = [WindowSummary.from_bytes(r.bytes(r.uvarint())) for _ in range(r.uvarint())]
        if state.filled:
            state.current = summaries.pop()
        state.full = summaries
        if not r.done():
            raise ValueError("trailing bytes after reference state")
        return state
