"""JSON views of leads, answers and events (shared by the API, lead pages and notifications)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.store.lifecycle import lifecycle_of
from bot.store.models import Answer, Lead, LeadEvent
from bot.store.types import restore_decimals


def answer_view(answer: Answer) -> dict[str, Any]:
    """One answer as JSON-ready data (money as Decimal)."""
    return {
        "raw": answer.raw,
        "value": restore_decimals(answer.value),
        "status": answer.status,
        "answered_at": answer.answered_at.isoformat(),
    }


def event_view(event: LeadEvent) -> dict[str, Any]:
    """One event as JSON-ready data."""
    return {
        "event_id": event.event_id,
        "type": event.type,
        "source": event.source,
        "ts": event.ts.isoformat(),
        "product_id": event.product_id,
        "variant_id": event.variant_id,
        "value": event.value,
        "properties": event.properties,
    }


def lead_view(
    lead: Lead, answers: list[Answer], *, duplicates: list[dict[str, Any]]
) -> dict[str, Any]:
    """The public lead JSON (see ARCHITECTURE.md, "Leads").

    ``duplicates`` are the lead's likely duplicates, as
    :func:`bot.store.duplicates.duplicate_links` finds them.
    """
    return {
        "id": lead.id,
        "session_id": lead.session_id,
        "first_name": lead.first_name,
        "last_name": lead.last_name,
        "email": lead.email,
        "phone": lead.phone,
        "company": lead.company,
        "position": lead.position,
        "address": lead.address,
        "source": lead.source,
        "status": lead.status,
        "stage": lead.stage,
        "score": lead.score,
        "intent_score": lead.intent_score,
        "fit_score": lead.fit_score,
        "reasons": lead.reasons or [],
        "answers": {answer.key: answer_view(answer) for answer in answers},
        "consent": {
            "given_at": lead.consent_at.isoformat() if lead.consent_at else None,
            "text": lead.consent_text,
        },
        "opted_out_at": lead.opted_out_at.isoformat() if lead.opted_out_at else None,
        "human_requested_at": (
            lead.human_requested_at.isoformat() if lead.human_requested_at else None
        ),
        "lifecycle": lifecycle_of(lead),
        "customer_group": lead.customer_group,
        "converted_at": lead.converted_at.isoformat() if lead.converted_at else None,
        "possible_duplicates": duplicates,
        "created_at": lead.created_at.isoformat(),
        "updated_at": lead.updated_at.isoformat(),
    }


def iso(value: Any) -> Any:
    """``value``, as ISO 8601 text if it is a datetime."""
    return value.isoformat() if isinstance(value, datetime) else value


def row_view(row: Any) -> dict[str, Any]:
    """Every column of ``row``, datetimes as ISO 8601 text."""
    return {name: iso(value) for name, value in row._mapping.items()}
