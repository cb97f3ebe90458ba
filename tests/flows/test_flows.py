"""Flow files: loading, validation errors, and that every quick reply is understood."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

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
