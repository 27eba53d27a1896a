"""Which input offsets a worker applies: from its state's last applied offset, without holes.

Where a partition resumes is decided by the worker's state, not by the consumer group's
commit: the first offset applied after an assignment is the partition meta's last applied
offset + 1, and the offsets applied after it are contiguous. Faust can hand a partition's
events to the agent with a hole (a message its flow control skips during a rebalance is
acknowledged, not delivered; a table recovered short of its changelog's end resumes behind
the commit). :class:`OffsetGate` finds the hole; the worker then seeks the consumer back to
the missing offset, again at every tick while it has not arrived (Faust drops a re-fetched
offset below the last one it handed out), and the gate drops what was fetched before the
seek, unacknowledged. A hole that holds no records (transaction markers, compaction) shows
itself when the re-fetch starts past it: the gate then goes on from there.

Examples
--------
>>> gate = OffsetGate()
>>> [gate.admit(0, o, applied=lambda: 9) for o in (9, 10, 11, 14, 15, 12)]
['drop', 'take', 'take', 'seek', 'drop', 'take']
>>> gate.sought
{}
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

__all__ = ["SEEK_GIVE_UP", "OffsetGate"]

# events dropped while waiting for a sought offset before the hole is given up on (more
# than Faust buffers between its fetcher and the agent)
SEEK_GIVE_UP = 20_000

Verdict = Literal["take", "drop", "seek", "give_up"]


class OffsetGate:
    """Per input partition: the next offset to apply, and the hole being sought back over.

    ``admit`` says what to do with a delivered offset: ``take`` it (apply it), ``drop`` it
    (a repeat, or fetched before a seek: leave it unacknowledged), ``seek`` (a hole: seek the
    partition back to :attr:`sought`\\ ``[p][0]`` and drop this one) or ``give_up`` (take it:
    the sought offsets never came back, after ``give_up`` drops).
    """

    def __init__(self, give_up: int = SEEK_GIVE_UP) -> None:
        self.give_up = give_up
        self.expected: dict[int, int] = {}
        # partition -> (offset sought, first offset delivered past the hole, drops since)
        self.sought: dict[int, tuple[int, int, int]] = {}

    def reset(self, partition: int | None = None) -> None:
        """Forget a partition (revoked), or all (a new assignment: each resumes from its
        state)."""
        if partition is None:
            self.expected.clear()
            self.sought.clear()
        else:
            self.expected.pop(partition, None)
            self.sought.pop(partition, None)

    def admit(self, partition: int, offset: int,
              applied: Callable[[], int | None]) -> Verdict:
        """``applied()`` is the partition state's last applied offset (None: nothing yet),
        read only when the partition has no expected offset (after an assignment)."""
        want = self.expected.get(partition)
        if want is None:
            last = applied()
            want = None if last is None else last + 1
        hole = self.sought.get(partition)
        if want is None or offset == want or (hole is not None and want < offset <= hole[1]):
            # (past want but not past the hole's first offset: the re-fetch, which found no
            # records from want on)
            self.expected[partition] = offset + 1
            self.sought.pop(partition, None)
            return "take"
        self.expected[partition] = want
        if offset < want:
            return "drop"  # a repeat of an offset buffered or applied already
        if hole is None:
            self.sought[partition] = (want, offset, 0)
            return "seek"
        if hole[2] < self.give_up:  # fetched before the seek
            self.sought[partition] = (hole[0], hole[1], hole[2] + 1)
            return "drop"
        self.expected[partition] = offset + 1
        self.sought.pop(partition, None)
        return "give_up"
