"""Flow files: loading, validation errors, and that every quick reply is understood."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from bot.catalog import DEMO_CATALOG, load_catalog
from bot.flows import load_flow
from bot.flows.interpreter import Interpreter, TurnInput

DEFAULT_FLOW = Path("data/flows/default.yml")
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)


def _button_cases() -> list[tuple[str, str]]:
    flow = load_flow(DEFAULT_FLOW)
    return [(q.key, button) for q in flow.questions for button in q.buttons]


@pytest.mark.parametrize(("key", "button"), _button_cases())
def test_every_quick_reply_answers_its_question(key: str, button: str) -> None:
    flow = load_flow(DEFAULT_FLOW)
    interpreter = Interpreter(flow, load_catalog(DEMO_CATALOG), currency="EUR")
    intent = {"Yes": "affirm", "No, thanks": "stop"}.get(button, "inform")
    result = interpreter.interpret(
        TurnInput(
            text=button,
            intent=intent,
            intent_confidence=0.99,
            requested_key=key,
            answers={},
            failures={},
            now=NOW,
        )
    )
    assert key in result.answers, f"quick reply {button!r} is not understood as {key}"
    assert result.answers[key]["status"] == "answered"


def test_default_flow_asks_core_questions_in_order() -> None:
    flow = load_flow(DEFAULT_FLOW)
    assert flow.keys[:4] == ["timeline", "variant", "location", "budget"]
    assert flow.to_ask({}) == ["timeline", "variant", "location", "budget", "contact_consent"]
    consented = {"contact_consent": {"value": True}}
    assert flow.to_ask(consented)[-2:] == ["contact_name", "contact_details"]
    assert flow.to_ask({"contact_consent": {"value": False}})[-1] == "budget"


def _question_flow(tmp_path: Path, question: str) -> Interpreter:
    path = tmp_path / "flow.yml"
    path.write_text("questions:\n" + question, encoding="utf-8")
    return Interpreter(load_flow(path), load_catalog(DEMO_CATALOG), currency="EUR")


def _read(interpreter: Interpreter, text: str, key: str | None, **answers: Any) -> Any:
    return interpreter.interpret(
        TurnInput(
            text=text,
            intent="inform",
            intent_confidence=0.9,
            requested_key=key,
            answers=answers,
            failures={},
            now=NOW,
        )
    )


CHOICE = """\
  - key: purpose
    answer_type: choice
    prompt: Who is it for?
    choices:
      - {id: gift, label: A gift, synonyms: [present, birthday]}
      - {id: self, label: For me, synonyms: [myself]}
    why: Gift wrapping.
    reask: Tap a button.
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A gift", "gift"),
        ("gift", "gift"),
        ("it's a birthday present for my sister", "gift"),
        ("for MYSELF.", "self"),
        ("no idea", None),
        ("a present for myself", None),  # both: ambiguous, asked again
        ("it's not a gift", None),  # negated
        ("no, it isn't a present", None),
        ("not sure, probably for me", "self"),
    ],
)
def test_choice_answers(tmp_path: Path, text: str, expected: str | None) -> None:
    result = _read(_question_flow(tmp_path, CHOICE), text, "purpose")
    value = result.answers.get("purpose", {}).get("value")
    assert value == expected


def test_a_choice_is_never_read_from_an_answer_to_another_question(tmp_path: Path) -> None:
    interpreter = _question_flow(
        tmp_path,
        CHOICE + "  - key: timeline\n    answer_type: timeline\n    prompt: When?\n"
        "    why: x\n    reask: y\n",
    )
    result = _read(interpreter, "next week, it's a gift", "timeline")
    assert set(result.answers) == {"timeline"}


EMAIL_PHONE_TEXT = """\
  - key: contact_consent
    answer_type: yes_no
    prompt: May we contact you?
    why: x
    reask: y
  - key: work_email
    answer_type: email
    after_consent: true
    prompt: Your work email?
    why: x
    reask: y
  - key: mobile
    answer_type: phone
    after_consent: true
    prompt: Your mobile?
    why: x
    reask: y
  - key: notes
    answer_type: free_text
    required: false
    prompt: Anything else?
    why: x
    reask: y
"""


