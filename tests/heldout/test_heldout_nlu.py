"""The held-out shopper messages: never trained on, well formed, and understood.

The understanding targets load the trained model once for the module and parse every
held-out message in process, as the Rasa server would; ``python -m bench nlu`` prints
the full report (per intent, confusion, per tag).
"""

from __future__ import annotations

import asyncio
import warnings
from collections import Counter
from pathlib import Path

import pytest
import yaml

from bench.nlu import (
    HELDOUT,
    NLU_DIR,
    Evaluation,
    HeldOutError,
    HeldOutExample,
    ModelParser,
    Prediction,
    TrainingExample,
    evaluate,
    leaks,
    load_heldout,
    normalise,
    training_examples,
)
from bot.settings import PROJECT_ROOT

# The targets, and what the held-out set must hold, stated here so that the test owns them.
MACRO_F1_MIN = 0.95
MIN_EXAMPLES = 800
MIN_PER_INTENT = 30
# Labelled in the held-out set before the training data has it; reported, not refused.
PENDING_INTENT = "express_interest"


@pytest.fixture(scope="module")
def heldout() -> list[HeldOutExample]:
    return load_heldout(HELDOUT)


def domain_intents() -> set[str]:
    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))
    # An intent is listed by name, or as a one-key mapping carrying its options.
    return {item if isinstance(item, str) else next(iter(item)) for item in domain["intents"]}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # case and surrounding spaces are ignored
        ("  Hello There ", "hello there"),
        # runs of spaces, tabs and newlines are one space
        ("not\t really  \n interested", "not really interested"),
        # punctuation at the ends is ignored, inside it is kept
        ("¿what's the price?!", "what's the price"),
        ("...ok...", "ok"),
        # emoji are words here, not punctuation
        ("hi 👋", "hi 👋"),
        # an accent typed as one character or as letter + combining mark compares equal
        ("ola\u0301", "olá"),
        # only punctuation leaves nothing
        ("?!", ""),
    ],
)
def test_normalise(text: str, expected: str) -> None:
    assert normalise(text) == expected


def test_training_examples_are_read_as_rasa_trains_them(tmp_path: Path) -> None:
    (tmp_path / "shop.yml").write_text(
        'version: "3.1"\n'
        "nlu:\n"
        "- intent: ask_shipping\n"
        "  examples: |\n"
        "    - do you ship to [Berlin](city)?\n"
        "    - delivery times\n"
        "- synonym: berlin\n"
        "  examples: |\n"
        "    - BER\n",
        encoding="utf-8",
    )
    (tmp_path / "other.yaml").write_text(
        'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - hi\n', encoding="utf-8"
    )
    found = {(example.text, example.intent) for example in training_examples(tmp_path)}
    # entity annotations are trained as their text; synonyms are no intent examples
    assert found == {
        ("do you ship to Berlin?", "ask_shipping"),
        ("delivery times", "ask_shipping"),
        ("hi", "greet"),
    }


def test_a_heldout_message_in_the_training_data_is_a_leak() -> None:
    training = [
        TrainingExample("I'm  INTERESTED", "affirm", Path("data/nlu/a.yml")),
        TrainingExample("not interested", "stop", Path("data/nlu/b.yml")),
    ]
    heldout = [
        HeldOutExample("i'm interested!", "express_interest", ()),
        HeldOutExample("not interested at all", "stop", ()),
    ]
    found = leaks(heldout, training)
    # the same words with other case, spacing and end punctuation; a longer message is none
    assert [(leak.heldout.text, leak.training.path.name) for leak in found] == [
        ("i'm interested!", "a.yml")
    ]


def test_no_heldout_message_is_a_training_example(heldout: list[HeldOutExample]) -> None:
    found = leaks(heldout, training_examples(NLU_DIR))
    assert not found, "held-out messages also training examples (never train on them):\n" + (
        "\n".join(
            f"  {leak.heldout.text!r} = {leak.training.text!r} in {leak.training.path}"
            for leak in found
        )
    )


def test_heldout_file_is_well_formed(heldout: list[HeldOutExample]) -> None:
    known = domain_intents()
    labelled = Counter(example.intent for example in heldout)
    assert set(labelled) - known - {PENDING_INTENT} == set()
    if PENDING_INTENT not in known:
        warnings.warn(
            f"{PENDING_INTENT} is labelled in the held-out set but not an intent in domain.yml",
            UserWarning,
            stacklevel=1,
        )
    assert len(heldout) >= MIN_EXAMPLES
    assert {intent: count for intent, count in labelled.items() if count < MIN_PER_INTENT} == {}
    texts = Counter(normalise(example.text) for example in heldout)
    assert [text for text, count in texts.items() if count > 1] == []


def test_a_malformed_heldout_file_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "heldout.yml"
    path.write_text(
        "version: 1\nexamples:\n  - {text: hi, intent: greet}\n  - {text: bye, tags: []}\n",
        encoding="utf-8",
    )
    # the file, the line and the field: the fix is obvious
    with pytest.raises(HeldOutError, match=r"heldout\.yml:4: examples\[1\]\.intent: field req"):
        load_heldout(path)


