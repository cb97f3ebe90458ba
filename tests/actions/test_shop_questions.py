"""Shop questions answered from the catalogue, the way back to the questions, and page
context as a hint: a variant counts as chosen only when the shopper picked it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk.executor import CollectingDispatcher

from actions.lead import AnswerShopQuestion
from actions.qualification import ValidateQualificationForm
from bot.assistant import Assistant
from bot.leads.commands import RecordEvent
from tests.actions.conftest import NOW, make_tracker

DOMAIN = yaml.safe_load(Path("domain.yml").read_text(encoding="utf-8"))
RAIN_JACKET_PAGE = {
    "page_type": "product",
    "product_id": "jacket-rain",
    # The first radio button, pre-selected by the page: the shopper never picked it.
    "variant_id": "jacket-rain-red-s",
}
TIMELINE = {"raw": "next week", "value": {"days": 7}, "display": "next week", "status": "answered"}


async def ask(
    helper: Assistant, text: str, intent: str, **tracker: Any
) -> tuple[list[dict[str, Any]], str]:
    dispatcher = CollectingDispatcher()
    events = await AnswerShopQuestion().run(
        dispatcher, make_tracker(text, intent=intent, **tracker), DOMAIN
    )
    return events, " ".join(message.get("text") or "" for message in dispatcher.messages)


async def form_turn(tracker: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = await ValidateQualificationForm().run(dispatcher, tracker, DOMAIN)
    slots = {event["name"]: event["value"] for event in events if event["event"] == "slot"}
    return slots, dispatcher.messages


def picked(helper: Assistant, kind: str, variant_id: str, session: str = "session-1") -> None:
    """A storefront event of the shopper picking ``variant_id`` (as the events API stores it)."""
    found = helper.catalog.variant(variant_id)
    assert found is not None
    helper.recorder.record(
        [
            RecordEvent(
                session_id=session,
                event_id=f"{kind}-{variant_id}",
                type=kind,
                ts=NOW,
                source="storefront",
                product_id=found[0].id,
                variant_id=variant_id,
            )
        ]
    )


@pytest.mark.parametrize(
    ("text", "intent", "expected"),
    [
        # a product and a colour: which sizes of it are in stock
        (
            "is the black hoodie in stock",
            "ask_stock",
            "Yes, the Classic Hoodie in black is in stock in S, M, L, XL.",
        ),
        # one variant, out of stock: say so and offer what is in stock
        (
            "is the blue hoodie in L in stock?",
            "ask_stock",
            "Sorry, the Classic Hoodie — blue, L is out of stock right now. In stock: blue S, "
            "blue M, black S, black M, black L, black XL, grey M.",
        ),
        # a misspelt product, a variant out of stock
        ("is the black beenie in stock", "ask_stock", "Merino Beanie — black is out of stock"),
        # an option the product does not come in
        ("do you have the hoodie in green?", "ask_stock", "doesn't come in that option"),
        # a product's price is a range over its variants
        ("how much is the hoodie", "ask_price", "The Classic Hoodie costs 59.00 to 64.00 EUR"),
        # one variant: its own price
        (
            "how much is the black hoodie in XL",
            "ask_price",
            "Classic Hoodie — black, XL costs 64.00",
        ),
        # delivery of the named product to the named place, with the lead time
        (
            "do you deliver the black hoodie to Lyon?",
            "ask_shipping",
            "Yes, we deliver the Classic Hoodie to Lyon, France, usually within 3 working days.",
        ),
        # a product that does not go there
        (
            "can you ship the rain jacket to New York?",
            "ask_shipping",
            "Sorry, the Rain Jacket can't be delivered to New York",
        ),
        # a product the shop does not sell: the generic answer
        (
            "is the purple unicorn in stock?",
            "ask_stock",
            "Stock is shown on each product page and updated in real time.",
        ),
        ("how much is the flux capacitor", "ask_price", "Prices are shown on each product page"),
    ],
)
async def test_questions_naming_a_product_are_answered_from_the_catalogue(
    helper: Assistant, text: str, intent: str, expected: str
) -> None:
    _, reply = await ask(helper, text, intent)
    assert expected in reply


async def test_the_page_product_and_the_picked_variant_are_what_it_means(
    helper: Assistant,
) -> None:
    # On the rain-jacket page the pre-selected option is no answer: the product is.
    _, reply = await ask(helper, "is it in stock?", "ask_stock", metadata=RAIN_JACKET_PAGE)
    assert reply == "Yes, the Rain Jacket is in stock in red S, red M, blue M, black XL."
    _, reply = await ask(
        helper, "is the blue one in M in stock?", "ask_stock", metadata=RAIN_JACKET_PAGE
    )
    assert reply.startswith("Yes, the Rain Jacket — blue, M is in stock.")
    # The variant the shopper picked on the storefront is "it".
    picked(helper, "variant_select", "jacket-rain-blue-l")
    _, reply = await ask(helper, "is it in stock?", "ask_stock", metadata=RAIN_JACKET_PAGE)
    assert reply.startswith("Sorry, the Rain Jacket — blue, L is out of stock right now.")
    _, reply = await ask(helper, "how much is it?", "ask_price", message_id="msg-2")
    assert reply.startswith("The Rain Jacket — blue, L costs 129.00 EUR.")


async def test_a_shop_question_as_the_first_message_leads_to_the_first_question(
    helper: Assistant,
) -> None:
    events, reply = await ask(
        helper, "do you deliver the black hoodie to Lyon?", "ask_shipping", active_loop=None
    )
    assert reply.startswith("Yes, we deliver the Classic Hoodie to Lyon")
    # Rasa runs the form next, which activates it and calls the validation action.
    assert events == [{"event": "followup", "timestamp": None, "name": "qualification_form"}]
    tracker = make_tracker(
        "do you deliver the black hoodie to Lyon?", intent="ask_shipping", requested=None
    )
    tracker.events.append({"event": "action", "name": "action_answer_shop_question"})
    slots, messages = await form_turn(tracker)
    first = helper.flow.questions[0]
    assert slots["requested_slot"] == first.key
    assert messages[-1]["text"] in first.prompts


@pytest.mark.parametrize(
    ("tracker", "why"),
    [
        ({"active_loop": "qualification_form"}, "the rules bring the form back"),
        ({"active_loop": None, "slots": {"qualification_status": "completed"}}, "all answered"),
        ({"active_loop": None, "slots": {"qualification_status": "opted_out"}}, "declined"),
    ],
)
async def test_no_way_back_needed(helper: Assistant, tracker: dict[str, Any], why: str) -> None:
    events, _ = await ask(helper, "do you ship to Lyon?", "ask_shipping", **tracker)
    assert events == [], why


async def test_a_pre_selected_variant_is_asked_with_the_page_products_options(
    helper: Assistant,
) -> None:
    slots, messages = await form_turn(
        make_tracker("next week", requested="timeline", metadata=RAIN_JACKET_PAGE)
    )
    assert slots["requested_slot"] == "variant"
    assert "variant" not in slots
    payloads = [button["payload"] for button in messages[-1]["buttons"]]
    assert payloads == [
        "jacket-rain-red-s",
        "jacket-rain-red-m",
        "jacket-rain-blue-m",
        "jacket-rain-black-xl",
    ]
    # "the blue one in M" is read within the page's product.
    slots, _ = await form_turn(
        make_tracker(
            "the blue one in M",
            requested="variant",
            metadata=RAIN_JACKET_PAGE,
            slots={"timeline": TIMELINE},
            message_id="msg-2",
        )
    )
    assert slots["variant"]["value"] == "jacket-rain-blue-m"
    assert slots["requested_slot"] == "location"


@pytest.mark.parametrize("kind", ["variant_select", "add_to_cart"])
async def test_a_variant_the_shopper_picked_is_not_asked(helper: Assistant, kind: str) -> None:
    picked(helper, kind, "jacket-rain-blue-m")
    slots, _ = await form_turn(
        make_tracker("next week", requested="timeline", metadata=RAIN_JACKET_PAGE)
    )
    assert slots["variant"]["value"] == "jacket-rain-blue-m"
    assert slots["requested_slot"] == "location"


async def test_a_variant_picked_on_another_products_page_is_asked_about_this_one(
    helper: Assistant,
) -> None:
    picked(helper, "add_to_cart", "hoodie-classic-blue-m")
    slots, messages = await form_turn(
        make_tracker("next week", requested="timeline", metadata=RAIN_JACKET_PAGE)
    )
    assert slots["requested_slot"] == "variant"
    assert all(b["payload"].startswith("jacket-rain-") for b in messages[-1]["buttons"])
