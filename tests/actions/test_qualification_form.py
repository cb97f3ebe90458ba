"""The form validation action on messy real answers (rasa_sdk trackers built in code)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk.executor import CollectingDispatcher

from actions.qualification import ValidateQualificationForm
from bot.assistant import Assistant
from tests.actions.conftest import make_tracker

DOMAIN = yaml.safe_load(Path("domain.yml").read_text(encoding="utf-8"))


async def validate(tracker: Any, messages: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Slots the validation action sets; the messages it sends go to ``messages``."""
    dispatcher = CollectingDispatcher()
    events = await ValidateQualificationForm().run(dispatcher, tracker, DOMAIN)
    if messages is not None:
        messages.extend(dispatcher.messages)
    return {event["name"]: event["value"] for event in events if event["event"] == "slot"}


def answer_value(slots: dict[str, Any], key: str) -> Any:
    assert key in slots, f"{key} not filled; slots set: {sorted(slots)}"
    return slots[key]["value"]


# (answer, lowest, highest) days from Monday 2026-11-23.
TIMELINE_CASES = [
    ("asap", 0, 0),  # right away
    ("as soon as possible", 0, 1),
    ("today", 0, 0),
    ("tomorrow", 1, 1),
    ("next week", 7, 10),  # midpoint of next Monday-Sunday
    ("in 2 weeks", 13, 15),
    ("in a couple of weeks", 10, 18),
    ("in a few days", 2, 5),
    ("within 3 days", 1, 3),
    ("sometime next month", 8, 40),  # December
    ("next month", 8, 40),
    ("in 2 months", 55, 65),
    ("in three months", 85, 95),
    ("by Friday", 4, 4),  # Friday 27 November
    ("before Christmas", 25, 32),
    ("end of the month", 5, 8),
    ("this weekend", 4, 7),
    ("in 2-3 weeks", 14, 21),  # range: midpoint
    ("in january", 39, 70),
    ("on December 10", 17, 17),
    ("in 6 weeks", 41, 43),
    ("within a month", 14, 31),
    ("no rush, maybe in the spring", 95, 210),
    ("nxt week", 7, 10),  # typo
    ("I need it by next Friday", 4, 12),
]


@pytest.mark.parametrize(("text", "lowest", "highest"), TIMELINE_CASES)
async def test_timeline_answers(helper: Assistant, text: str, lowest: int, highest: int) -> None:
    slots = await validate(make_tracker(text, requested="timeline"))
    days = answer_value(slots, "timeline")["days"]
    assert lowest <= days <= highest
    assert slots["timeline"]["raw"] == text


@pytest.mark.parametrize("text", ["just browsing", "no plans yet, just looking"])
async def test_just_browsing_is_no_timeline(helper: Assistant, text: str) -> None:
    slots = await validate(make_tracker(text, requested="timeline"))
    assert answer_value(slots, "timeline") == {"days": None, "browsing": True}


BUDGET_CASES = [
    ("around 300 bucks", "300", "USD"),  # slang dollars
    ("€1.2k", "1200", "EUR"),
    ("between 200 and 400", "300", "EUR"),  # range: midpoint
    ("200-400€", "300", "EUR"),
    ("1,200 euros", "1200", "EUR"),
    ("£50", "50", "GBP"),
    ("$99.99", "99.99", "USD"),
    ("no more than 250", "250", "EUR"),  # shop currency by default
    ("under 100", "100", "EUR"),
    ("up to 1k", "1000", "EUR"),
    ("max 80", "80", "EUR"),
    ("500", "500", "EUR"),
    ("500 EUR", "500", "EUR"),
    ("five hundred", "500", "EUR"),
    ("300 quid", "300", "GBP"),
    ("CHF 200", "200", "CHF"),
    ("about 150 euros", "150", "EUR"),
    ("1.200,50 €", "1200.50", "EUR"),  # European separators
    ("my budget is 75€", "75", "EUR"),
    ("around 60 dollars", "60", "USD"),
    ("2k", "2000", "EUR"),
    ("100 to 150 euros", "125", "EUR"),
    ("roughly €45", "45", "EUR"),
    ("not more than 90 eur", "90", "EUR"),
    ("I can spend 120", "120", "EUR"),
    ("EUR 49.90", "49.90", "EUR"),
]


@pytest.mark.parametrize(("text", "amount", "currency"), BUDGET_CASES)
async def test_budget_answers(helper: Assistant, text: str, amount: str, currency: str) -> None:
    slots = await validate(make_tracker(text, requested="budget"))
    value = answer_value(slots, "budget")
    assert Decimal(str(value["amount"])) == Decimal(amount)
    assert value["currency"] == currency


