"""What the bot tells a shopper who asks for a person, and when it insists on contact details."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from bot.assistant import human_request_reply, should_skip_consent
from bot.handoff import HandoffNotice
from bot.leads import LeadState

AT = datetime(2026, 11, 23, 20, 0, tzinfo=timezone.utc)
AWAY = (
    "Our team is away right now. A specialist will email you first thing tomorrow at 9:00 "
    "(Paris time)."
)
EMAIL = {"value": {"email": "ada@example.com"}, "raw": "ada@example.com"}


def state(*, handoff: bool, stage: str = "warm", prompted: int = 0) -> LeadState:
    notice = (
        HandoffNotice(
            handoff_id="h1",
            trigger="human_requested",
            sla="immediate",
            team="sales",
            contact_by=AT,
            due_at=AT,
            promise=AWAY,
        )
        if handoff
        else None
    )
    return LeadState(
        lead_id="l1",
        session_id="s1",
        stage=stage,
        previous_stage=stage,
        score=10,
        counts={"prompted:contact_consent": prompted},
        handoff=notice,
    )


@pytest.mark.parametrize(
    ("answers", "lead", "expected"),
    [
        # Contact known: the promise from the SLA and business hours, word for word.
        (
            {"contact_details": EMAIL},
            state(handoff=True),
            f"I've passed your request to our sales team. {AWAY}",
        ),
        # Contact known but the write was spooled: no time is promised.
        (
            {"contact_details": EMAIL},
            None,
            "I've passed your request to our sales team. A specialist will contact you using "
            "the details you gave me.",
        ),
        # Declined to share contact details: where to reach sales instead.
        (
            {"contact_consent": {"value": False, "raw": "no"}},
            state(handoff=True),
            "I've passed your request to our sales team. As you'd rather not share contact "
            "details, you can reach them at any time from the Contact page.",
        ),
        # Nothing known yet: when they will hear back, and that a way to reach them is needed.
        (
            {},
            state(handoff=True),
            f"I've passed your request to our sales team. {AWAY} So a specialist can reach you, "
            "I'll just need a couple of answers and a way to contact you.",
        ),
    ],
)
def test_human_request_reply(
    answers: dict[str, Any], lead: LeadState | None, expected: str
) -> None:
    assert human_request_reply(answers, lead) == expected


@pytest.mark.parametrize(
    ("lead", "skip"),
    [
        # A cold lead already asked once is not asked again...
        (state(handoff=False, stage="cold", prompted=1), True),
        # ...unless sales were just asked to contact them.
        (state(handoff=True, stage="cold", prompted=1), False),
        # Never asked before: ask.
        (state(handoff=False, stage="cold", prompted=0), False),
        # Warm leads are always asked.
        (state(handoff=False, stage="warm", prompted=3), False),
    ],
)
def test_consent_is_asked_again_while_a_handoff_is_open(lead: LeadState, skip: bool) -> None:
    assert should_skip_consent(lead) is skip
