"""Storefront events and chat join on one session id: one lead, one score, one stage."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.assistant import HUMAN_OFFER
from bot.devstack import DevStack
from tests.e2e.conftest import Chat

pytestmark = pytest.mark.e2e


def journey(session: str, *kinds: str) -> list[dict[str, str]]:
    start = datetime.now(timezone.utc) - timedelta(minutes=len(kinds))
    return [
        {
            "event_id": f"{session}-{index}",
            "session_id": session,
            "type": kind,
            "ts": (start + timedelta(minutes=index)).isoformat(),
            "product_id": "hoodie-classic",
            "variant_id": "hoodie-classic-blue-m",
        }
        for index, kind in enumerate(kinds)
    ]


def test_storefront_journey_and_chat_score_one_lead(chat: Chat, stack: DevStack) -> None:
    browsing = stack.post_events(journey(chat.sender, "product_view", "variant_select"))
    assert browsing.status_code == 202, browsing.text
    assert browsing.json() == {"accepted": 2, "duplicates": 0}

    replies = chat.say("hi, I'd like the blue hoodie in M, I'm in Lyon")
    assert HUMAN_OFFER not in replies, chat
    lead = chat.lead()
    assert lead["source"] == "storefront"
    assert lead["answers"]["variant"]["value"] == "hoodie-classic-blue-m", chat
    assert lead["stage"] != "hot"

    buying = stack.post_events(
        journey(chat.sender, "product_view", "variant_select", "add_to_cart", "checkout_start")
    )
    # The first two are the same events again (a retry): never counted twice.
    assert buying.json() == {"accepted": 2, "duplicates": 2}

    lead = chat.lead()
    assert lead["stage"] == "hot", lead["reasons"]
    rules = {reason["rule"] for reason in lead["reasons"]}
    assert {"intent.checkout_start", "intent.add_to_cart", "fit.variant", "fit.location"} <= rules
    assert sum(reason["points"] for reason in lead["reasons"]) == lead["score"]

    replies = chat.say("next week")
    assert HUMAN_OFFER in replies, chat
    replies = chat.say("about 100 euros")
    assert HUMAN_OFFER not in replies, chat

    score = stack.api_get(f"/api/v2/leads/{lead['id']}/score")
    assert [(t["from"], t["to"]) for t in score["stage_transitions"]][-1][1] == "hot"
    events = stack.api_get(f"/api/v2/leads/{lead['id']}/events")
    kinds = [item["type"] for item in events["items"]]
    assert kinds.count("checkout_start") == 1
    assert "stage_changed" in kinds and "human_offered" in kinds