def test_budget_range_keeps_bounds() -> None:
    from bot.answers import parse_budget

    parsed = parse_budget("between 200 and 400", default_currency="EUR")
    assert parsed is not None
    assert (parsed.value["min"], parsed.value["max"]) == (Decimal("200"), Decimal("400"))


LOCATION_CASES = [
    ("Lyon", "FR", "Lyon", True),
    ("lyon, france", "FR", "Lyon", True),
    ("I live in Berlin", "DE", "Berlin", True),
    ("ship to Munich please", "DE", "Munich", True),
    ("Germany", "DE", None, True),  # a country alone
    ("Paris", "FR", "Paris", True),  # not Paris, Texas
    ("London", "GB", "London", True),
    ("Madrid", "ES", "Madrid", True),
    ("Amsterdam", "NL", "Amsterdam", True),
    ("Brussels", "BE", "Brussels", True),
    ("New York", "US", "New York City", True),  # North America zone
    ("Sao Paulo", "BR", "São Paulo", False),  # no product ships to Brazil
    ("zip 75001 Paris", "FR", "Paris", True),
    ("Toronto", "CA", "Toronto", True),
    ("Tokyo", "JP", "Tokyo", False),
    ("Deutschland", "DE", None, True),  # local name
    ("75011", "FR", "Paris", True),  # a postcode alone: the shop's country
    ("SW1A 1AA", "GB", "London", True),
    ("10115 Berlin", "DE", "Berlin", True),
    ("M5V 2T6", "CA", "Toronto", True),
    ("Porto-Vecchio, Corsica", "FR", "Porto-Vecchio", True),  # not Porto, Portugal
    ("hmm actually the black one, same size", None, None, None),  # no town in Tanzania
]


@pytest.mark.parametrize(("text", "country", "region", "serviceable"), LOCATION_CASES)
async def test_location_answers(
    helper: Assistant,
    text: str,
    country: str | None,
    region: str | None,
    serviceable: bool | None,
) -> None:
    slots = await validate(make_tracker(text, requested="location"))
    if country is None:
        assert (slots.get("location") or {}).get("value") is None, slots.get("location")
        return
    value = answer_value(slots, "location")
    assert value["country"] == country
    assert (value["region"] or None) == region
    assert value["serviceable"] is serviceable


async def test_location_serviceable_depends_on_chosen_product(helper: Assistant) -> None:
    tent = {"raw": "2 person tent", "value": "tent-dome-2p", "status": "answered"}
    slots = await validate(make_tracker("Madrid", requested="location", slots={"variant": tent}))
    assert answer_value(slots, "location")["serviceable"] is False  # the tent ships to FR, DE, BE


@pytest.mark.parametrize(
    ("text", "area", "serviceable"),
    [
        ("Porto-Vecchio, Corsica", "Corsica", False),  # the tent does not go to Corsica
        ("20000 Ajaccio", "Corsica", False),
        ("Lyon", None, True),
    ],
)
async def test_location_area_rules_out_the_tent(
    helper: Assistant, text: str, area: str | None, serviceable: bool
) -> None:
    tent = {"raw": "2 person tent", "value": "tent-dome-2p", "status": "answered"}
    slots = await validate(make_tracker(text, requested="location", slots={"variant": tent}))
    value = answer_value(slots, "location")
    assert value["area"] == area
    assert value["serviceable"] is serviceable


VARIANT_CASES = [
    ("the blue hoodie in M", None, "hoodie-classic-blue-m"),
    ("blue hoodie medium", None, "hoodie-classic-blue-m"),
    ("hoodie M blue", None, "hoodie-classic-blue-m"),
    ("black hoodie size large", None, "hoodie-classic-black-l"),
    ("hoddie black XL", None, "hoodie-classic-black-xl"),  # typo
    ("the blue one in M", "hoodie-classic", "hoodie-classic-blue-m"),  # product page context
    ("size large, black", "hoodie-classic", "hoodie-classic-black-l"),
    ("30L backpack", None, "backpack-trail-30l-black"),
    ("the 2 person tent", None, "tent-dome-2p"),
    ("tent-dome-3p", None, "tent-dome-3p"),  # exact id (quick-reply payload)
    ("red rain jacket S", None, "jacket-rain-red-s"),
    ("white organic tee xs", None, "tee-organic-white-xs"),
    ("grey merino beanie", None, "beanie-merino-grey"),
    ("lavender candle", None, "candle-forest-lavender"),
    ("brown hiking boots 42", None, "boots-hiking-brown-42"),
    ("the blue mug", None, "mug-enamel-blue"),
]


