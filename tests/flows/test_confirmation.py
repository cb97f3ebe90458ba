"""What the bot says back about answers it took from a message not asked for them."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.flows import Flow, load_flow
from bot.flows.replies import confirmation

FLOW = """\
questions:
  - {key: timeline, answer_type: timeline, prompt: "When?", why: x, reask: y}
  - {key: variant, answer_type: variant, prompt: "Which?", why: x, reask: y}
  - {key: location, answer_type: location, prompt: "Where?", why: x, reask: y}
  - {key: budget, answer_type: budget, prompt: "How much?", why: x, reask: y}
  - key: gift_wrap
    answer_type: choice
    prompt: Gift wrap?
    why: x
    reask: y
    choices: [Wrapped, Plain]
"""


@pytest.fixture
def flow(tmp_path: Path) -> Flow:
    path = tmp_path / "flow.yml"
    path.write_text(FLOW, encoding="utf-8")
    return load_flow(path)


def record(display: str) -> dict:
    return {"value": display, "display": display, "status": "answered"}


def test_volunteered_answers_are_read_back(flow: Flow) -> None:
    answers = {"location": record("Berlin, Germany"), "budget": record("300 EUR")}
    said = confirmation(flow, answers, {"location": "noted", "budget": "noted"})
    assert said == "Got it — delivery to Berlin, Germany; a budget of 300 EUR."


def test_a_correction_says_what_changed(flow: Flow) -> None:
    answers = {"variant": record("Classic Hoodie — Black, M"), "timeline": record("in 7 days")}
    said = confirmation(flow, answers, {"variant": "changed", "timeline": "noted"})
    assert said == "Changed — the Classic Hoodie — Black, M. Got it — buying in 7 days."


def test_a_question_of_the_marketer_reads_back_by_its_name(flow: Flow) -> None:
    said = confirmation(flow, {"gift_wrap": record("Wrapped")}, {"gift_wrap": "noted"})
    assert said == "Got it — gift wrap: Wrapped."


def test_nothing_to_confirm_says_nothing(flow: Flow) -> None:
    assert confirmation(flow, {}, {}) is None
    assert confirmation(flow, {"location": record("")}, {"location": "noted"}) is None
