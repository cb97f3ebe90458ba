"""The form asks what the flows files say, at run time: new questions, conditions,
skip-if-known, optional questions, fit points, page-selected flows and A/B arms."""

from __future__ import annotations

import textwrap
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher

import actions.common
import actions.lead
import actions.qualification
import bot.clock
from actions.qualification import ValidateQualificationForm
from bot.assistant import Assistant
from bot.flows import load_flow
from bot.leads.commands import RecordEvent
from bot.settings import PROJECT_ROOT
from tests.actions.conftest import NOW, make_tracker

DOMAIN: dict[str, Any] = {}
DEFAULT = (PROJECT_ROOT / "data" / "flows" / "default.yml").read_text(encoding="utf-8")
PURPOSE = """\
  - key: purpose
    answer_type: choice
    prompt: Who is it for?
    choices:
      - {id: gift, label: A gift, synonyms: [present], points: 7, reason: Buying a gift}
      - {id: self, label: For me}
    why: So we can offer gift wrapping.
    reask: Tap one of the buttons.

"""
GIFT_NOTE = """\
  - key: gift_note
    answer_type: free_text
    required: false
    ask_if:
      purpose: gift
    prompt: Any message for the gift card?
    why: We print it on the card.
    reask: Just type the message.

"""


def _default_with(extra: str, *, before: str = "  - key: variant") -> str:
    return DEFAULT.replace(before, extra + before, 1)


@pytest.fixture
def flows_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "flows"
    folder.mkdir()
    return folder


@pytest.fixture
def helper(
    tmp_path: Path, migrated_sqlite_url: str, flows_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Assistant]:
    monkeypatch.setenv("DATABASE_URL", migrated_sqlite_url)
    monkeypatch.setenv("LEADS_SPOOL_DIR", str(tmp_path / "spool"))
    monkeypatch.setenv("FLOWS_DIR", str(flows_dir))
    actions.common.assistant.cache_clear()
    with bot.clock.frozen(NOW):
        yield actions.common.assistant
    actions.common.assistant.cache_clear()


def _save(flows_dir: Path, text: str, name: str = "default.yml") -> None:
    (flows_dir / name).write_text(textwrap.dedent(text), encoding="utf-8")