@pytest.mark.parametrize(("text", "product_id", "variant_id"), VARIANT_CASES)
async def test_variant_answers(
    helper: Assistant, text: str, product_id: str | None, variant_id: str
) -> None:
    metadata = {"product_id": product_id} if product_id else {}
    slots = await validate(make_tracker(text, requested="variant", metadata=metadata))
    assert answer_value(slots, "variant") == variant_id


async def test_ambiguous_variant_offers_buttons(helper: Assistant) -> None:
    messages: list[dict[str, Any]] = []
    slots = await validate(make_tracker("the blue one", requested="variant"), messages)
    assert "variant" not in slots
    assert slots["requested_slot"] == "variant"
    choices = slots["question_state"]["choices"]["variant"]
    assert 2 <= len(choices) <= 5
    assert all(c["payload"].startswith(("hoodie", "jacket", "mug", "blanket")) for c in choices)
    assert [b["payload"] for b in messages[-1]["buttons"]] == [c["payload"] for c in choices]
    assert "Which one" in messages[-1]["text"]


async def test_one_message_fills_several_questions(helper: Assistant) -> None:
    slots = await validate(make_tracker("I need it in Berlin by Friday", requested="timeline"))
    assert answer_value(slots, "timeline")["days"] == 4
    assert answer_value(slots, "location")["country"] == "DE"
    assert "budget" not in slots and "variant" not in slots


async def test_correction_updates_an_earlier_answer(helper: Assistant) -> None:
    budget = {"raw": "300", "value": {"amount": 300, "currency": "EUR"}, "status": "answered"}
    tracker = make_tracker(
        "actually my budget is 500", requested="location", slots={"budget": budget}
    )
    slots = await validate(tracker)
    assert answer_value(slots, "budget")["amount"] == Decimal("500")
    lead = helper.recorder.repository.get_lead_by_session("session-1")
    assert lead is not None
    assert lead["answers"]["budget"]["value"]["amount"] == Decimal("500")
    types = [e["type"] for e in helper.recorder.repository.events(lead["id"])]
    assert "answer_updated" in types


@pytest.mark.parametrize("text", ["I don't know", "skip"])
async def test_skip_is_stored_as_unknown(helper: Assistant, text: str) -> None:
    slots = await validate(make_tracker(text, intent="dont_know", requested="budget"))
    assert slots["budget"]["status"] == "unknown" and slots["budget"]["value"] is None
    lead = helper.recorder.repository.get_lead_by_session("session-1")
    assert lead is not None
    assert lead["answers"]["budget"]["status"] == "unknown"


@pytest.mark.parametrize(
    "intent", ["ask_why", "stop", "human_handoff", "ask_shipping", "bot_challenge"]
)
async def test_interruptions_reject_the_form(helper: Assistant, intent: str) -> None:
    slots = await validate(make_tracker("why do you need that?", intent=intent, requested="budget"))
    assert set(slots) <= {"requested_slot"}  # no answer: the form rejects the message


async def test_no_thanks_to_consent_declines_without_opting_out(helper: Assistant) -> None:
    slots = await validate(make_tracker("no thanks", intent="stop", requested="contact_consent"))
    assert answer_value(slots, "contact_consent") is False


async def test_unparseable_answer_is_reasked_then_stored_unknown(helper: Assistant) -> None:
    budget_done = {"timeline", "variant", "location"}
    answered = {key: {"raw": "x", "value": "x", "status": "answered"} for key in budget_done}
    messages: list[dict[str, Any]] = []
    first = await validate(
        make_tracker("purple elephants", requested="budget", slots=answered), messages
    )
    assert "budget" not in first
    assert first["question_state"]["failures"] == {"budget": 1}
    assert first["requested_slot"] == "budget"
    assert messages[-1]["text"] == helper.flow.question("budget").reask  # type: ignore[union-attr]
    second = await validate(
        make_tracker(
            "still elephants",
            requested="budget",
            slots={"question_state": first["question_state"]},
            message_id="msg-2",
        )
    )
    assert second["budget"]["status"] == "unknown"


@pytest.mark.parametrize(
    "text",
    [
        "",  # empty
        "a" * 5001,  # huge
        "😀😀😀",  # emoji only
        "<script>alert(1)</script>",  # markup
        "<img src=x onerror=alert(1)> 300 euros",  # markup with a plausible answer
    ],
    ids=["empty", "huge", "emoji", "script", "img-tag"],
)
async def test_garbage_is_never_stored_as_an_answer(helper: Assistant, text: str) -> None:
    slots = await validate(make_tracker(text, requested="budget"))
    assert "budget" not in slots
    lead = helper.recorder.repository.get_lead_by_session("session-1")
    assert lead is None or lead["answers"] == {}


