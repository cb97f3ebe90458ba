"""The sales dashboard's numbers, aggregated by the database over a range of days.

Every chart counts the leads created in the range (``[start, end)``, UTC), except
the handoff charts, which count the handoffs opened in it. A lead merged into
another one owns nothing any more and is left out; handoffs stay on the row they
were opened for and all count.

- **Funnel**: chats (every lead: each starts as a chat or storefront session) →
  qualified (a lifecycle of qualified lead or further, as
  :func:`bot.store.lifecycle.lifecycle_of` reads it: hot, a status of Qualified
  or beyond, or sales said so) → handed off (at least one handoff) → won
  (status Won, or a conversion recorded).
- **Leads by stage over time**: new leads per day or week, by their current stage.
- **Handoffs by SLA**: met means acknowledged no later than the due time; missed,
  acknowledged late or still unacknowledged past it; pending, not due yet (left
  out of the share met).
- **Time to acknowledge per rep**: the median from the handoff to its
  acknowledgement, by who acknowledged it.
- **Conversion** by current stage and by score band; **top reasons** of the hot
  leads: the scoring rule ranked first (most points) on each.

Each query groups in SQL and returns a few rows: the leads of the range are read
once, grouped by day, stage and score band, and the charts built on them add those
rows up (weeks from days, rates from counts). The same statements run on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Date, Float, and_, case, cast, func, literal, or_, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.elements import ColumnElement

from bot.store.lifecycle import STATUS_LIFECYCLE
from bot.store.models import LEAD_STAGES, LIFECYCLE_STAGES, Handoff, Lead

BUCKETS = ("day", "week")
FUNNEL_STEPS = ("chats", "qualified", "handed_off", "won")
# Score bands of the conversion chart: (label, lowest score), highest band first matched.
SCORE_BANDS = (("0-19", 0), ("20-39", 20), ("40-59", 40), ("60-79", 60), ("80-100", 80))
TOP_REASONS = 10

_LEADS = Lead.__table__
_HANDOFFS = Handoff.__table__
_QUALIFIED_LIFECYCLES = LIFECYCLE_STAGES[LIFECYCLE_STAGES.index("qualified_lead") :]
_QUALIFIED_STATUSES = tuple(
    status for status, stage in STATUS_LIFECYCLE.items() if stage in _QUALIFIED_LIFECYCLES
)


@dataclass(frozen=True)
class Range:
    """The days a dashboard covers: ``start`` inclusive, ``end`` exclusive (UTC midnights)."""

    start: datetime
    end: datetime
    bucket: str = "day"

    @property
    def first_day(self) -> date:
        """The first day of the range."""
        return self.start.date()

    @property
    def last_day(self) -> date:
        """The last day of the range (inclusive)."""
        return (self.end - timedelta(days=1)).date()


def dashboard(engine: Engine, span: Range, *, now: datetime) -> dict[str, Any]:
    """Every chart of the dashboard over ``span``; ``now`` tells pending handoffs from missed."""
    with engine.connect() as connection:
        counts = _cohort_counts(connection, span)
        handed_off = _handed_off(connection, span)
        return {
            "from": span.first_day.isoformat(),
            "to": span.last_day.isoformat(),
            "bucket": span.bucket,
            "funnel": _funnel(counts, handed_off),
            "stages_over_time": _stages_over_time(counts, span.bucket),
            "handoffs_by_sla": _handoffs_by_sla(connection, span, now),
            "acknowledge_by_rep": _acknowledge_by_rep(connection, span),
            "conversion_by_stage": _conversion(counts, "stage", LEAD_STAGES),
            "conversion_by_band": _conversion(
                counts, "band", tuple(label for label, _ in SCORE_BANDS)
            ),
            "hot_reasons": _hot_reasons(connection, span),
        }


def _in_range(column: Any, span: Range) -> ColumnElement[Any]:
    return and_(column >= span.start, column < span.end)


def _cohort(span: Range) -> ColumnElement[Any]:
    return and_(_in_range(_LEADS.c.created_at, span), _LEADS.c.merged_into.is_(None))


def _flag(condition: ColumnElement[Any]) -> Any:
    return func.sum(case((condition, 1), else_=0))


def _won() -> ColumnElement[Any]:
    return or_(_LEADS.c.status == "Won", _LEADS.c.converted_at.is_not(None))


def _qualified() -> ColumnElement[Any]:
    return or_(
        _LEADS.c.stage == "hot",
        _LEADS.c.status.in_(_QUALIFIED_STATUSES),
        _LEADS.c.lifecycle_stage.in_(_QUALIFIED_LIFECYCLES),
        _LEADS.c.converted_at.is_not(None),
    )


def _band() -> Any:
    score = _LEADS.c.score
    return case(
        *[(score >= lowest, literal(label)) for label, lowest in reversed(SCORE_BANDS[1:])],
        else_=literal(SCORE_BANDS[0][0]),
    )


def _day(connection: Connection, column: Any) -> Any:
    """The UTC day of ``column`` (SQLite stores ``YYYY-MM-DD HH:MM:SS…`` in UTC)."""
    if connection.dialect.name == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.substr(column, 1, 10)


def _cohort_counts(connection: Connection, span: Range) -> list[dict[str, Any]]:
    """Leads, qualified and won by (day, stage, score band): one pass over the range's leads.

    The funnel, the leads by stage over time and both conversion charts add these
    few thousand rows up at most (366 days x 3 stages x 5 bands).
    """
    day = _day(connection, _LEADS.c.created_at).label("day")
    band = _band().label("band")
    rows = connection.execute(
        select(
            day,
            _LEADS.c.stage,
            band,
            func.count().label("leads"),
            _flag(_qualified()).label("qualified"),
            _flag(_won()).label("won"),
        )
        .where(_cohort(span))
        .group_by(day, _LEADS.c.stage, band)
    )
    return [dict(row._mapping) for row in rows]


def _handed_off(connection: Connection, span: Range) -> int:
    """Leads of the range that were handed to sales at least once."""
    # The few leads handed off, each looked up once: far fewer than the range's leads.
    # A handoff comes after its lead was created, so none before the range counts.
    handed = (
        select(_HANDOFFS.c.lead_id)
        .where(_HANDOFFS.c.created_at >= span.start)
        .distinct()
        .subquery()
    )
    count = connection.execute(
        select(func.count())
        .select_from(handed.join(_LEADS, _LEADS.c.id == handed.c.lead_id))
        .where(_cohort(span))
    ).scalar_one()
    return int(count)


def _funnel(counts: Sequence[dict[str, Any]], handed_off: int) -> list[dict[str, Any]]:
    steps = {
        "chats": sum(int(row["leads"]) for row in counts),
        "qualified": sum(int(row["qualified"]) for row in counts),
        "handed_off": handed_off,
        "won": sum(int(row["won"]) for row in counts),
    }
    return [{"step": step, "count": steps[step]} for step in FUNNEL_STEPS]


def _conversion(
    counts: Sequence[dict[str, Any]], key: str, order: Sequence[str]
) -> list[dict[str, Any]]:
    totals = {name: [0, 0] for name in order}
    for row in counts:
        total = totals.setdefault(row[key], [0, 0])
        total[0] += int(row["leads"])
        total[1] += int(row["won"])
    return [
        {key: name, "leads": leads, "won": won, "rate": _share(won, leads)}
        for name, (leads, won) in totals.items()
    ]


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _stages_over_time(counts: Sequence[dict[str, Any]], bucket: str) -> list[dict[str, Any]]:
    """New leads by stage per day, or per week (starting on Monday)."""
    periods: dict[str, dict[str, Any]] = {}
    for row in counts:
        day = date.fromisoformat(str(row["day"]))
        start = day - timedelta(days=day.weekday()) if bucket == "week" else day
        key = start.isoformat()
        entry = periods.setdefault(key, {"period": key, **{stage: 0 for stage in LEAD_STAGES}})
        entry[row["stage"]] += int(row["leads"])
    return [periods[key] for key in sorted(periods)]


def _handoffs_by_sla(connection: Connection, span: Range, now: datetime) -> list[dict[str, Any]]:
    acknowledged = _HANDOFFS.c.acknowledged_at
    met = and_(acknowledged.is_not(None), acknowledged <= _HANDOFFS.c.due_at)
    pending = and_(acknowledged.is_(None), _HANDOFFS.c.due_at > now)
    rows = connection.execute(
        select(
            _HANDOFFS.c.sla,
            func.count().label("handoffs"),
            _flag(met).label("met"),
            _flag(pending).label("pending"),
        )
        .where(_in_range(_HANDOFFS.c.created_at, span))
        .group_by(_HANDOFFS.c.sla)
        .order_by(_HANDOFFS.c.sla)
    )
    result = []
    for row in rows:
        handoffs, met_count, pending_count = int(row.handoffs), int(row.met), int(row.pending)
        missed = handoffs - met_count - pending_count
        result.append(
            {
                "sla": row.sla,
                "handoffs": handoffs,
                "met": met_count,
                "missed": missed,
                "pending": pending_count,
                "share_met": _share(met_count, met_count + missed),
            }
        )
    return result


def _seconds_between(connection: Connection, start: Any, end: Any) -> Any:
    if connection.dialect.name == "postgresql":
        return func.extract("epoch", end - start)
    return (func.julianday(end) - func.julianday(start)) * 86400.0


def _acknowledge_by_rep(connection: Connection, span: Range) -> list[dict[str, Any]]:
    """The median seconds to acknowledge per rep: the middle row(s) of each rep's ordering."""
    rep = _HANDOFFS.c.acknowledged_by
    seconds = cast(
        _seconds_between(connection, _HANDOFFS.c.created_at, _HANDOFFS.c.acknowledged_at), Float
    )
    ranked = (
        select(
            rep.label("rep"),
            seconds.label("seconds"),
            func.row_number().over(partition_by=rep, order_by=seconds).label("position"),
            func.count().over(partition_by=rep).label("total"),
        )
        .where(
            _in_range(_HANDOFFS.c.created_at, span),
            _HANDOFFS.c.acknowledged_at.is_not(None),
            rep.is_not(None),
        )
        .subquery()
    )
    # Integer division picks the one middle row of an odd count, the two of an even one.
    middle = or_(
        ranked.c.position == (ranked.c.total + 1) / 2,
        ranked.c.position == (ranked.c.total + 2) / 2,
    )
    rows = connection.execute(
        select(
            ranked.c.rep,
            func.max(ranked.c.total).label("acknowledged"),
            func.avg(ranked.c.seconds).label("median_seconds"),
        )
        .where(middle)
        .group_by(ranked.c.rep)
        .order_by(ranked.c.rep)
    )
    return [
        {
            "rep": row.rep,
            "acknowledged": int(row.acknowledged),
            "median_seconds": round(float(row.median_seconds), 1),
        }
        for row in rows
    ]


def _hot_reasons(connection: Connection, span: Range) -> list[dict[str, Any]]:
    """The rules that lead the most hot leads' scores (each lead's first-ranked reason)."""
    if connection.dialect.name == "postgresql":
        first = _LEADS.c.reasons.op("->")(0)
        rule: Any = first.op("->>")("rule")
        points: Any = cast(first.op("->>")("points"), Float)
    else:
        rule = func.json_extract(_LEADS.c.reasons, "$[0].rule")
        points = func.json_extract(_LEADS.c.reasons, "$[0].points")
    rule = rule.label("rule")
    leads = func.count().label("leads")
    rows = connection.execute(
        select(rule, leads, func.sum(points).label("points"))
        .where(_cohort(span), _LEADS.c.stage == "hot", rule.is_not(None))
        .group_by(rule)
        .order_by(leads.desc(), rule)
        .limit(TOP_REASONS)
    )
    return [
        {"rule": row.rule, "leads": int(row.leads), "points": int(row.points or 0)} for row in rows
    ]