async def _turn(tracker: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = await ValidateQualificationForm().run(dispatcher, tracker, DOMAIN)
    slots = {event["name"]: event["value"] for event in events if event["event"] == "slot"}
    return slots, dispatcher.messages


ANSWERED = {"raw": "x", "value": {"days": 10}, "display": "x", "status": "answered"}


async def test_a_new_choice_question_is_asked_and_stored_without_a_domain_slot(
    helper: Any, flows_dir: Path
) -> None:
    _save(flows_dir, _default_with(PURPOSE))
    slots, messages = await _turn(make_tracker("next month", requested="timeline", slots={}))
    assert slots["requested_slot"] == "purpose"
    assert messages[-1]["text"] == "Who is it for?"
    assert [b["title"] for b in messages[-1]["buttons"]] == ["A gift", "For me"]

    # A tapped button is the answer, whatever intent the NLU guessed for unseen words.
    slots, messages = await _turn(
        make_tracker(
            "A gift",
            intent="goodbye",
            confidence=0.97,
            requested="purpose",
            slots={"timeline": ANSWERED},
            message_id="msg-2",
        )
    )
    assert slots["flow_answers"]["purpose"]["value"] == "gift"
    assert "purpose" not in slots  # no domain slot needed for a new key
    assert slots["requested_slot"] == "variant"
    repository = helper().recorder.repository
    lead = repository.get_lead_by_session("session-1")
    assert lead["answers"]["purpose"]["value"] == "gift"
    reasons = {reason["rule"]: reason for reason in lead["reasons"]}
    assert reasons["fit.flow.purpose"]["points"] == 7
    assert reasons["fit.flow.purpose"]["detail"] == "Buying a gift"


async def test_a_condition_waits_for_its_answer_and_skips_when_false(
    helper: Any, flows_dir: Path
) -> None:
    _save(flows_dir, _default_with(GIFT_NOTE + PURPOSE))
    # gift_note comes first in the file but waits for `purpose`.
    slots, messages = await _turn(make_tracker("next month", requested="timeline"))
    assert slots["requested_slot"] == "purpose"
    gift = {"purpose": {"raw": "A gift", "value": "gift", "status": "answered"}}
    slots, messages = await _turn(
        make_tracker(
            "A gift",
            requested="purpose",
            slots={"timeline": ANSWERED},
            message_id="msg-2",
        )
    )
    assert slots["requested_slot"] == "gift_note"
    assert messages[-1]["text"] == "Any message for the gift card?"
    assert [b["title"] for b in messages[-1]["buttons"]] == ["Skip"]  # optional
    # Anything typed is the answer of a free-text question.
    slots, _ = await _turn(
        make_tracker(
            "Happy birthday Sam!",
            requested="gift_note",
            slots={"timeline": ANSWERED, "flow_answers": gift},
            message_id="msg-3",
        )
    )
    assert slots["flow_answers"]["gift_note"]["value"] == "Happy birthday Sam!"
    assert slots["requested_slot"] == "variant"
    # For oneself: the gift note is not asked at all.
    for_me = {"purpose": {"raw": "For me", "value": "self", "status": "answered"}}
    slots, _ = await _turn(
        make_tracker(
            "ok",
            requested=None,
            slots={"timeline": ANSWERED, "flow_answers": for_me},
            message_id="msg-4",
        )
    )
    assert slots["requested_slot"] == "variant"


async def test_an_optional_question_is_skipped_with_one_word(helper: Any, flows_dir: Path) -> None:
    _save(flows_dir, _default_with(GIFT_NOTE.replace("    ask_if:\n      purpose: gift\n", "")))
    slots, _ = await _turn(
        make_tracker(
            "skip",
            intent="stop",
            confidence=0.99,
            requested="gift_note",
            slots={"timeline": ANSWERED},
        )
    )
    assert slots["flow_answers"]["gift_note"]["status"] == "unknown"
    assert slots["requested_slot"] == "variant"


async def test_a_variant_picked_on_the_page_is_not_asked_again(
    helper: Any, flows_dir: Path
) -> None:
    _save(flows_dir, DEFAULT)
    catalog = helper().catalog
    product = catalog.product("hoodie-classic")
    variant = next(v for v in product.variants if v.in_stock)
    page = {"page_type": "product", "product_id": product.id, "variant_id": variant.id}
    # Picked on the page: the storefront reported the selection.
    helper().recorder.record(
        [
            RecordEvent(
                session_id="session-1",
                event_id="picked",
                type="variant_select",
                ts=NOW,
                source="storefront",
                product_id=product.id,
                variant_id=variant.id,
            )
        ]
    )
    slots, messages = await _turn(make_tracker("next month", requested="timeline", metadata=page))
    assert slots["variant"]["value"] == variant.id
    assert slots["requested_slot"] == "location"
    # Without a picked variant, a product page offers that product's options.
    page = {"page_type": "product", "product_id": product.id}
    slots, messages = await _turn(
        make_tracker("next month", requested="timeline", metadata=page, sender="session-2")
    )
    assert slots["requested_slot"] == "variant"
    payloads = [b["payload"] for b in messages[-1]["buttons"]]
    assert payloads and all(catalog.variant(p)[0].id == product.id for p in payloads)


async def test_the_page_selects_the_flow_and_the_conversation_keeps_it(
    helper: Any, flows_dir: Path
) -> None:
    _save(flows_dir, DEFAULT)
    product_flow = "flow: product_page\nwhen:\n  page_type: product\n" + DEFAULT.split(
        "flow: default\n", 1
    )[1].replace(
        "      - Which product and option are you interested in?",
        "      - Which option of the {product} would you like?",
    )
    _save(flows_dir, product_flow, "product_page.yml")
    page = {"page_type": "product", "product_id": "hoodie-classic"}
    slots, messages = await _turn(make_tracker("next month", requested="timeline", metadata=page))
    assert slots["question_state"]["flow"] == "product_page"
    assert messages[-1]["text"] == "Which option of the Classic Hoodie would you like?"
    # Later messages from another page stay in the flow the chat started in.
    slots, messages = await _turn(
        make_tracker(
            "Lyon",
            requested="location",
            metadata={"page_type": "cart"},
            slots={
                "timeline": ANSWERED,
                "variant": {"value": "x", "status": "answered"},
                "question_state": {"flow": "product_page"},
            },
            message_id="msg-2",
        )
    )
    assert slots["question_state"]["flow"] == "product_page"
    assert slots["requested_slot"] == "budget"


async def test_ab_arms_split_shoppers_by_the_configured_shares(
    helper: Any, flows_dir: Path
) -> None:
    ab = DEFAULT.replace(
        "    why: It helps me suggest options that fit what you want to spend.\n",
        "    why: It helps me suggest options that fit what you want to spend.\n"
        "    ab_test:\n"
        "      name: budget-wording\n"
        "      arms:\n"
        "        - arm: direct\n"
        "          split: 80\n"
        "          prompt: What budget do you have in mind?\n"
        "        - arm: soft\n"
        "          split: 20\n"
        "          prompt: Roughly how much would you like to spend?\n",
    )
    _save(flows_dir, ab)
    flow = load_flow(flows_dir / "default.yml")
    budget = flow.question("budget")
    assert budget is not None and budget.ab_test is not None
    arms = Counter(budget.asked(f"shopper-{n}").arm for n in range(2000))
    assert 1500 < arms["direct"] < 1700 and 300 < arms["soft"] < 500
    # The arm is stable per shopper and recorded on question_asked.
    answered = {
        k: {"value": "x", "status": "answered"} for k in ("timeline", "variant", "location")
    }
    _, messages = await _turn(
        make_tracker("ok", requested=None, slots=answered, sender="shopper-7")
    )
    arm = budget.asked("shopper-7")
    assert messages[-1]["text"] == arm.text
    repository = helper().recorder.repository
    lead = repository.get_lead_by_session("shopper-7")
    asked = [e for e in repository.events(lead["id"]) if e["type"] == "question_asked"]
    assert asked[-1]["properties"]["arm"] == arm.arm
