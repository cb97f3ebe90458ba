"""The sales dashboard's numbers, aggregated by the database over a range of days.

Every chart counts the leads created in the range (``[start, end)``, days in the
sales team's zone), except the handoff charts, which count the handoffs opened
in it. A lead merged into another one owns nothing any more and is left out.

- **Funnel**: chats (leads whose shopper wrote in the chat; a lead can also start
  on the shop, a form or an import) →
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

The lead charts read ``lead_hours`` and ``lead_hour_reasons``, counts per hour of
creation that triggers on leads and handoffs keep (migration 0008), grouped in SQL
by local day, stage and score band; the charts add those rows up (weeks from days,
rates from counts). The handoff charts group the range's handoffs in SQL. The same
statements run on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, Float, and_, case, cast, func, literal, or_, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.elements import ColumnElement

from bot.store.lifecycle import STATUS_LIFECYCLE
from bot.store.models import LEAD_STAGES, LIFECYCLE_STAGES, Handoff, LeadHour, LeadHourReason

BUCKETS = ("day", "week")
FUNNEL_STEPS = ("chats", "qualified", "handed_off", "won")
# Score bands of the conversion chart: (label, lowest score), highest band first matched.
SCORE_BANDS = (("0-19", 0), ("20-39", 20), ("40-59", 40), ("60-79", 60), ("80-100", 80))
TOP_REASONS = 10
UTC_ZONE = ZoneInfo("UTC")

_HOURS = LeadHour.__table__
_REASONS = LeadHourReason.__table__
_HANDOFFS = Handoff.__table__
# What the triggers of ``lead_hours`` count as qualified and won (migration 0008 spells
# them out; tests/store/test_lead_tallies.py checks they agree).
QUALIFIED_LIFECYCLES = LIFECYCLE_STAGES[LIFECYCLE_STAGES.index("qualified_lead") :]
QUALIFIED_STATUSES = tuple(
    status for status, stage in STATUS_LIFECYCLE.items() if stage in QUALIFIED_LIFECYCLES
)
WON_STATUS = "Won"


@dataclass(frozen=True)
class Range:
    """The days a dashboard covers: ``start`` inclusive, ``end`` exclusive, midnights in ``zone``.

    ``lead_hours`` counts by the hour, so a zone whose offset is not whole hours
    has its days' lead counts cut at the hour before its midnight.
    """

    start: datetime
    end: datetime
    bucket: str = "day"
    zone: ZoneInfo = UTC_ZONE

    @classmethod
    def of_days(cls, first: date, last: date, zone: ZoneInfo, bucket: str = "day") -> Range:
        """The days ``first`` to ``last`` (both included) in ``zone``."""
        start = datetime.combine(first, time(), tzinfo=zone).astimezone(timezone.utc)
        end = datetime.combine(last + timedelta(days=1), time(), tzinfo=zone)
        return cls(start, end.astimezone(timezone.utc), bucket, zone)

    @property
    def first_day(self) -> date:
        """The first day of the range."""
        return self.start.astimezone(self.zone).date()

    @property
    def last_day(self) -> date:
        """The last day of the range (inclusive)."""
        return (self.end.astimezone(self.zone) - timedelta(days=1)).date()


def dashboard(engine: Engine, span: Range, *, now: datetime) -> dict[str, Any]:
    """Every chart of the dashboard over ``span``; ``now`` tells pending handoffs from missed."""
    with engine.connect() as connection:
        counts = _cohort_counts(connection, span)
        return {
            "from": span.first_day.isoformat(),
            "to": span.last_day.isoformat(),
            "bucket": span.bucket,
            "zone": span.zone.key,
            "funnel": _funnel(counts),
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


def _band() -> Any:
    """The label of a ``lead_hours`` row's score band (the row holds the band's lowest score)."""
    return case(
        *[(_HOURS.c.band == lowest, literal(label)) for label, lowest in SCORE_BANDS],
        else_=literal(SCORE_BANDS[0][0]),
    )


def _flag(condition: ColumnElement[Any]) -> Any:
    return func.sum(case((condition, 1), else_=0))


def _offsets(span: Range) -> list[tuple[datetime, int]]:
    """The zone's UTC offset (minutes) over ``span``: (from when, offset), in time order.

    Read day by day, and hour by hour within a day whose offset changes (a daylight
    saving switch), so the steps fall on the hour the switch happens.
    """

    def offset(at: datetime) -> int:
        shift = at.astimezone(span.zone).utcoffset()
        return int(shift.total_seconds() // 60) if shift is not None else 0

    steps = [(span.start, offset(span.start))]
    day = span.start
    while day < span.end:
        following = min(day + timedelta(days=1), span.end)
        if offset(following) != steps[-1][1]:
            hour = day
            while hour < following:
                hour += timedelta(hours=1)
                if offset(hour) != steps[-1][1]:
                    steps.append((hour, offset(hour)))
        day = following
    return steps


def _local_day(connection: Connection, span: Range) -> Any:
    """The day, in the range's zone, of a ``lead_hours`` row's hour.

    The zone's offsets over the range (one, or a few across daylight-saving
    switches) are spelled out as a CASE, from Python's zone data on both
    backends: SQLite knows no zones, and PostgreSQL's own zone data may name
    fewer zones or other rules than Python's.
    """
    hour = _HOURS.c.hour

    def shifted(minutes: int) -> Any:
        if connection.dialect.name == "postgresql":
            return cast(func.timezone("UTC", hour) + timedelta(minutes=minutes), Date)
        return func.date(hour, f"{minutes:+d} minutes")

    steps = _offsets(span)
    if len(steps) == 1:
        return shifted(steps[0][1])
    return case(
        *[(hour < until, shifted(minutes)) for (_, minutes), (until, _) in pairwise(steps)],
        else_=shifted(steps[-1][1]),
    )


def _cohort_counts(connection: Connection, span: Range) -> list[dict[str, Any]]:
    """Leads, chatted, qualified, won and handed off by (day, stage, score band).

    Read from ``lead_hours`` (kept by triggers, migration 0008): a year is at
    most 8,784 hours of a few rows each (stages and score bands), not the
    year's leads. The funnel, the leads by stage
    over time and both conversion charts add these few thousand rows up.
    """
    day = _local_day(connection, span).label("day")
    band = _band().label("band")
    rows = connection.execute(
        select(
            day,
            _HOURS.c.stage,
            band,
            func.sum(_HOURS.c.leads).label("leads"),
            func.sum(_HOURS.c.chatted).label("chatted"),
            func.sum(_HOURS.c.qualified).label("qualified"),
            func.sum(_HOURS.c.won).label("won"),
            func.sum(_HOURS.c.handed).label("handed_off"),
        )
        .where(_in_range(_HOURS.c.hour, span))
        .group_by(day, _HOURS.c.stage, band)
    )
    return [dict(row._mapping) for row in rows]


def _funnel(counts: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    steps = {
        "chats": sum(int(row["chatted"]) for row in counts),
        "qualified": sum(int(row["qualified"]) for row in counts),
        "handed_off": sum(int(row["handed_off"]) for row in counts),
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
    leads = func.sum(_REASONS.c.leads).label("leads")
    rows = connection.execute(
        select(_REASONS.c.rule, leads, func.sum(_REASONS.c.points).label("points"))
        .where(_in_range(_REASONS.c.hour, span))
        .group_by(_REASONS.c.rule)
        .having(leads > 0)
        .order_by(leads.desc(), _REASONS.c.rule)
        .limit(TOP_REASONS)
    )
    return [
        {"rule": row.rule, "leads": int(row.leads), "points": int(row.points or 0)} for row in rows
    ]
