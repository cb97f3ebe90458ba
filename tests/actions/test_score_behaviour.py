"""The bot uses the score: hot leads are offered a person, cold ones are not pestered."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from rasa_sdk.executor import CollectingDispatcher

from actions.lead import AnswerShopQuestion, CompleteQualification, RequestHuman
from bot.assistant import HUMAN_OFFER, Assistant
from bot.leads.commands import RecordEvent
from tests.actions.conftest import NOW, make_tracker
from tests.actions.test_qualification_form import DOMAIN, validate

CORE = {
    key: {"raw": "x", "value": "x", "status": "answered"}
    for key in ("timeline", "variant", "location", "budget")
}


def storefront(helper: Assistant, session: str, *kinds: str) -> None:
    """Storefront journey events of ``session`` for an in-stock hoodie, minutes before NOW."""
    helper.recorder.repository.apply(
        [
            RecordEvent(
                session_id=session,
                event_id=f"{session}-{index}",
                type=kind,
                ts=NOW - timedelta(minutes=10 - index),
                source="storefront",
                product_id="hoodie-classic",
                variant_id="hoodie-classic-blue-m",
            )
            for index, kind in enumerate(kinds)
        ],
        now=NOW,
    )


def texts(messages: list[dict[str, Any]]) -> list[str]:
    return [message.get("text") or "" for message in messages]


async def test_hot_lead_is_offered_a_person_once(helper: Assistant) -> None:
    storefront(helper, "session-1", "product_view", "add_to_cart", "checkout_start")
    assert helper.recorder.repository.get_lead_by_session("session-1")["stage"] == "hot"

    first: list[dict[str, Any]] = []
    await validate(make_tracker("next week", requested="timeline"), first)
    assert HUMAN_OFFER in texts(first)

    again: list[dict[str, Any]] = []
    await validate(make_tracker("in France", requested="location", message_id="msg-2"), again)
    assert HUMAN_OFFER not in texts(again)
    lead = helper.recorder.repository.get_lead_by_session("session-1")
    offers = helper.recorder.repository.events(lead["id"], types=["human_offered"])
    assert len(offers) == 1


async def test_warm_lead_is_not_offered_a_person(helper: Assistant) -> None:
    storefront(helper, "session-1", "product_view", "add_to_cart")
    messages: list[dict[str, Any]] = []
    await validate(make_tracker("next week", requested="timeline"), messages)
    assert HUMAN_OFFER not in texts(messages)


async def test_offer_follows_any_reply_but_not_a_request_for_a_person(helper: Assistant) -> None:
    storefront(helper, "session-1", "product_view", "add_to_cart", "checkout_start")
    asked = CollectingDispatcher()
    await RequestHuman().run(
        asked, make_tracker("can I talk to someone", intent="human_handoff"), DOMAIN
    )
    assert HUMAN_OFFER not in texts(asked.messages)
    question = CollectingDispatcher()
    await AnswerShopQuestion().run(
        question,
        make_tracker("how much is shipping", intent="ask_shipping", message_id="msg-2"),
        DOMAIN,
    )
    # They already asked for a person: no offer afterwards either.
    assert HUMAN_OFFER not in texts(question.messages)


async def test_hot_lead_gets_the_offer_after_a_shop_question(helper: Assistant) -> None:
    storefront(helper, "session-1", "product_view", "add_to_cart", "checkout_start")
    dispatcher = CollectingDispatcher()
    await AnswerShopQuestion().run(
        dispatcher, make_tracker("how much is shipping", intent="ask_shipping"), DOMAIN
    )
    assert texts(dispatcher.messages)[-1] == HUMAN_OFFER


async def test_a_hot_lead_that_gave_consent_is_not_offered_a_person_at_the_end(
    helper: Assistant,
) -> None:
    # The closing line already says a specialist will be in touch: offering one
    # right after it would contradict it.
    storefront(helper, "session-1", "product_view", "add_to_cart", "checkout_start")
    consent = {"raw": "yes", "value": True, "status": "answered"}
    dispatcher = CollectingDispatcher()
    await CompleteQualification().run(
        dispatcher,
        make_tracker("a@example.com", slots={**CORE, "contact_consent": consent}),
        DOMAIN,
    )
    replies = texts(dispatcher.messages)
    assert replies[0].startswith("Thanks! A specialist will be in touch soon.")
    assert HUMAN_OFFER not in replies


async def test_cold_lead_is_asked_for_contact_details_once(helper: Assistant) -> None:
    asked: list[dict[str, Any]] = []
    first = await validate(make_tracker("ok", intent="affirm", slots=CORE), asked)
    assert first["requested_slot"] == "contact_consent"

    # An unclear reply is no refusal: the question is asked again.
    second = await validate(
        make_tracker(
            "hmm whatever",
            requested="contact_consent",
            slots=CORE,
            message_id="msg-2",
        )
    )
    assert second["requested_slot"] == "contact_consent"
    assert "contact_consent" not in second

    # A later conversation of the same cold lead does not ask again.
    later = await validate(make_tracker("ok", intent="affirm", slots=CORE, message_id="msg-3"))
    assert later["requested_slot"] is None
    assert later["contact_consent"]["value"] is None
    lead = helper.recorder.repository.get_lead_by_session("session-1")
    skipped = helper.recorder.repository.events(lead["id"], types=["question_skipped"])
    assert skipped[-1]["properties"]["reason"] == "asked before, lead is cold"


async def test_coming_back_at_consent_asks_it_again(helper: Assistant) -> None:
    await validate(make_tracker("ok", intent="affirm", slots=CORE))
    again: list[dict[str, Any]] = []
    slots = await validate(
        make_tracker("sorry, I'm back", requested="contact_consent", slots=CORE, message_id="m2"),
        again,
    )
    assert slots["requested_slot"] == "contact_consent"
    assert "contact_consent" not in slots
    # A slot other than requested_slot is set, so Rasa does not reject the form's turn.
    assert slots["question_state"]["returned"] == "m2"
    assert texts(again)[0] == "Welcome back!"
    assert texts(again)[-1].startswith("May I save your name")


async def test_a_shop_question_the_nlu_missed_at_consent_is_no_refusal(helper: Assistant) -> None:
    await validate(make_tracker("ok", intent="affirm", slots=CORE))
    slots = await validate(
        make_tracker(
            "how much is the rain jacket?",
            intent="express_interest",
            requested="contact_consent",
            slots=CORE,
            message_id="m2",
        )
    )
    assert slots["requested_slot"] == "contact_consent"
    assert "contact_consent" not in slots


async def test_warm_lead_is_asked_again_after_an_unclear_reply(helper: Assistant) -> None:
    storefront(helper, "session-1", "product_view", "add_to_cart")
    await validate(make_tracker("ok", intent="affirm", slots=CORE))
    second: list[dict[str, Any]] = []
    slots = await validate(
        make_tracker("hmm whatever", requested="contact_consent", slots=CORE, message_id="msg-2"),
        second,
    )
    assert slots["requested_slot"] == "contact_consent"
    consent = helper.flow.question("contact_consent")
    assert consent is not None and second[-1]["text"] == consent.reask
