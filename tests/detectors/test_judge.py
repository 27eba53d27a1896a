import numpy as np

from detectors.anomaly import RobustBaseline
from detectors.judge import JudgeConfig, JudgeItem, ReferenceState, item_tests, judge
from detectors.summary import WindowSummary

SEG = ("support-bot-eu", "*", "*")


def window(n: int, refusals: int, latency_mu: float = 6.0, seed: int = 0,
           finish: str = "stop", text: str = "hello world") -> WindowSummary:
    rng = np.random.default_rng(seed)
    w = WindowSummary()
    for i in range(n):
        w.add({"refusal": i < refusals}, {"latency_ms": float(rng.lognormal(latency_mu, 0.5))},
              {"finish_reason": finish if i % 2 else "stop"}, f"{text} {i % 7}")
    return w


def test_every_kind_of_test_runs_in_a_fixed_order() -> None:
    item = JudgeItem(SEG, 0, window(100, 5), window(1000, 50, seed=1), SEG,
                     reference_counts=(100, 98, 103, 99))
    kinds = [(t.kind, t.metric) for t in item_tests(item, JudgeConfig())]
    assert kinds == [("rate", "refusal_rate"), ("numeric", "latency_ms"),
                     ("categorical", "finish_reason"), ("text", "input_text"),
                     ("volume", "volume")]


def test_small_windows_and_references_are_not_tested() -> None:
    cfg = JudgeConfig()
    assert judge([JudgeItem(SEG, 0, window(19, 19), window(1000, 0), SEG)], cfg) == []
    assert judge([JudgeItem(SEG, 0, window(100, 90), window(199, 0), SEG)], cfg) == []
    assert judge([JudgeItem(SEG, 0, window(100, 90), None, None)], cfg) == []


def test_a_real_change_is_a_finding_with_its_evidence() -> None:
    v = judge([JudgeItem(SEG, 60_000, window(200, 40), window(2000, 100), ("support-bot-eu",
                                                                          "*", "*"))],
              JudgeConfig())
    rate = next(x for x in v if x.test.metric == "refusal_rate")
    assert rate.finding and rate.bh_rejected
    assert (rate.test.observed, rate.test.reference) == (0.2, 0.05)
    assert (rate.test.n, rate.test.n_ref, rate.window_start) == (200, 2000, 60_000)
    assert not any(x.finding for x in v if x.test.metric != "refusal_rate")


def test_significant_but_trivial_shift_is_not_a_finding() -> None:
    # 10.6 % vs 10 % on large samples: rejected by BH, below the effect floor
    v = judge([JudgeItem(SEG, 0, _counts(200_000, 21_200), _counts(2_000_000, 200_000), SEG)],
              JudgeConfig())
    assert v[0].bh_rejected and not v[0].finding


def _counts(n: int, x: int) -> WindowSummary:
    w = WindowSummary()
    w.n, w.flags = n, {"refusal": x}
    return w


def test_fdr_control_spans_all_tests_of_the_call() -> None:
    hit = JudgeItem(SEG, 0, _counts(400, 36), _counts(4000, 200), SEG)  # p about 2e-3
    alone = judge([hit], JudgeConfig())
    assert alone[0].bh_rejected
    crowd = [JudgeItem((f"c{i}", "*", "*"), 0, _counts(400, 20), _counts(4000, 200), None)
             for i in range(50)]
    together = judge([hit, *crowd], JudgeConfig())
    assert not together[0].bh_rejected


def test_min_effect_can_be_set_per_metric() -> None:
    item = JudgeItem(SEG, 0, _counts(2000, 160), _counts(20000, 1000), SEG)  # 8 % vs 5 %
    assert judge([item], JudgeConfig())[0].finding
    strict = JudgeConfig(min_effect={"refusal_rate:ratio": 2.0})
    assert not judge([item], strict)[0].finding
    assert not judge([item], JudgeConfig(min_effect={"refusal_rate": 0.05}))[0].finding


def test_extra_tests_join_the_same_control() -> None:
    b = RobustBaseline(warmup=4, consecutive=1)
    for v in [0.05, 0.051, 0.049, 0.05, 0.052]:
        b.update(v)
    t, _ = b.test(0.5, "refusal_rate")
    item = JudgeItem(SEG, 0, _counts(5, 0), None, None, extra_tests=(t,))
    (v,) = judge([item], JudgeConfig())
    assert v.test.kind == "anomaly" and v.finding


def test_judge_is_deterministic() -> None:
    items = [JudgeItem((f"c{i}", "*", "*"), 0, window(60 + i, i, seed=i),
                       window(600, 30, seed=100 + i), None) for i in range(5)]
    assert judge(items, JudgeConfig()) == judge(items, JudgeConfig())


def test_reference_state_is_bounded_rotating_and_serialisable() -> None:
    r = ReferenceState(block_windows=3, blocks=2)
    sizes = []
    for i in range(20):
        r.add_window(window(40, i % 4, seed=i))
        sizes.append(len(r.to_bytes()))
        back = ReferenceState.from_bytes(r.to_bytes())
        assert back.to_bytes() == r.to_bytes()
    ref = r.reference()
    assert ref is not None and ref.n == 2 * 3 * 40  # two full blocks of three windows
    assert len(r.counts) == 6
    assert max(sizes[12:]) <= 1.2 * max(sizes[6:12])  # stops growing
    assert ReferenceState().reference() is None
