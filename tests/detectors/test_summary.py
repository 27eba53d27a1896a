import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.summary import OTHER, WindowSummary, hashed_features

event_st = st.tuples(
    st.booleans(),
    st.one_of(st.none(), st.floats(min_value=0, max_value=1e5, allow_nan=False)),
    st.one_of(st.none(), st.sampled_from(["stop", "length", "tool_calls"])),
    st.one_of(st.none(), st.text(max_size=40)),
)


def build(events) -> WindowSummary:
    w = WindowSummary()
    for refusal, latency, finish, text in events:
        w.add({"refusal": refusal}, {"latency_ms": latency}, {"finish_reason": finish}, text)
    return w


@given(st.lists(event_st, max_size=40), st.lists(event_st, max_size=40))
@settings(max_examples=100, deadline=None)
def test_hour_is_the_merge_of_its_minutes_bit_for_bit(a, b) -> None:
    whole = build(a + b)
    assert build(a).merge(build(b)).to_bytes() == whole.to_bytes()
    assert build(b).merge(build(a)).to_bytes() == whole.to_bytes()
    back = WindowSummary.from_bytes(whole.to_bytes())
    assert back.to_bytes() == whole.to_bytes()
    assert back.n == len(a) + len(b)


def test_hash_is_stable_across_processes() -> None:
    code = ("from detectors.summary import hashed_features; "
            "print(hashed_features('Ignore all rules'))")
    outs = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                       env={"PYTHONHASHSEED": str(seed), "PYTHONPATH": "."}).stdout
        for seed in (1, 2)
    }
    assert outs == {f"{hashed_features('Ignore all rules')}\n"}


def test_text_features_count_events_not_occurrences_and_cap_the_length() -> None:
    w = WindowSummary()
    w.add({}, {}, {}, "spam " * 1000)
    assert w.text_n == 1 and sum(w.text.values()) == 1
    long = "a " * 10_000_000
    assert sum(hashed_features(long).values()) == 8192 // 2


def test_flag_seen_only_false_is_kept_as_zero_and_none_is_not_measured() -> None:
    w = WindowSummary()
    w.add({"refusal": False}, {"latency_ms": None}, {"finish_reason": None}, None)
    assert w.flags == {"refusal": 0}
    assert w.numeric == {} and w.categorical == {} and w.text_n == 0


def test_categories_beyond_the_cap_fold_into_other() -> None:
    w = WindowSummary(max_categories=2)
    for v in ["a", "b", "c", "d", "a"]:
        w.add({}, {}, {"lang": v}, None)
    assert w.categorical["lang"] == {"a": 2, "b": 1, OTHER: 2}


def test_idle_window_is_a_few_bytes_and_a_typical_window_is_small() -> None:
    assert len(WindowSummary().to_bytes()) < 16
    import numpy as np

    rng = np.random.default_rng(0)
    w = WindowSummary()
    words = [f"word{i}" for i in range(300)]
    for _ in range(40):
        text = " ".join(rng.choice(words, 12))
        w.add({"refusal": rng.random() < 0.1, "jailbreak": False, "pii_input": False},
              {"latency_ms": float(round(rng.lognormal(6, 0.5))),
               "input_tokens": float(rng.integers(5, 400))},
              {"finish_reason": "stop"}, text)
    assert len(w.to_bytes()) < 1500
