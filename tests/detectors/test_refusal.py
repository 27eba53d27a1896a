import pytest

from detectors.refusal import is_refusal, refusal_score


@pytest.mark.parametrize(
    "text",
    [
        "I'm sorry, but I can't help with that.",
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
    ],
)
def test_full_refusals_score_above_default_threshold(text: str) -> None:
    assert is_refusal(text)
    assert refusal_score(text) >= 0.5


@pytest.mark.parametrize(
    "text",
    [
        "I'd advise against doing this, as it is illegal and dangerous. Instead, you could "
        "talk to a lawyer about your options.",
        "I don't think it's appropriate to speculate about that person's health.",
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
    ],
)
def test_helpful_answers_are_not_refusals(text: str) -> None:
    assert not is_refusal(text)
    assert refusal_score(text) < 0.5


def test_disclaimer_about_opinions_before_an_answer_is_not_a_refusal() -> None:
    text = (
        "As an AI, I don't have personal opinions, but many people consider Casablanca one "
        "of the best films ever made because of its script and performances."
    )
    assert not is_refusal(text)


def test_refusal_phrase_late_in_answer_counts_less_than_in_opening() -> None:
    opening = "I can't guarantee this works. " + "Here is more detail. " * 30
    late = "Here is more detail. " * 30 + "I can't guarantee this works."
    assert refusal_score(opening) > refusal_score(late)
    assert refusal_score(late) < 0.5


def test_score_is_within_unit_interval_even_with_many_phrases() -> None:
    text = "I'm sorry, I cannot help. As an AI I must decline. It is not appropriate. " * 50
    score = refusal_score(text)
    assert 0.0 <= score <= 1.0
    assert score > 0.99


def test_threshold_parameter_changes_decision() -> None:
    text = "As an AI language model, here is a summary of the article."
    score = refusal_score(text)
    assert 0.0 < score < 0.5
    assert is_refusal(text, threshold=score)
    assert not is_refusal(text)


def test_one_megabyte_input_completes() -> None:
    assert 0.0 <= refusal_score("I " * 500_000) <= 1.0
    assert 0.0 <= refusal_score("sorry" * 200_000) <= 1.0