def test_email_phone_and_free_text_answers(tmp_path: Path) -> None:
    interpreter = _question_flow(tmp_path, EMAIL_PHONE_TEXT)
    agreed = {"contact_consent": {"value": True}}
    email = _read(interpreter, "it's Jane.Doe@Example.com", "work_email", **agreed)
    assert email.answers["work_email"]["value"] == "jane.doe@example.com"
    phone = _read(interpreter, "+33 6 12 34 56 78", "mobile", **agreed)
    assert phone.answers["mobile"]["value"] == "+33612345678"
    # Without + a number is read in the delivery country, else the shop's country.
    in_shop_country = Interpreter(
        interpreter.flow, interpreter.catalog, currency="EUR", country="FR"
    )
    local = _read(in_shop_country, "06 12 34 56 78", "mobile", **agreed)
    assert local.answers["mobile"]["value"] == "+33612345678"
    germany = {**agreed, "location": {"value": {"country": "DE"}, "status": "answered"}}
    german = _read(in_shop_country, "0151 23456789", "mobile", **germany)
    assert german.answers["mobile"]["value"] == "+4915123456789"
    assert _read(interpreter, "not an email", "work_email", **agreed).answers == {}
    notes = _read(interpreter, "Please deliver after 6pm", "notes")
    assert notes.answers["notes"]["value"] == "Please deliver after 6pm"
    # Free text is only ever the answer to its own question.
    assert "notes" not in _read(interpreter, "Please deliver after 6pm", "mobile").answers


def test_fit_points_follow_the_answer(tmp_path: Path) -> None:
    interpreter = _question_flow(
        tmp_path,
        "  - key: timeline\n    answer_type: timeline\n    prompt: When?\n    why: x\n"
        "    reask: y\n    fit_points:\n"
        "      - {when: {lte: 14}, points: 10, reason: Buying within two weeks}\n"
        "      - {when: {lte: 60}, points: 4}\n",
    )
    soon = _read(interpreter, "next week", "timeline")
    assert (
        "answer_points",
        {"key": "timeline", "points": 10, "reason": "Buying within two weeks"},
    ) in soon.events
    later = _read(interpreter, "in 6 weeks", "timeline")
    assert (
        "answer_points",
        {"key": "timeline", "points": 4, "reason": "timeline: 42"},
    ) in later.events
    never = _read(interpreter, "in a year", "timeline")
    assert ("answer_points", {"key": "timeline", "points": 0, "reason": None}) in never.events


def test_longer_choice_names_win_and_short_ones_need_the_whole_message(tmp_path: Path) -> None:
    interpreter = _question_flow(
        tmp_path,
        "  - key: colour\n    answer_type: choice\n    prompt: Which colour?\n"
        '    choices: [Red, Dark red, "No"]\n    why: x\n    reask: y\n',
    )
    assert _read(interpreter, "dark red please", "colour").answers["colour"]["value"] == "dark_red"
    assert _read(interpreter, "red please", "colour").answers["colour"]["value"] == "red"
    assert _read(interpreter, "No", "colour").answers["colour"]["value"] == "no"
    assert "colour" not in _read(interpreter, "no idea", "colour").answers


def test_a_free_text_answer_is_not_read_as_other_answers(tmp_path: Path) -> None:
    interpreter = _question_flow(
        tmp_path,
        EMAIL_PHONE_TEXT + "  - key: location\n    answer_type: location\n    prompt: Where?\n"
        "    why: x\n    reask: y\n",
    )
    lyon = {"location": {"value": {"country": "FR"}, "status": "answered"}}
    result = _read(interpreter, "We'll celebrate in London instead next week", "notes", **lyon)
    assert set(result.answers) == {"notes"}


@pytest.mark.parametrize("text", ["no thanks", "Skip!", "skip this", "nope"])
def test_declining_an_optional_question_skips_it(tmp_path: Path, text: str) -> None:
    interpreter = _question_flow(tmp_path, EMAIL_PHONE_TEXT)
    result = interpreter.interpret(
        TurnInput(
            text=text,
            intent="stop",
            intent_confidence=0.99,
            requested_key="notes",
            answers={},
            failures={},
            now=NOW,
        )
    )
    assert not result.interrupted
    assert result.answers["notes"]["status"] == "unknown"
    assert ("question_skipped", {"key": "notes"}) in result.events
