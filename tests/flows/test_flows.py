"""Flow files: loading, validation errors, and that every quick reply is understood."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from bot.catalog import DEMO_CATALOG, load_catalog
from bot.flows import FlowError, load_flow
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


GOOD_QUESTION = """\
  - key: timeline
    answer_type: timeline
    prompt: When?
    why: Because.
    reask: Say "next week".
"""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("questions: []\n", "`questions:` is empty"),
        ("flow: x\n", "expected a mapping with a `questions:` list"),
        (
            "questions:\n  - key: timeline\n    answer_type: budgit\n",
            "line 2: `answer_type: budgit` — expected one of",
        ),
        ("questions:\n" + GOOD_QUESTION + GOOD_QUESTION, "line 7: `key: timeline` is used twice"),
        ("questions:\n" + GOOD_QUESTION + "    colour: red\n", "unknown field(s) colour"),
        (
            "questions:\n" + GOOD_QUESTION + "    buttons: [Yes, No]\n",
            "`buttons` of `timeline` must be a list of texts",
        ),
        ("questions:\n  - key: 1bad\n", "`key` must be a name"),
        (
            "questions:\n" + GOOD_QUESTION.replace("    why: Because.\n", ""),
            "`why` text is missing",
        ),
        (
            "questions:\n" + GOOD_QUESTION + "faq:\n  weather: sunny\n",
            "`faq: weather` is not a topic",
        ),
        ("questions: [\n", "not valid YAML"),
    ],
)
def test_flow_errors_name_file_line_and_fix(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "broken.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(FlowError) as error:
        load_flow(path)
    assert message in str(error.value)
    assert str(path) in str(error.value)
