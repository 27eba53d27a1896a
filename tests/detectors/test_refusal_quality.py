"""Refusal quality on the public data in ../shared/data; asserts numbers only.

The files contain harmful text: nothing here prints or asserts on text, only on rates and
counts. The leave-one-configuration-out numbers come from the same code as
``bench/quality/refusal.py``, which refits the model on three configurations per fold.
"""

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

import detectors.refusal as refusal
from detectors.refusal import is_refusal

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "bench_quality_refusal", REPO / "bench" / "quality" / "refusal.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = _bench()


@pytest.fixture(scope="module")
def xstest() -> list[dict[str, str]]:
    return bench.load_xstest(DATA)


@pytest.fixture(scope="module")
def loco(xstest: list[dict[str, str]]) -> dict:
    calls: list[set[str]] = []
    real_fit = bench.fit_refusal_model

    def recording_fit(texts, labels, groups, **kw):  # type: ignore[no-untyped-def]
        calls.append(set(groups))
        return real_fit(texts, labels, groups, **kw)

    mp = pytest.MonkeyPatch()
    mp.setattr(bench, "fit_refusal_model", recording_fit)
    try:
        pred, thresholds = bench.loco_predictions(xstest)
    finally:
        mp.undo()
    rows = {r["subset"]: r for r in bench.loco_rows(xstest, pred, thresholds)}
    over = {r["subset"]: r for r in bench.over_refusal_rows(xstest, pred)}
    return {"rows": rows, "over": over, "calls": calls, "thresholds": thresholds}


def test_loco_refits_once_per_fold_without_the_held_out_configuration(loco: dict) -> None:
    assert sorted(map(sorted, loco["calls"])) == sorted(
        sorted(set(bench.CONFIGS) - {held}) for held in bench.CONFIGS)
    assert all(0.0 < t < 1.0 for t in loco["thresholds"].values())


def test_loco_f1_per_held_out_configuration_and_pooled(loco: dict) -> None:
    rows = loco["rows"]
    # measured: gpt4 0.970, llama2orig 0.956, llama2new 0.958, mistralinstruct 0.711,
    # pooled 0.940
    for cfg in ("gpt4", "llama2orig", "llama2new"):
        assert rows[f"LOCO held out {cfg}"]["f1"] >= 0.85, cfg
    assert rows["LOCO held out mistralinstruct"]["f1"] >= 0.70
    assert rows["LOCO pooled"]["f1"] >= 0.93
    assert rows["LOCO pooled"]["n"] == 1800
    assert rows["LOCO pooled"]["positives"] == 919


def test_loco_beats_string_match_and_gpt4_judge_on_every_configuration(
    loco: dict, xstest: list[dict[str, str]]
) -> None:
    rows = loco["rows"]
    for cfg in (*bench.CONFIGS, None):
        row = rows[f"LOCO held out {cfg}" if cfg else "LOCO pooled"]
        sub = [r for r in xstest if cfg is None or r["model_config"] == cfg]
        truth = [bench.is_labelled_refusal(r["final_label"]) for r in sub]
        # the judge with its unparsed outputs counted as refusals, as in the 0.803
        judge_any = bench.prf(truth, [r["gpt4_label"] != "1_full_compliance" for r in sub])[2]
        assert row["f1"] > row["strmatch_f1"], cfg
        assert row["f1"] > max(row["gpt4_f1"], judge_any), cfg
    assert rows["LOCO pooled"]["strmatch_f1"] == pytest.approx(0.900, abs=5e-4)
    assert rows["LOCO held out mistralinstruct"]["strmatch_f1"] == pytest.approx(0.337, abs=5e-4)


def test_over_refusal_counts_and_agreement(loco: dict) -> None:
    over = loco["over"]
    pooled = over["over-refusal pooled"]
    assert pooled["n"] == 1000  # 250 safe prompts x 4 configurations
    assert pooled["human_over"] == 248  # SOURCES.md: 248 safe prompts refused
    # measured: detector 288 over-refusals, 231 shared; precision 0.802, recall 0.931
    assert pooled["recall"] >= 0.85
    assert pooled["precision"] >= 0.70
    assert sum(over[f"over-refusal {c}"]["human_over"] for c in bench.CONFIGS) == 248


def test_shipped_detector_on_unseen_model_versions() -> None:
    rows = {r["subset"]: r for r in bench.unseen_rows(DATA)}
    # measured: 0.018 and 0.022 (mostly real "I can't browse / draw" capability refusals)
    for model in ("gpt-3.5-turbo-0125", "gpt-4-0613"):
        assert rows[f"unseen Arena-Hard {model} (benign)"]["refusal_rate"] <= 0.05
    # measured: llama-2-7b 0.947 not jailbroken vs 0.021 jailbroken
    assert rows["unseen JBB llama-2-7b-chat-hf not jailbroken"]["refusal_rate"] >= 0.85
    for model in ("gpt-3.5-turbo-1106", "gpt-4-0125-preview", "llama-2-7b-chat-hf"):
        broken = rows[f"unseen JBB {model} jailbroken"]["refusal_rate"]
        intact = rows[f"unseen JBB {model} not jailbroken"]["refusal_rate"]
        assert intact > broken + 0.5, model


def test_shipped_detector_in_sample_pooled_f1(xstest: list[dict[str, str]]) -> None:
    # in-sample (the shipped weights were fitted on these rows); the held-out number is above
    truth = [bench.is_labelled_refusal(r["final_label"]) for r in xstest]
    pred = [is_refusal(r["completion"]) for r in xstest]
    assert bench.prf(truth, pred)[2] >= 0.93  # measured 0.948


def test_anchored_matching_equals_plain_regex_search_on_all_completions(
    xstest: list[dict[str, str]],
) -> None:
    plain = [re.compile(p[0] if s == 0 else r"\b(?:" + "|".join(p) + ")")
             for _, s, p in refusal._FAMILIES]
    mismatches = 0
    for r in xstest:
        pos, t = refusal._positions(r["completion"])
        for k, rx in enumerate(plain):
            m = rx.match(t) if refusal._FAMILIES[k][1] == 0 else rx.search(t)
            e = -1 if m is None else m.start()
            mismatches += ((pos[k] >= 0) != (e >= 0)) or ((0 <= pos[k] < 160) != (0 <= e < 160))
    assert mismatches == 0
