"""What was recorded about leads, read back to rebuild what the scorer knows.

A lead's facts summary is kept on its row and folded on every write; these
reads return the events and answers it is folded from, for when it has to be
rebuilt (a merge, a lead without facts) or judged as it stood at an earlier
moment (the scoring review). Rows carry the fields of the stored event
(``type``, ``ts``, ``product_id``, ``variant_id``, ``properties``) or answer
(``key``, ``value``, ``status``, ``answered_at``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from bot.store.models import Answer, Lead, LeadEvent

_LEADS = Lead.__table__
_EVENTS = LeadEvent.__table__
_ANSWERS = Answer.__table__


def lead_history(connection: Connection, lead_id: str) -> tuple[list[Any], list[Any]]:
    """The lead's events and its current answers (superseded ones left out)."""
    events = connection.execute(
        select(
            _EVENTS.c.type,
            _EVENTS.c.ts,
            _EVENTS.c.product_id,
            _EVENTS.c.variant_id,
            _EVENTS.c.properties,
        ).where(_EVENTS.c.lead_id == lead_id)
    ).all()
    answers = connection.execute(
        select(_ANSWERS.c.key, _ANSWERS.c.value, _ANSWERS.c.status, _ANSWERS.c.answered_at).where(
            _ANSWERS.c.lead_id == lead_id, _ANSWERS.c.superseded_at.is_(None)
        )
    ).all()
    return list(events), list(answers)


def history_before(
    connection: Connection, moments: Mapping[str, datetime]
) -> dict[str, tuple[list[Any], list[Any]]]:
    """Each lead's events and answers recorded before its moment in ``moments``.

    Superseded answers too: what the shopper had said by then is what counts.
    """
    history: dict[str, tuple[list[Any], list[Any]]] = {lead_id: ([], []) for lead_id in moments}
    if not history:
        return history
    event_rows = connection.execute(
        select(
            _EVENTS.c.lead_id,
            _EVENTS.c.type,
            _EVENTS.c.ts,
            _EVENTS.c.product_id,
            _EVENTS.c.variant_id,
            _EVENTS.c.properties,
        ).where(_EVENTS.c.lead_id.in_(list(history)))
    )
    for row in event_rows:
        if row.ts < moments[row.lead_id]:
            history[row.lead_id][0].append(row)
    answer_rows = connection.execute(
        select(
            _ANSWERS.c.lead_id,
            _ANSWERS.c.key,
            _ANSWERS.c.value,
            _ANSWERS.c.status,
            _ANSWERS.c.answered_at,
        ).where(_ANSWERS.c.lead_id.in_(list(history)))
    )
    for row in answer_rows:
        if row.answered_at < moments[row.lead_id]:
            history[row.lead_id][1].append(row)
    return history


def first_purchases(connection: Connection, lead_ids: Sequence[str]) -> dict[str, datetime]:
    """When each of ``lead_ids`` that bought first bought (its first ``purchase`` event)."""
    rows = connection.execute(
        select(_EVENTS.c.lead_id, func.min(_EVENTS.c.ts).label("first"))
        .where(_EVENTS.c.lead_id.in_(list(lead_ids)), _EVENTS.c.type == "purchase")
        .group_by(_EVENTS.c.lead_id)
    )
    return {row.lead_id: row.first for row in rows}


def surviving_leads(connection: Connection, after_id: str, limit: int) -> list[Any]:
    """The next ``limit`` unmerged leads after ``after_id``: ``id``, ``status``, ``score_facts``."""
    return list(
        connection.execute(
            select(_LEADS.c.id, _LEADS.c.status, _LEADS.c.score_facts)
            .where(_LEADS.c.merged_into.is_(None), _LEADS.c.id > after_id)
            .order_by(_LEADS.c.id)
            .limit(limit)
        ).all()
    )
