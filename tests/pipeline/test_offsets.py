"""OffsetGate: a worker applies a partition's offsets from its state's last applied + 1,
without holes (the seek itself is the Faust shell's; these are the decisions)."""

from pipeline.offsets import OffsetGate


def feed(gate: OffsetGate, offsets: list[int], applied: int | None = None,
         partition: int = 0) -> list[str]:
    return [gate.admit(partition, o, lambda: applied) for o in offsets]


def test_resumes_after_the_state_not_where_the_group_committed() -> None:
    gate = OffsetGate()
    # the group's commit is behind the state: 5..9 were applied already
    assert feed(gate, [5, 6, 7, 8, 9, 10, 11], applied=9) == ["drop"] * 5 + ["take"] * 2
    assert gate.expected == {0: 12}


def test_a_partition_with_nothing_applied_starts_wherever_the_group_starts() -> None:
    gate = OffsetGate()
    assert feed(gate, [40, 41, 43], applied=None) == ["take", "take", "seek"]
    assert gate.sought == {0: (42, 43, 0)}


def test_a_hole_seeks_back_drops_what_was_fetched_before_and_takes_the_refetch() -> None:
    gate = OffsetGate()
    # 0..9 applied; 10..12 are delivered, 13..15 never are, 16..18 were fetched already
    got = feed(gate, [10, 11, 12, 16, 17, 18, 13, 14, 15, 16, 17, 18], applied=9)
    assert got == ["take"] * 3 + ["seek", "drop", "drop"] + ["take"] * 6
    assert gate.sought == {} and gate.expected == {0: 19}


def test_a_hole_without_records_is_passed_once_the_refetch_starts_past_it() -> None:
    gate = OffsetGate()
    # 13 and 14 are transaction markers: the re-fetch from 13 starts at 15
    got = feed(gate, [10, 11, 12, 15, 16, 15, 16, 17], applied=9)
    assert got == ["take"] * 3 + ["seek", "drop"] + ["take"] * 3
    assert gate.expected == {0: 18}


def test_offsets_that_never_come_back_are_given_up_after_the_limit() -> None:
    gate = OffsetGate(give_up=3)
    got = feed(gate, [10, 12, 13, 14, 15, 16, 17], applied=9)
    assert got == ["take", "seek", "drop", "drop", "drop", "give_up", "take"]


def test_partitions_are_independent_and_a_new_assignment_reads_the_state_again() -> None:
    gate = OffsetGate()
    assert feed(gate, [0, 1], applied=None, partition=0) == ["take", "take"]
    assert feed(gate, [7, 9], applied=6, partition=1) == ["take", "seek"]
    gate.reset(1)  # revoked: its hole goes with it
    assert gate.sought == {} and gate.expected == {0: 2}
    gate.reset()  # a new assignment: partition 0 resumes from its state (applied 0)
    assert feed(gate, [1, 2], applied=0, partition=0) == ["take", "take"]
    reads: list[int] = []

    def applied() -> int:
        reads.append(1)
        return 2

    assert [gate.admit(0, o, applied) for o in (3, 4)] == ["take", "take"]
    assert reads == []  # the state is read only when the partition has no expected offset
