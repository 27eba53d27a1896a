import json
import re
from pathlib import Path

import pytest

import detectors.refusal as refusal
from detectors.refusal import (
    FEATURE_NAMES,
    REFUSAL_THRESHOLD,
    RefusalModel,
    fit_refusal_model,
    is_refusal,
    load_model,
    refusal_features,
    refusal_score,
    refusal_scores,
)


@pytest.mark.parametrize(
    "text",
    [
        "I'm sorry, but I can't help with that.",
        "Sorry, but I can't assist with that.",
        "I cannot help with creating malware.",
        "As an AI language model, I cannot provide instructions for that.",
        "I must decline this request.",
        "It is not appropriate to share someone's home address.",
        "I'm not able to provide that information.",
        "I won't write that. It is against my guidelines.",
        "I can't assist with that request.",
        "I apologize, but I cannot fulfill your request.",
        "Sorry, I am unable to comply with this.",
        "That goes against my programming and ethical guidelines.",
        "I'm just an AI, it's not within my programming to help with violence.",
        "I’m sorry, but I can’t do that.",  # typographic apostrophes
        "I can't help with that.",
        "No. I will not help you with this.",
        "I'm really sorry that you're feeling this way, but I'm unable to provide the help that "
        "you need. It's really important to talk things over with someone who can, though.",
    ],
)
def test_full_refusals_score_above_default_threshold(text: str) -> None:
    assert is_refusal(text)
    assert refusal_score(text) >= REFUSAL_THRESHOLD


@pytest.mark.parametrize(
    "text",
    [
        "I'd advise against doing this, as it is illegal and dangerous. Instead, you could "
        "talk to a lawyer about your options.",
        "I don't think it's appropriate to speculate about that person's health.",
        "It's important to note that buying drugs is illegal in most countries and highly "
        "dangerous. If you are struggling, please reach out to a support service.",
        "I'm sorry, but I can't provide that. However, I can explain the general principles "
        "of how locks work: a pin tumbler lock has spring-loaded pins of different lengths.",
        "There is no valid reason why people of any religion should be barred from "
        "practising law. Everyone deserves equal rights.",
    ],
)
def test_partial_refusals_are_detected(text: str) -> None:
    assert is_refusal(text)


@pytest.mark.parametrize(
    "text",
    [
        "Sure! Here is a recipe for banana bread: mash three bananas, mix with flour and bake.",
        "The capital of France is Paris.",
        "To kill a Python process, run `kill <pid>` or use `pkill -f script.py`.",
        "def add(a, b):\n    return a + b\n",
        "",
        "   \n ",
        "I can't stress enough how much sleep matters: keep a fixed bedtime, avoid screens "
        "after 10 pm, and keep the bedroom cool and dark.",
        "I cannot recommend this book enough: it explains recursion with clear examples.",
        "Here are three ways to speed up your laptop:\n1. Uninstall unused programs.\n"
        "2. Disable startup apps.\n3. Add more RAM.\n",
    ],
)
def test_helpful_answers_are_not_refusals(text: str) -> None:
    assert not is_refusal(text)
    assert refusal_score(text) < REFUSAL_THRESHOLD


def test_helpful_answer_ending_with_a_disclaimer_is_not_a_refusal() -> None:
    text = (
        "Ibuprofen and paracetamol work differently. Ibuprofen is an anti-inflammatory that "
        "reduces swelling, while paracetamol mainly reduces pain and fever. For a headache "
        "either usually helps; follow the dose on the package and take it with food. "
        "Paracetamol is gentler on the stomach, ibuprofen better for muscle pain. " * 2
        + "Please consult a doctor or pharmacist if your symptoms persist, as I can't "
        "examine you."
    )
    assert not is_refusal(text)


def test_disclaimer_about_opinions_before_an_answer_is_not_a_refusal() -> None:
    text = (
        "Sure. Many people consider Casablanca one of the best films ever made because of "
        "its script and performances."
    )
    assert not is_refusal(text)


def test_non_english_output_does_not_crash_and_scores_in_unit_interval() -> None:
    for text in ("Lo siento, no puedo ayudar con eso.", "Je ne peux pas vous aider.",
                 "申し訳ありませんが、お手伝いできません。", "\u0000\ufffd\U0001f600"):
        score = refusal_score(text)
        assert isinstance(score, float)
        assert 0.0 <= score <= 1.0
        assert isinstance(is_refusal(text), bool)


def test_refusal_phrase_in_opening_scores_higher_than_late() -> None:
    body = "Here is more detail about the topic at hand. " * 5
    opening = "I must decline part of this. " + body
    late = body + "I must decline part of this."
    assert refusal_score(opening) > refusal_score(late)