@pytest.mark.parametrize(
    ("consent", "next_key"),
    [
        (None, "contact_consent"),  # consent asked before any contact question
        (True, "contact_name"),
        (False, None),  # declined: nothing more to ask, the form completes
    ],
)
async def test_contact_questions_need_consent(
    helper: Assistant, consent: bool | None, next_key: str | None
) -> None:
    core = {
        k: {"raw": "x", "value": "x", "status": "answered"}
        for k in ("timeline", "variant", "location", "budget")
    }
    if consent is not None:
        core["contact_consent"] = {"raw": "x", "value": consent, "status": "answered"}
    slots = await validate(make_tracker("ok", intent="affirm", requested=None, slots=core))
    assert slots["requested_slot"] == next_key


async def test_asks_next_question_with_flow_buttons(helper: Assistant) -> None:
    messages: list[dict[str, Any]] = []
    slots = await validate(make_tracker("sometime next month", requested="timeline"), messages)
    assert slots["requested_slot"] == "variant"
    assert messages[-1]["text"] in helper.flow.question("variant").prompts  # type: ignore[union-attr]
    messages.clear()
    await validate(
        make_tracker(
            "Lyon",
            requested="location",
            slots={"timeline": slots["timeline"], "variant": {"value": "x"}},
        ),
        messages,
    )
    budget = helper.flow.question("budget")
    assert budget is not None
    assert [b["title"] for b in messages[-1]["buttons"]] == list(budget.buttons)


async def test_returning_from_an_interruption_asks_again_without_reading(helper: Assistant) -> None:
    tracker = make_tracker("why do you need that?", intent="ask_why", requested="budget")
    tracker.events.append({"event": "action", "name": "action_explain_question"})
    tracker.events.append({"event": "bot", "text": "It helps me suggest options."})
    tracker.events.append({"event": "action", "name": "qualification_form"})
    messages: list[dict[str, Any]] = []
    answered = {
        k: {"raw": "x", "value": "x", "status": "answered"}
        for k in ("timeline", "variant", "location")
    }
    tracker.slots.update(answered)
    slots = await validate(tracker, messages)
    # Nothing read: only the question (and the flow the conversation follows) is set.
    assert slots == {"requested_slot": "budget", "question_state": {"flow": "default"}}
    assert messages[-1]["text"] in helper.flow.question("budget").prompts  # type: ignore[union-attr]


async def test_contact_details_stored_after_consent(helper: Assistant) -> None:
    consent = {"raw": "yes", "value": True, "status": "answered"}
    location = {"raw": "Lyon", "value": {"country": "FR", "region": "Lyon", "serviceable": True}}
    slots = await validate(
        make_tracker(
            "call me on 06 12 34 56 78",
            requested="contact_details",
            slots={"contact_consent": consent, "location": location},
        )
    )
    assert answer_value(slots, "contact_details") == {"phone": "+33612345678"}
    lead = helper.recorder.repository.get_lead_by_session("session-1")
    assert lead is not None and lead["phone"] == "+33612345678"


async def test_unknown_variant_suggests_in_stock_items(helper: Assistant) -> None:
    messages: list[dict[str, Any]] = []
    slots = await validate(make_tracker("a velvet sofa", requested="variant"), messages)
    assert "variant" not in slots
    assert slots["question_state"]["failures"] == {"variant": 1}
    payloads = [b["payload"] for b in messages[-1]["buttons"]]
    assert 1 <= len(payloads) <= 5
    for variant_id in payloads:
        found = helper.catalog.variant(variant_id)
        assert found is not None and found[1].in_stock
    assert messages[-1]["text"] == helper.flow.question("variant").reask  # type: ignore[union-attr]


async def test_ambiguous_answers_are_not_failures(helper: Assistant) -> None:
    slots = await validate(make_tracker("tent", requested="variant"))
    assert slots["question_state"]["failures"] == {}
    assert {c["payload"] for c in slots["question_state"]["choices"]["variant"]} == {
        "tent-dome-2p",
        "tent-dome-3p",
    }


@pytest.mark.parametrize("text", ["I don't know", "not sure", "no idea", "dunno"])
async def test_dont_know_to_the_timeline_is_unknown_not_browsing(
    helper: Assistant, text: str
) -> None:
    slots = await validate(make_tracker(text, intent="dont_know", requested="timeline"))
    assert slots["timeline"]["status"] == "unknown"
