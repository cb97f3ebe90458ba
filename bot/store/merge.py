"""Moving everything recorded on one lead onto another: the rows of a confirmed merge.

Only a person decides that two leads are one person (see
:mod:`bot.store.duplicates` for the links the chat and forms leave instead);
the lead service then calls :func:`merge_into` in its transaction and rescores
the survivor.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from bot.store.duplicates import move_links
from bot.store.models import (
    Answer,
    Followup,
    Handoff,
    HandoffTimer,
    HandoffTrigger,
    Lead,
    LeadEvent,
    LeadMerge,
    LeadNote,
    LeadStatusChange,
    Order,
    ScoreSnapshot,
    StageTransition,
)
from bot.store.orders import owners

# Why two leads were merged: only a person decides that.
MERGE_REASON = "same person, confirmed"
# Why a follow-up of the absorbed lead was not sent (the release step says the same).
MERGED_STOP_REASON = "merged into another lead"
# Contact and consent columns the survivor takes from the absorbed lead when it has none.
FILLED_COLUMNS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "company",
    "position",
    "address",
    "consent_at",
    "consent_text",
    "opted_out_at",
    "human_requested_at",
    "chatted_at",
)


def merge_into(
    connection: Connection, survivor: str, lead_id: str, *, by: str, now: datetime
) -> None:
    """Move lead ``lead_id``'s rows onto ``survivor`` (both surviving, locked by the caller).

    Answers, events, snapshots, stage history, handoffs, notes, status
    changes, orders and follow-ups move to the survivor (see
    :func:`_move_followups` for a play both leads had); the latest answer to
    each question is the current one; contact fields are only added where the
    survivor has none, never replaced; ``converted_at`` becomes the earlier one.
    The absorbed lead keeps its row, pointing at the survivor, without revenue.
    The caller recomputes the survivor's revenue.
    """
    leads = Lead.__table__
    absorbed = connection.execute(select(leads).where(leads.c.id == lead_id)).one()
    kept = connection.execute(select(leads).where(leads.c.id == survivor)).one()
    for table in (
        Answer.__table__,
        LeadEvent.__table__,
        ScoreSnapshot.__table__,
        StageTransition.__table__,
        Handoff.__table__,
        LeadNote.__table__,
        LeadStatusChange.__table__,
    ):
        connection.execute(update(table).where(table.c.lead_id == lead_id).values(lead_id=survivor))
    # A trigger fires once per person: the survivor's firing (and timer) wins.
    for table in (HandoffTrigger.__table__, HandoffTimer.__table__):
        kept_triggers = select(table.c.trigger).where(table.c.lead_id == survivor)
        connection.execute(
            delete(table).where(table.c.lead_id == lead_id, table.c.trigger.in_(kept_triggers))
        )
        connection.execute(update(table).where(table.c.lead_id == lead_id).values(lead_id=survivor))
    # Orders of leads merged into the absorbed one before it move too.
    orders = Order.__table__
    connection.execute(
        update(orders)
        .where(orders.c.lead_id.in_(owners(connection, lead_id)))
        .values(lead_id=survivor)
    )
    _move_followups(connection, survivor, lead_id, now)
    _supersede_older_duplicates(connection, survivor)
    fill = {
        name: absorbed._mapping[name]
        for name in FILLED_COLUMNS
        if kept._mapping[name] is None and absorbed._mapping[name] is not None
    }
    # The person became a customer at the first order either lead made.
    bought = [at for at in (kept.converted_at, absorbed.converted_at) if at is not None]
    if bought:
        fill["converted_at"] = min(bought)
    connection.execute(update(leads).where(leads.c.id == survivor).values(**fill, updated_at=now))
    # Chains stay one hop: leads merged into the absorbed lead now point at the survivor.
    connection.execute(
        update(leads).where(leads.c.merged_into == lead_id).values(merged_into=survivor)
    )
    connection.execute(
        update(leads)
        .where(leads.c.id == lead_id)
        .values(
            merged_into=survivor,
            decaying=False,
            email=None,
            score=0,
            intent_score=0,
            fit_score=0,
            stage="cold",
            reasons=[],
            score_facts=None,
            revenue=None,
            revenue_currency=None,
            updated_at=now,
        )
    )
    move_links(connection, lead_id, survivor)
    connection.execute(
        insert(LeadMerge.__table__).values(
            survivor_id=survivor,
            absorbed_id=lead_id,
            absorbed_session_id=absorbed.session_id,
            reason=MERGE_REASON,
            merged_at=now,
            merged_by=by,
        )
    )
    connection.execute(
        insert(LeadEvent.__table__).values(
            event_id=f"merge:{lead_id}",
            lead_id=survivor,
            type="lead_merged",
            source="system",
            ts=now,
            properties={"absorbed_id": lead_id, "reason": MERGE_REASON, "by": by},
            created_at=now,
        )
    )


def _move_followups(connection: Connection, survivor: str, lead_id: str, now: datetime) -> None:
    """Move the absorbed lead's follow-ups (sent, held out, stopped, planned) to the survivor.

    A person gets each play once, so for a play both leads had the survivor's row
    stands, unless it is still planned and the absorbed lead's is not: a decision
    made for the person (a message sent, held out as control, stopped) wins over
    a plan, whose row goes. The row that does not stand stays on the absorbed
    lead for the record (merged leads are left out of the outcome report), a
    planned one stopped.
    """
    followups = Followup.__table__
    kept = {
        row.play: row
        for row in connection.execute(
            select(followups.c.id, followups.c.play, followups.c.status).where(
                followups.c.lead_id == survivor
            )
        )
    }
    theirs = connection.execute(
        select(followups.c.id, followups.c.play, followups.c.status).where(
            followups.c.lead_id == lead_id
        )
    ).all()
    moved, stopped = [], []
    for row in theirs:
        mine = kept.get(row.play)
        if mine is not None and (mine.status != "planned" or row.status == "planned"):
            if row.status == "planned":
                stopped.append(row.id)
            continue
        if mine is not None and not _drop_plan(connection, mine.id):
            continue
        moved.append(row.id)
    if moved:
        connection.execute(
            update(followups).where(followups.c.id.in_(moved)).values(lead_id=survivor)
        )
    if stopped:
        connection.execute(
            update(followups)
            .where(followups.c.id.in_(stopped), followups.c.status == "planned")
            .values(status="stopped", stopped_at=now, stop_reason=MERGED_STOP_REASON)
        )


def _drop_plan(connection: Connection, followup_id: str) -> bool:
    """Delete the follow-up if it is still planned; whether it was.

    The outbox worker may have queued it meanwhile (it locks the row, not the
    lead): a sent message is kept.
    """
    followups = Followup.__table__
    deleted = connection.execute(
        delete(followups).where(followups.c.id == followup_id, followups.c.status == "planned")
    )
    return bool(deleted.rowcount == 1)


def _supersede_older_duplicates(connection: Connection, lead_id: str) -> None:
    """After a merge, keep only the latest current answer per question."""
    answers = Answer.__table__
    rows = connection.execute(
        select(answers.c.id, answers.c.key, answers.c.answered_at)
        .where(answers.c.lead_id == lead_id, answers.c.superseded_at.is_(None))
        .order_by(answers.c.answered_at.desc(), answers.c.id.desc())
    ).all()
    latest: dict[str, datetime] = {}
    for row in rows:
        if row.key in latest:
            connection.execute(
                update(answers).where(answers.c.id == row.id).values(superseded_at=latest[row.key])
            )
        else:
            latest[row.key] = row.answered_at
