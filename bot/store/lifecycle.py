"""Lifecycle stages: Visitor → Lead → Qualified Lead → Opportunity → Customer."""

from __future__ import annotations

from typing import Any

from bot.store.models import LIFECYCLE_STAGES

# Statuses that move the lifecycle forward (Lost keeps where the lead had got to).
STATUS_LIFECYCLE = {
    "Qualified": "qualified_lead",
    "Proposal Sent": "opportunity",
    "Negotiation": "opportunity",
    "Won": "customer",
}


def furthest_lifecycle(*stages: str) -> str:
    """The furthest of ``stages`` along :data:`LIFECYCLE_STAGES`."""
    return max(stages, key=LIFECYCLE_STAGES.index)


def lifecycle_of(lead: Any) -> str:
    """Where the lead is now: what sales recorded, or further if its data says so.

    Contact details make a visitor a lead, a hot stage or the Qualified status a
    qualified lead, a proposal or negotiation an opportunity, Won a customer.
    """
    reached = [lead.lifecycle_stage or "visitor"]
    if lead.email or lead.phone:
        reached.append("lead")
    if lead.stage == "hot":
        reached.append("qualified_lead")
    if lead.status in STATUS_LIFECYCLE:
        reached.append(STATUS_LIFECYCLE[lead.status])
    if lead.converted_at is not None:
        reached.append("customer")
    return furthest_lifecycle(*reached)