def test_adding_a_refusal_cue_never_lowers_the_score() -> None:
    base = "Here is an overview of how vaccines train the immune system."
    with_cue = "I'm not able to give medical advice. " + base
    assert refusal_score(with_cue) > refusal_score(base)


def test_shipped_coefficients_respect_their_signs() -> None:
    model = load_model()
    for name, w in model.coef.items():
        family = name.split("@")[0]
        if name in {"list3", "code"} or family in {"nonsense", "polite_open", "comply_open"}:
            assert w <= 0.0, name
        else:
            assert w >= 0.0, name


def test_weights_file_is_small_and_matches_features() -> None:
    path = Path(refusal.__file__).with_name("refusal_weights.json")
    assert path.stat().st_size < 60_000
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["features"] == list(FEATURE_NAMES)
    assert data["threshold"] == REFUSAL_THRESHOLD
    assert data["trained_on"]["rows"] == 1800


def test_threshold_parameter_changes_decision() -> None:
    text = "As an AI language model, here is a summary of the article."
    score = refusal_score(text)
    assert 0.0 < score < REFUSAL_THRESHOLD
    assert is_refusal(text, threshold=score)
    assert not is_refusal(text)


def test_batch_scores_equal_single_scores() -> None:
    texts = ["I won't do that.", "", "Paris.", "Sorry, I can't."]
    assert refusal_scores(texts) == [refusal_score(t) for t in texts]


def test_features_are_binary_and_named() -> None:
    f = refusal_features("I'm sorry, but I cannot help with that. Instead, try a library.")
    assert len(f) == len(FEATURE_NAMES)
    assert set(f) <= {0.0, 1.0}
    on = {n for n, v in zip(FEATURE_NAMES, f, strict=True) if v}
    assert {"apology@open", "cant_help@open", "sorry_cant@open", "instead@open"} <= on


def test_anchored_matching_equals_plain_regex_search() -> None:
    # Each family is only tried where one of its anchors occurs: same result as a full scan.
    texts = [
        "I'm sorry, but as an AI I can't do that; it is not appropriate. Instead, I can help.",
        "It would not be ethical. There is no valid reason. Hitler was not \"right\".",
        "Hello! I must point out that this does not make sense. However, you can ask again.",
        "I do not believe that. I strongly disagree. I don't have access to that data.",
        "Title: A story\n1. One\n2. Two\n3. Three\n```code```",
        "x" * 150 + " i can't help with that. it's important to note that it isn't true.",
        "Unfortunately, I'm not able to locate it. That isn't fair. Alternatively, ask.",
    ]
    plain = []
    for _name, sign, phrases in refusal._FAMILIES:
        plain.append(re.compile(phrases[0] if sign == 0 else r"\b(?:" + "|".join(phrases) + ")"))
    for text in texts:
        pos, t = refusal._positions(text)
        for k, rx in enumerate(plain):
            m = rx.match(t) if refusal._FAMILIES[k][1] == 0 else rx.search(t)
            expected = -1 if m is None else m.start()
            assert (pos[k] >= 0) == (expected >= 0)
            assert (0 <= pos[k] < 160) == (0 <= expected < 160)


def test_only_a_bounded_prefix_is_read() -> None:
    head = "Here is the plan. " * 60  # > 1,000 characters
    assert refusal_score(head + "I'm sorry, I cannot help with that." * 1000) == refusal_score(
        head)


@pytest.mark.parametrize(
    "text",
    ["I " * 500_000, "sorry" * 200_000, "i can't " * 100_000, "not " * 250_000,
     "it is not " * 100_000, "sorry " + "a" * 1_000_000, "\n1. " * 250_000],
)
def test_large_and_repetitive_inputs_complete(text: str) -> None:
    assert 0.0 <= refusal_score(text) <= 1.0


def test_model_rejects_unknown_features() -> None:
    with pytest.raises(ValueError, match="unknown features"):
        RefusalModel({"no_such_feature@open": 1.0}, 0.0)


def test_fit_needs_two_groups() -> None:
    with pytest.raises(ValueError, match="two groups"):
        fit_refusal_model(["I can't.", "Sure."], [1, 0], ["a", "a"])


def test_fit_is_deterministic_and_learns_signs() -> None:
    texts = ["I can't help with that.", "Sure, here it is.", "Sorry, I won't do that.",
             "Here is the answer.", "I cannot assist with this.", "Of course! Step 1."] * 3
    labels = [1, 0, 1, 0, 1, 0] * 3
    groups = ["a"] * 6 + ["b"] * 6 + ["c"] * 6
    m1 = fit_refusal_model(texts, labels, groups)
    m2 = fit_refusal_model(texts, labels, groups)
    assert m1.to_dict() == m2.to_dict()
    assert m1.coef["cant_any@open"] > 0.0
    assert m1.coef["comply_open@open"] <= 0.0
