"""Outcome counts for the attribution report, grouped by the database.

Every function takes a half-open range ``[since, until)`` and returns plain rows
of counts and sums; the statistics (rates, lift, intervals) are computed above
the store, in :mod:`bot.leads.outcomes_report`. Each is one statement with its
GROUP BY in SQL (no per-lead rows reach Python), and the same statements run on
SQLite and PostgreSQL. A lead merged into another one is left out: its orders,
status and revenue belong to the survivor.

- :func:`play_counts`: follow-ups due in the range per play and status group:
  ``sent`` (queued in the outbox), ``stopped`` (a stop rule held the message back,
  e.g. the shopper bought first), ``planned`` (not released yet, e.g. postponed by
  the frequency cap) and ``held_out``, with clicks, conversions since the lead was
  assigned to the play (an order at or after ``signal_at``, or Won with
  ``converted_at`` at or after it) and the revenue of those orders (shop currency).
  ``signal_at`` is when the play's conditions held and the lead fell into its arm;
  no later step (sending, stopping, postponing) moves it, so both arms are measured
  over the same window.
- :func:`arm_counts`: leads created in the range per A/B test and arm (the arm of
  the lead's first ``question_asked`` event naming that test), with Won and revenue.
- :func:`answer_counts`: leads created in the range per current answer bucket
  (budget, variant and timeline pivoted in one pass by :func:`current_answers`),
  the buckets given as SQL expressions by the caller.
- :func:`rep_counts`: handoffs opened in the range per rep (the assigned rep,
  else who acknowledged), with SLAs met/missed/pending, the median seconds from
  handoff to acknowledgement and the handed-off leads that are Won.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Float, String, and_, case, cast, exists, func, literal, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from bot.store.models import Answer, Followup, Handoff, Lead, LeadEvent, Order

WON = "Won"
# A follow-up's status → its group in the report. Every group but held_out is the
# play's treatment arm: the lead was assigned to get the message.
PLAY_GROUPS = {"queued": "sent", "stopped": "stopped", "planned": "planned", "held_out": "held_out"}

_LEADS = Lead.__table__
_FOLLOWUPS = Followup.__table__
_ORDERS = Order.__table__
_EVENTS = LeadEvent.__table__
_ANSWERS = Answer.__table__
_HANDOFFS = Handoff.__table__


@dataclass(frozen=True)
class GroupCounts:
    """Leads of one group: how many, how many converted, clicked, and their revenue."""

    leads: int
    converted: int
    revenue: Decimal
    clicked: int = 0


def _decimal(value: Any) -> Decimal:
    """A SUM of money as an exact-to-the-cent Decimal (SQLite sums decimal text as floats)."""
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))


def _flag(condition: ColumnElement[Any]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _live_lead() -> ColumnElement[Any]:
    return _LEADS.c.merged_into.is_(None)


def play_counts(
    connection: Connection, since: datetime, until: datetime
) -> dict[str, dict[str, GroupCounts]]:
    """``{play: {group: counts}}`` of the follow-ups due in the range (:data:`PLAY_GROUPS`)."""
    since_assigned = and_(
        _ORDERS.c.lead_id == _FOLLOWUPS.c.lead_id, _ORDERS.c.ordered_at >= _FOLLOWUPS.c.signal_at
    )
    revenue = (
        select(func.coalesce(func.sum(_ORDERS.c.shop_value), 0))
        .where(since_assigned)
        .scalar_subquery()
    )
    converted = or_(
        exists().where(since_assigned),
        and_(_LEADS.c.status == WON, _LEADS.c.converted_at >= _FOLLOWUPS.c.signal_at),
    )
    per_followup = (
        select(
            _FOLLOWUPS.c.play.label("play"),
            _FOLLOWUPS.c.status.label("status"),
            case((_FOLLOWUPS.c.clicked_at.is_not(None), 1), else_=0).label("clicked"),
            case((converted, 1), else_=0).label("converted"),
            cast(revenue, Float).label("revenue"),
        )
        .select_from(_FOLLOWUPS.join(_LEADS, _LEADS.c.id == _FOLLOWUPS.c.lead_id))
        .where(
            _FOLLOWUPS.c.status.in_(tuple(PLAY_GROUPS)),
            _FOLLOWUPS.c.due_at >= since,
            _FOLLOWUPS.c.due_at < until,
            _live_lead(),
        )
        .subquery()
    )
    rows = connection.execute(
        select(
            per_followup.c.play,
            per_followup.c.status,
            func.count().label("leads"),
            func.sum(per_followup.c.clicked).label("clicked"),
            func.sum(per_followup.c.converted).label("converted"),
            func.sum(per_followup.c.revenue).label("revenue"),
        ).group_by(per_followup.c.play, per_followup.c.status)
    )
    result: dict[str, dict[str, GroupCounts]] = {}
    for row in rows:
        result.setdefault(row.play, {})[PLAY_GROUPS[row.status]] = GroupCounts(
            leads=int(row.leads),
            converted=int(row.converted or 0),
            revenue=_decimal(row.revenue),
            clicked=int(row.clicked or 0),
        )
    return result


def _json_text(connection: Connection, column: Any, key: str) -> Any:
    """The text at ``key`` of a JSON column (``None`` where missing)."""
    if connection.dialect.name == "postgresql":
        return column.op("->>")(literal(key, String))
    return cast(func.json_extract(column, f"$.{key}"), String)


def _lead_outcome_columns() -> list[Any]:
    return [
        func.count().label("leads"),
        _flag(_LEADS.c.status == WON).label("converted"),
        cast(func.coalesce(func.sum(_LEADS.c.revenue), 0), Float).label("revenue"),
    ]


def arm_counts(
    connection: Connection, since: datetime, until: datetime
) -> dict[tuple[str, str], GroupCounts]:
    """``{(test, arm): counts}`` of the leads created in the range that were in an A/B test."""
    test = _json_text(connection, _EVENTS.c.properties, "ab_test")
    arm = _json_text(connection, _EVENTS.c.properties, "arm")
    first = (
        select(
            _EVENTS.c.lead_id.label("lead_id"),
            test.label("test"),
            arm.label("arm"),
            func.row_number()
            .over(partition_by=(_EVENTS.c.lead_id, test), order_by=(_EVENTS.c.ts, _EVENTS.c.id))
            .label("position"),
        )
        .where(_EVENTS.c.type == "question_asked", test.is_not(None), arm.is_not(None))
        .subquery()
    )
    rows = connection.execute(
        select(first.c.test, first.c.arm, *_lead_outcome_columns())
        .select_from(first.join(_LEADS, _LEADS.c.id == first.c.lead_id))
        .where(
            first.c.position == 1,
            _LEADS.c.created_at >= since,
            _LEADS.c.created_at < until,
            _live_lead(),
        )
        .group_by(first.c.test, first.c.arm)
    )
    return {
        (row.test, row.arm): GroupCounts(
            leads=int(row.leads), converted=int(row.converted), revenue=_decimal(row.revenue)
        )
        for row in rows
    }


def _json_value_text(connection: Connection, column: Any) -> Any:
    """The text of a JSON scalar (a JSON string without its quotes)."""
    if connection.dialect.name == "postgresql":
        return column.op("#>>")(literal("{}", String))
    return cast(func.json_extract(column, "$"), String)


@dataclass(frozen=True)
class CurrentAnswers:
    """The columns of :func:`current_answers`: one row per lead with a current answer."""

    lead_id: Any
    budget_amount: Any
    budget_currency: Any
    variant: Any
    timeline_days: Any


def current_answers(connection: Connection) -> CurrentAnswers:
    """Each lead's current budget, variant and timeline, pivoted in one grouped pass.

    A new answer to a key supersedes the earlier one, so each key has at most one
    current (answered, not superseded) row per lead.
    """
    key = _ANSWERS.c.key

    def pick(name: str, value: Any) -> Any:
        return func.max(case((key == name, value)))

    pivot = (
        select(
            _ANSWERS.c.lead_id.label("lead_id"),
            pick("budget", cast(_json_text(connection, _ANSWERS.c.value, "amount"), Float)).label(
                "budget_amount"
            ),
            pick("budget", _json_text(connection, _ANSWERS.c.value, "currency")).label(
                "budget_currency"
            ),
            pick("variant", _json_value_text(connection, _ANSWERS.c.value)).label("variant"),
            pick("timeline", cast(_json_text(connection, _ANSWERS.c.value, "days"), Float)).label(
                "timeline_days"
            ),
        )
        .where(
            key.in_(("budget", "variant", "timeline")),
            _ANSWERS.c.status == "answered",
            _ANSWERS.c.superseded_at.is_(None),
        )
        .group_by(_ANSWERS.c.lead_id)
        .subquery()
    )
    return CurrentAnswers(
        lead_id=pivot.c.lead_id,
        budget_amount=pivot.c.budget_amount,
        budget_currency=pivot.c.budget_currency,
        variant=pivot.c.variant,
        timeline_days=pivot.c.timeline_days,
    )


def answer_counts(
    connection: Connection, since: datetime, until: datetime, buckets: dict[str, Any]
) -> dict[str, dict[str, GroupCounts]]:
    """``{name: {bucket: counts}}`` of the leads created in the range.

    ``buckets`` maps a name to a function of :class:`CurrentAnswers` giving the
    SQL bucket label (a lead's answers are NULL where it gave none). One statement
    groups by every bucket at once; each name's counts add up its few combinations.
    """
    answers = current_answers(connection)
    names = list(buckets)
    labels = [buckets[name](answers).label(f"bucket_{index}") for index, name in enumerate(names)]
    rows = connection.execute(
        select(*labels, *_lead_outcome_columns())
        .select_from(_LEADS.outerjoin(answers.lead_id.table, answers.lead_id == _LEADS.c.id))
        .where(_LEADS.c.created_at >= since, _LEADS.c.created_at < until, _live_lead())
        .group_by(*labels)
    ).all()
    result: dict[str, dict[str, GroupCounts]] = {name: {} for name in names}
    for row in rows:
        counts = GroupCounts(
            leads=int(row.leads), converted=int(row.converted), revenue=_decimal(row.revenue)
        )
        for index, name in enumerate(names):
            label = row[index]
            seen = result[name].get(label)
            result[name][label] = (
                counts
                if seen is None
                else GroupCounts(
                    leads=seen.leads + counts.leads,
                    converted=seen.converted + counts.converted,
                    revenue=seen.revenue + counts.revenue,
                )
            )
    return result


def seconds_between(connection: Connection, start: Any, end: Any) -> Any:
    """``end - start`` in seconds, as SQL."""
    if connection.dialect.name == "postgresql":
        return func.extract("epoch", end - start)
    return (func.julianday(end) - func.julianday(start)) * 86400.0


@dataclass(frozen=True)
class RepCounts:
    """One rep's handoffs in the range."""

    rep: str
    handoffs: int
    acknowledged: int
    met: int
    missed: int
    pending: int
    median_seconds: float | None
    leads: int
    won: int


def rep_counts(
    connection: Connection, since: datetime, until: datetime, now: datetime
) -> list[RepCounts]:
    """Per rep, the handoffs opened in the range (reps by name; unassigned ones left out)."""
    rep = func.coalesce(_HANDOFFS.c.assigned_to, _HANDOFFS.c.acknowledged_by)
    acknowledged = _HANDOFFS.c.acknowledged_at
    in_range = and_(
        _HANDOFFS.c.created_at >= since, _HANDOFFS.c.created_at < until, rep.is_not(None)
    )
    met = and_(acknowledged.is_not(None), acknowledged <= _HANDOFFS.c.due_at)
    pending = and_(acknowledged.is_(None), _HANDOFFS.c.due_at > now)
    totals = connection.execute(
        select(
            rep.label("rep"),
            func.count().label("handoffs"),
            _flag(acknowledged.is_not(None)).label("acknowledged"),
            _flag(met).label("met"),
            _flag(pending).label("pending"),
            func.count(func.distinct(_HANDOFFS.c.lead_id)).label("leads"),
            func.count(func.distinct(case((_LEADS.c.status == WON, _HANDOFFS.c.lead_id)))).label(
                "won"
            ),
        )
        .select_from(_HANDOFFS.join(_LEADS, _LEADS.c.id == _HANDOFFS.c.lead_id))
        .where(in_range)
        .group_by(rep)
    ).all()
    seconds = cast(seconds_between(connection, _HANDOFFS.c.created_at, acknowledged), Float)
    ranked = (
        select(
            rep.label("rep"),
            seconds.label("seconds"),
            func.row_number().over(partition_by=rep, order_by=seconds).label("position"),
            func.count().over(partition_by=rep).label("total"),
        )
        .where(in_range, acknowledged.is_not(None))
        .subquery()
    )
    # Integer division picks the one middle row of an odd count, the two of an even one.
    middle = or_(
        ranked.c.position == (ranked.c.total + 1) / 2,
        ranked.c.position == (ranked.c.total + 2) / 2,
    )
    medians = {
        row.rep: float(row.median)
        for row in connection.execute(
            select(ranked.c.rep, func.avg(ranked.c.seconds).label("median"))
            .where(middle)
            .group_by(ranked.c.rep)
        )
    }
    result = []
    for row in totals:
        handoffs, met_count, pending_count = int(row.handoffs), int(row.met), int(row.pending)
        result.append(
            RepCounts(
                rep=row.rep,
                handoffs=handoffs,
                acknowledged=int(row.acknowledged),
                met=met_count,
                missed=handoffs - met_count - pending_count,
                pending=pending_count,
                median_seconds=medians.get(row.rep),
                leads=int(row.leads),
                won=int(row.won),
            )
        )
    return sorted(result, key=lambda counts: counts.rep)
