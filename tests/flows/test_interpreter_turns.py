"""Messages that answer nothing: coming back after a pause, shop questions, unclear replies."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from bot.catalog import DEMO_CATALOG, load_catalog
from bot.flows import load_flow
from bot.flows.interpreter import Interpreter, TurnInput, TurnResult

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)

FLOW = """\
questions:
  - key: timeline
    answer_type: timeline
    prompt: When?
    why: x
    reask: y
  - key: variant
    answer_type: variant
    prompt: Which one?
    why: x
    reask: y
  - key: location
    answer_type: location
    prompt: Where to?
    why: x
    reask: y
  - key: contact_consent
    answer_type: yes_no
    prompt: May we contact you?
    why: x
    reask: y
"""


@pytest.fixture
def interpreter(tmp_path: Path) -> Interpreter:
    path = tmp_path / "flow.yml"
    path.write_text(FLOW, encoding="utf-8")
    return Interpreter(load_flow(path), load_catalog(DEMO_CATALOG), currency="EUR")


def read(
    interpreter: Interpreter, text: str, key: str, intent: str = "inform", confidence: float = 0.9
) -> TurnResult:
    return interpreter.interpret(
        TurnInput(
            text=text,
            intent=intent,
            intent_confidence=confidence,
            requested_key=key,
            answers={},
            failures={},
            now=NOW,
        )
    )


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("back now, where were we?", "timeline"),  # "now" is no timeline
        ("sorry, I'm back", "contact_consent"),
        ("back now, where were we?", "contact_consent"),
        ("hi again, sorry for the wait", "location"),
        ("ok I'm back", "variant"),
        ("where were we?", "timeline"),
        ("Sorry about that, I got distracted", "contact_consent"),
    ],
)
def test_coming_back_is_no_answer_and_no_failure(
    interpreter: Interpreter, text: str, key: str
) -> None:
    result = read(interpreter, text, key)
    assert result.resumed
    assert result.answers == {}
    assert result.failures == {}
    assert not result.interrupted


@pytest.mark.parametrize(
    ("text", "key", "days"),
    [
        ("back now, I'd buy it next week", "timeline", 7),  # coming back with an answer
        ("now", "timeline", 0),
    ],
)
def test_coming_back_with_an_answer_is_the_answer(
    interpreter: Interpreter, text: str, key: str, days: int
) -> None:
    result = read(interpreter, text, key)
    assert not result.resumed
    assert result.answers[key]["value"]["days"] >= days


@pytest.mark.parametrize(
    ("text", "intent", "value"),
    [
        ("alright", "greet", True),  # NLU reads it as a greeting
        ("go ahead", "inform", True),
        ("sure thing", "inform", True),
        ("why not", "ask_why", True),  # "why not" agrees; it asks nothing
        ("why not?", "inform", True),
        ("d'accord", "inform", True),
        ("va bene", "inform", True),
        ("claro", "inform", True),
        ("pode ser", "inform", True),
        ("na klar", "inform", True),
        ("no problem", "inform", True),
        ("yes please", "inform", True),
        ("nein danke", "inform", False),
        ("non merci", "inform", False),
        ("no gracias", "inform", False),
        ("não, obrigado", "inform", False),
        ("no grazie", "inform", False),
        ("I'd rather not", "inform", False),
        ("no", "deny", False),
    ],
)
def test_yes_and_no_in_the_shoppers_words(
    interpreter: Interpreter, text: str, intent: str, value: bool
) -> None:
    result = read(interpreter, text, "contact_consent", intent=intent, confidence=0.95)
    assert result.answers["contact_consent"]["value"] is value


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("how much is the rain jacket?", "express_interest"),  # NLU missed the shop question
        ("sorry, what?", "inform"),
        ("hmm", "inform"),
    ],
)
def test_an_unclear_reply_to_consent_is_no_refusal(
    interpreter: Interpreter, text: str, intent: str
) -> None:
    result = read(interpreter, text, "contact_consent", intent=intent)
    assert "contact_consent" not in result.answers


@pytest.mark.parametrize("intent", ["human_handoff", "ask_stock"])
def test_a_clear_variant_answer_wins_over_a_guessed_interruption(
    interpreter: Interpreter, intent: str
) -> None:
    result = read(interpreter, "pine candle pls", "variant", intent=intent, confidence=0.8)
    assert not result.interrupted
    assert result.answers["variant"]["value"] == "candle-forest-pine"


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("I want to talk to someone about the pine candle", "human_handoff"),
        ("is the pine candle in stock?", "ask_stock"),
        ("how much is the pine candle", "ask_price"),
    ],
)
def test_a_real_interruption_naming_a_variant_still_interrupts(
    interpreter: Interpreter, text: str, intent: str
) -> None:
    result = read(interpreter, text, "variant", intent=intent, confidence=0.95)
    assert result.interrupted


def read_with(
    interpreter: Interpreter, text: str, key: str, answers: dict, intent: str = "inform"
) -> TurnResult:
    return interpreter.interpret(
        TurnInput(
            text=text,
            intent=intent,
            intent_confidence=0.9,
            requested_key=key,
            answers=answers,
            failures={},
            now=NOW,
        )
    )


def answered(value: object, display: str) -> dict:
    return {"raw": display, "value": value, "display": display, "status": "answered"}


@pytest.mark.parametrize("key", ["timeline", "location", "variant"])
def test_an_off_topic_remark_is_answered_not_stored(interpreter: Interpreter, key: str) -> None:
    result = read(
        interpreter, "what's the weather like in Paris today?", key, intent="out_of_scope"
    )
    assert result.off_topic
    assert result.answers == {}
    assert result.failures == {key: 1}  # a try like any unreadable answer


def test_nonsense_read_as_off_topic_twice_moves_on(interpreter: Interpreter) -> None:
    result = interpreter.interpret(
        TurnInput(
            text="a velvet giraffe",
            intent="out_of_scope",
            intent_confidence=0.9,
            requested_key="variant",
            answers={},
            failures={"variant": 1},
            now=NOW,
        )
    )
    assert result.answers["variant"]["status"] == "unknown"
    assert ("question_unanswered", {"key": "variant"}) in result.events


def test_an_off_topic_guess_gives_way_to_an_explicit_answer(interpreter: Interpreter) -> None:
    result = read(interpreter, "in 3 weeks", "timeline", intent="out_of_scope")
    assert not result.interrupted
    assert result.answers["timeline"]["value"]["days"] == 21


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("what's the weather like in Paris today?", "timeline"),
        ("is it sunny in Lyon right now?", "variant"),
        ("would 100 euros be enough for Berlin?", "timeline"),
    ],
)
def test_a_question_back_volunteers_nothing(interpreter: Interpreter, text: str, key: str) -> None:
    """Whatever the NLU guessed, a question is no answer to the other questions."""
    result = read(interpreter, text, key)
    assert "location" not in result.answers
    assert result.confirm == {}


def test_a_volunteered_answer_is_stored_and_confirmed(interpreter: Interpreter) -> None:
    result = read(interpreter, "next week, and it should go to Berlin", "timeline")
    assert result.answers["timeline"]["value"]["days"] >= 7
    assert result.answers["location"]["value"]["country"] == "DE"
    assert result.confirm == {"location": "noted"}


def test_the_answer_to_the_question_asked_needs_no_confirmation(interpreter: Interpreter) -> None:
    result = read(interpreter, "Berlin", "location")
    assert result.answers["location"]["value"]["country"] == "DE"
    assert result.confirm == {}


def test_a_correction_changes_the_answer_it_names_and_keeps_the_question_open(
    interpreter: Interpreter,
) -> None:
    answers = {
        "timeline": answered({"days": 7}, "in 7 days"),
        "variant": answered("hoodie-classic-blue-m", "Classic Hoodie — Blue, M"),
    }
    result = read_with(interpreter, "hmm actually the black one, same size", "location", answers)
    assert result.answers["variant"]["value"] == "hoodie-classic-black-m"
    assert result.confirm == {"variant": "changed"}
    assert "location" not in result.answers
    assert result.failures == {}
    assert ("answer_updated", {"key": "variant"}) in result.events


def test_a_correction_and_an_answer_in_one_message(interpreter: Interpreter) -> None:
    answers = {"timeline": answered({"days": 7}, "in 7 days")}
    result = read_with(interpreter, "actually in 3 weeks, and Lyon", "location", answers)
    assert result.answers["timeline"]["value"]["days"] == 21
    assert result.answers["location"]["value"]["region"] == "Lyon"
    assert result.confirm == {"timeline": "changed"}


@pytest.mark.parametrize(
    ("text", "key", "value"),
    [
        ("<b>Black hoodie, M</b>", "variant", "hoodie-classic-black-m"),
        ("<i>next week</i>", "timeline", {"days": 7}),
    ],
)
def test_formatting_tags_pasted_around_an_answer_are_dropped(
    interpreter: Interpreter, text: str, key: str, value: object
) -> None:
    result = read(interpreter, text, key)
    stored = result.answers[key]["value"]
    assert stored == value if key == "variant" else stored["days"] >= 7


def test_markup_that_is_not_formatting_is_never_an_answer(interpreter: Interpreter) -> None:
    result = read(interpreter, '<a href="x">Berlin</a>', "location")
    assert "location" not in result.answers


@pytest.mark.parametrize(
    ("text", "serviceable"),
    [("20260 Calvi", False), ("Porto-Vecchio, Corsica", False), ("69002 Lyon", True)],
)
def test_delivery_is_checked_against_the_area_of_the_place(
    interpreter: Interpreter, text: str, serviceable: bool
) -> None:
    """The Dome Tent goes to France but not to Corsica, whichever town or postcode is given."""
    answers = {"variant": answered("tent-dome-2p", "Dome Tent — 2 person")}
    result = read_with(interpreter, text, "location", answers)
    assert result.answers["location"]["value"]["country"] == "FR"
    assert result.answers["location"]["value"]["serviceable"] is serviceable


@pytest.fixture
def with_budget(tmp_path: Path) -> Interpreter:
    path = tmp_path / "budget-flow.yml"
    path.write_text(
        FLOW
        + "  - key: budget\n    answer_type: budget\n    prompt: How much?\n"
        + "    why: x\n    reask: y\n",
        encoding="utf-8",
    )
    return Interpreter(load_flow(path), load_catalog(DEMO_CATALOG), currency="EUR")


@pytest.mark.parametrize(
    ("text", "key", "field", "value"),
    [
        ("150, actually more like 200", "budget", "amount", 200),
        ("100, anzi 130", "budget", "amount", 130),
        ("100 Euro, äh, eher 120", "budget", "amount", 120),
        ("100€ enfin plutôt 120", "budget", "amount", 120),
        ("50€, bueno mejor 60", "budget", "amount", 60),
        ("100€, aliás 80", "budget", "amount", 80),
        ("next week, no wait, in 3 weeks", "timeline", "days", 21),
    ],
)
def test_a_shopper_correcting_themselves_in_one_message_gives_the_revised_answer(
    with_budget: Interpreter, text: str, key: str, field: str, value: int
) -> None:
    result = read(with_budget, text, key)
    assert result.answers[key]["value"][field] == value


def test_a_cue_with_nothing_readable_after_it_keeps_the_whole_answer(
    with_budget: Interpreter,
) -> None:
    result = read(with_budget, "120 euros actually", "budget")
    assert result.answers["budget"]["value"]["amount"] == 120


@pytest.mark.parametrize(
    ("text", "key", "intent"),
    [
        ("bientôt", "timeline", "goodbye"),
        ("la semaine prochaine", "timeline", "stop"),
        ("in due settimane", "timeline", "out_of_scope"),
        ("Lisboa", "location", "stop"),
        ("blue hoodie M", "variant", "ask_price"),
    ],
)
def test_a_short_reply_that_answers_the_question_is_the_answer_whatever_the_guess(
    interpreter: Interpreter, text: str, key: str, intent: str
) -> None:
    result = read(interpreter, text, key, intent=intent)
    assert not result.interrupted
    assert result.answers[key]["value"] is not None


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("see you soon", "goodbye"),
        ("à bientôt", "goodbye"),
        ("hasta pronto", "goodbye"),
        ("bis bald", "goodbye"),
        ("not now", "stop"),
        ("fin", "stop"),
        ("maybe later", "stop"),
    ],
)
def test_a_farewell_or_a_refusal_is_not_read_as_an_answer(
    interpreter: Interpreter, text: str, intent: str
) -> None:
    for key in ("timeline", "location"):
        result = read(interpreter, text, key, intent=intent)
        assert result.interrupted, (key, result.answers)


def test_an_address_pasted_as_a_mailto_link_is_the_address(tmp_path: Path) -> None:
    path = tmp_path / "contact-flow.yml"
    path.write_text(
        "questions:\n  - {key: work_email, answer_type: email, prompt: Email, why: x,"
        " reask: y, after_consent: true}\n",
        encoding="utf-8",
    )
    reader = Interpreter(load_flow(path), load_catalog(DEMO_CATALOG), currency="EUR")
    result = read(reader, '<a href="mailto:sam@example.org">sam@example.org</a>', "work_email")
    assert result.answers["work_email"]["value"] == "sam@example.org"


@pytest.mark.parametrize(
    ("text", "low", "high"), [("80? 90?", 80, 90), ("je sais pas, 100 ? 150 ?", 100, 150)]
)
def test_a_hesitant_figure_with_a_question_mark_is_an_answer(
    with_budget: Interpreter, text: str, low: int, high: int
) -> None:
    value = read(with_budget, text, "budget").answers["budget"]["value"]
    assert (value["min"], value["max"]) == (low, high)


@pytest.mark.parametrize(
    "text", ["c'est combien pour Berlin ?", "wo liefert ihr hin?", "vous livrez à Lyon ?"]
)
def test_questions_in_other_languages_volunteer_nothing(
    interpreter: Interpreter, text: str
) -> None:
    result = read(interpreter, text, "timeline")
    assert "location" not in result.answers


@pytest.mark.parametrize(("text", "high"), [("como mucho 90 €", 90), ("was thinking 100 max", 100)])
def test_answers_starting_like_a_question_word_are_answers(
    with_budget: Interpreter, text: str, high: int
) -> None:
    assert read(with_budget, text, "budget").answers["budget"]["value"]["max"] == high