def _prediction(text: str, gold: str, predicted: str, tags: tuple[str, ...] = ()) -> Prediction:
    return Prediction(HeldOutExample(text, gold, tags), predicted, 0.9, 0.01)


def test_evaluate_scores_intents_tags_and_dangerous_errors() -> None:
    predictions = [
        _prediction("hi", "greet", "greet", ("opening",)),
        _prediction("hello", "greet", "greet"),
        _prediction("yo", "greet", "nlu_fallback", ("texting",)),
        _prediction("no", "deny", "deny"),
        _prediction("nope", "deny", "stop"),
        _prediction("love it", "express_interest", "stop", ("opening", "texting")),
        _prediction("3 weeks", "inform", "goodbye"),
        _prediction("ok bye", "goodbye", "goodbye"),
    ]
    evaluation = evaluate(predictions, {"greet", "deny", "stop", "inform", "goodbye"})
    scores = {score.intent: score for score in evaluation.intents}
    # greet: 2 of 3 found, nothing else read as greet
    assert (scores["greet"].precision, scores["greet"].recall) == (1.0, pytest.approx(2 / 3))
    assert scores["greet"].f1 == pytest.approx(0.8)
    # goodbye: found once, and one answer wrongly read as goodbye
    assert (scores["goodbye"].precision, scores["goodbye"].recall) == (0.5, 1.0)
    # an intent the model does not know: every message a miss, named as such
    assert scores["express_interest"].f1 == 0.0
    assert evaluation.unknown_to_model == ("express_interest",)
    # stop is only predicted, never labelled: a column, no row, not in the macro average
    assert "stop" not in scores
    assert evaluation.labels[-2:] == ("nlu_fallback", "stop")
    assert evaluation.macro_f1 == pytest.approx(sum(score.f1 for score in evaluation.intents) / 5)
    assert evaluation.accuracy == 4 / 8
    deny_row = evaluation.matrix[evaluation.labels.index("deny")]
    assert deny_row[evaluation.labels.index("deny")] == 1
    assert deny_row[evaluation.labels.index("stop")] == 1
    tags = {tag.tag: (tag.correct, tag.total) for tag in evaluation.tags}
    assert tags == {"opening": (1, 2), "texting": (0, 2)}
    # a refusal read as stop is not dangerous; interest or an answer read as an ending is
    assert [prediction.example.text for prediction in evaluation.dangerous] == [
        "love it",
        "3 weeks",
    ]
    assert evaluation.targets_met == {"macro_f1": False, "dangerous": False}


@pytest.fixture(scope="module")
def evaluation(heldout: list[HeldOutExample], model_parser: ModelParser) -> Evaluation:
    return evaluate(asyncio.run(model_parser.predict(heldout)), model_parser.intents)


# Just under what the shipped training data reaches (README, "Understanding": 0.86 and
# 7), with room for the ±0.015 macro-F1 a retrain of the same data moves: a change that
# makes understanding worse fails here, while the targets below are still open.
MACRO_F1_FLOOR = 0.83
DANGEROUS_CEILING = 14
TARGETS_OPEN = pytest.mark.xfail(
    strict=True,
    reason="target not reached yet (README, Understanding: macro-F1 0.86, 7 messages read as "
    "an ending); strict, so reaching it fails here until this mark is removed",
)


@pytest.mark.e2e
def test_understanding_does_not_fall_below_what_it_reaches(evaluation: Evaluation) -> None:
    assert evaluation.macro_f1 >= MACRO_F1_FLOOR, f"macro-F1 {evaluation.macro_f1:.3f}"
    assert len(evaluation.dangerous) <= DANGEROUS_CEILING, "read as stop, goodbye or deny:\n" + (
        "\n".join(
            f"  {prediction.example.text!r} ({prediction.example.intent}) as {prediction.intent}"
            for prediction in evaluation.dangerous
        )
    )


@TARGETS_OPEN
@pytest.mark.e2e
def test_understanding_reaches_the_macro_f1_target(evaluation: Evaluation) -> None:
    weakest = sorted(evaluation.intents, key=lambda score: score.f1)[:5]
    assert evaluation.macro_f1 >= MACRO_F1_MIN, (
        f"macro-F1 {evaluation.macro_f1:.3f} < {MACRO_F1_MIN}; weakest: "
        + ", ".join(f"{score.intent} {score.f1:.2f}" for score in weakest)
        + (
            f"; not in the model: {', '.join(evaluation.unknown_to_model)}"
            if evaluation.unknown_to_model
            else ""
        )
    )


@TARGETS_OPEN
@pytest.mark.e2e
def test_no_message_is_read_as_an_ending_it_is_not(evaluation: Evaluation) -> None:
    assert not evaluation.dangerous, "read as stop, goodbye or deny:\n" + "\n".join(
        f"  {prediction.example.text!r} ({prediction.example.intent}) as {prediction.intent}"
        for prediction in evaluation.dangerous
    )
