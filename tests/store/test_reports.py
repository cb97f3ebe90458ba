"""The dashboard's numbers on a small hand-built store, on SQLite and PostgreSQL.

The store covers Monday 2 to Sunday 15 November 2026, with leads just outside
it, a merged lead and a handoff of a lead from before the range, so each chart
has rows it must count and rows it must leave out.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert
from sqlalchemy.engine import Engine

from bot.store.models import Handoff, Lead
from bot.store.reports import Range, dashboard

UTC = timezone.utc
SPAN = Range(datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 16, tzinfo=UTC))
NOW = datetime(2026, 11, 20, tzinfo=UTC)
CHECKOUT = {"points": 40, "rule": "intent.checkout", "detail": "started checkout"}
BUDGET = {"points": 20, "rule": "fit.budget", "detail": "budget covers the price"}
VIEW = {"points": 10, "rule": "intent.product_view", "detail": "viewed a product"}


def at(day: int, hour: int = 10, minute: int = 0) -> datetime:
    """A time in November 2026 (UTC)."""
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def lead(
    lead_id: str, created_at: datetime, stage: str, score: int, **fields: Any
) -> dict[str, Any]:
    """A lead row; the id doubles as its session id."""
    return {
        "id": lead_id.ljust(32, "0"),
        "session_id": f"s-{lead_id}",
        "created_at": created_at,
        "updated_at": created_at,
        "stage": stage,
        "score": score,
        "reasons": [],
        "status": "New",
        "lifecycle_stage": "visitor",
        "converted_at": None,
        "merged_into": None,
        "chatted_at": None,
        "source": "chat",
        **fields,
    }


def handoff(
    handoff_id: str,
    lead_id: str,
    sla: str,
    created_at: datetime,
    due_in: timedelta,
    acknowledged_after: timedelta | None = None,
    by: str | None = None,
) -> dict[str, Any]:
    """A handoff row, acknowledged ``acknowledged_after`` its creation by ``by``."""
    return {
        "id": handoff_id.ljust(32, "0"),
        "lead_id": lead_id.ljust(32, "0"),
        "trigger": "checkout",
        "team": "sales",
        "sla": sla,
        "priority": 1,
        "status": "open" if acknowledged_after is None else "acknowledged",
        "contact_by": created_at + due_in,
        "due_at": created_at + due_in,
        "created_at": created_at,
        "acknowledged_at": None if acknowledged_after is None else created_at + acknowledged_after,
        "acknowledged_by": by,
    }


LEADS = [
    lead(
        "a1",
        at(2),
        "hot",
        85,
        status="Won",
        converted_at=at(9),
        reasons=[CHECKOUT, BUDGET],
        chatted_at=at(2),
    ),
    lead("a2", at(2, 12), "hot", 70, reasons=[BUDGET, CHECKOUT], chatted_at=at(2, 13)),
    lead("a3", at(3), "warm", 45, status="Qualified", reasons=[VIEW], chatted_at=at(3)),
    lead("a4", at(9), "cold", 10, chatted_at=at(12)),
    # Won set on the page before conversions were recorded there: still won. A form
    # lead and a shop visit never chatted.
    lead("a5", at(10), "cold", 5, status="Won", source="web_form"),
    lead("a9", at(5), "warm", 30, lifecycle_stage="opportunity", source="storefront"),
    # Outside the range: the minute before it, and its end (exclusive).
    lead("b1", datetime(2026, 11, 1, 23, 59, tzinfo=UTC), "hot", 90, reasons=[CHECKOUT]),
    lead("b2", datetime(2026, 11, 16, tzinfo=UTC), "hot", 90, reasons=[CHECKOUT]),
]
MERGED = lead(
    "c1", at(4), "hot", 95, reasons=[CHECKOUT], status="Won", merged_into="a1".ljust(32, "0")
)
MINUTES = timedelta(minutes=1)
HOURS = timedelta(hours=1)
HANDOFFS = [
    handoff("h1", "a1", "hot-15m", at(2, 10, 5), 15 * MINUTES, 5 * MINUTES, "Ana"),
    handoff("h2", "a2", "hot-15m", at(2, 12, 5), 15 * MINUTES, 30 * MINUTES, "Ana"),
    handoff("h6", "a1", "hot-15m", at(2, 14), 15 * MINUTES, 20 * MINUTES, "Ana"),
    handoff("h3", "a2", "warm-4h", at(3, 9), 4 * HOURS, 1 * HOURS, "Ben"),
    # A lead from before the range, handed off in it: its handoff counts.
    handoff("h4", "b1", "warm-4h", at(4, 9), 4 * HOURS, 6 * HOURS, "Ben"),
    # Not due yet at NOW: pending, neither met nor missed.
    handoff("h5", "a3", "warm-4h", at(15, 20), 6 * 24 * HOURS),
    # After the range: no SLA row, yet its lead (of the range) was handed off.
    handoff("h7", "a4", "hot-15m", at(17), 15 * MINUTES),
]


def build_store(engine: Engine) -> None:
    """Write the hand-built store."""
    with engine.begin() as connection:
        connection.execute(insert(Lead.__table__), LEADS)
        connection.execute(insert(Lead.__table__), [MERGED])
        connection.execute(insert(Handoff.__table__), HANDOFFS)


@pytest.fixture
def report(engine: Engine) -> dict[str, Any]:
    build_store(engine)
    return dashboard(engine, SPAN, now=NOW)


def test_range_is_named_by_its_first_and_last_day(report: dict[str, Any]) -> None:
    assert (report["from"], report["to"], report["bucket"]) == ("2026-11-02", "2026-11-15", "day")


def test_funnel_counts_chats_qualified_handed_off_won(report: dict[str, Any]) -> None:
    # chats: a1 to a4 (a5 came from a form, a9 only visited the shop)
    # qualified: a1, a2 (hot), a3 (Qualified), a5 (Won), a9 (opportunity)
    # handed off: a1, a2, a3, and a4 whose handoff came after the range
    assert report["funnel"] == [
        {"step": "chats", "count": 4},
        {"step": "qualified", "count": 5},
        {"step": "handed_off", "count": 4},
        {"step": "won", "count": 2},
    ]


def test_leads_by_stage_per_day(report: dict[str, Any]) -> None:
    assert report["stages_over_time"] == [
        {"period": "2026-11-02", "cold": 0, "warm": 0, "hot": 2},
        {"period": "2026-11-03", "cold": 0, "warm": 1, "hot": 0},
        {"period": "2026-11-05", "cold": 0, "warm": 1, "hot": 0},
        {"period": "2026-11-09", "cold": 1, "warm": 0, "hot": 0},
        {"period": "2026-11-10", "cold": 1, "warm": 0, "hot": 0},
    ]


def test_leads_by_stage_per_week_start_on_monday(engine: Engine) -> None:
    build_store(engine)
    weekly = Range(SPAN.start, SPAN.end, bucket="week")
    assert dashboard(engine, weekly, now=NOW)["stages_over_time"] == [
        {"period": "2026-11-02", "cold": 0, "warm": 2, "hot": 2},
        {"period": "2026-11-09", "cold": 2, "warm": 0, "hot": 0},
    ]


def test_handoffs_by_sla_share_met_leaves_pending_out(report: dict[str, Any]) -> None:
    assert report["handoffs_by_sla"] == [
        # h1 met; h2 and h6 acknowledged late
        {"sla": "hot-15m", "handoffs": 3, "met": 1, "missed": 2, "pending": 0, "share_met": 0.3333},
        # h3 met; h4 late; h5 not due yet
        {"sla": "warm-4h", "handoffs": 3, "met": 1, "missed": 1, "pending": 1, "share_met": 0.5},
    ]


def test_median_time_to_acknowledge_per_rep(report: dict[str, Any]) -> None:
    assert report["acknowledge_by_rep"] == [
        # 5, 20 and 30 minutes: the middle one
        {"rep": "Ana", "acknowledged": 3, "median_seconds": 1200.0},
        # 1 and 6 hours: their mean
        {"rep": "Ben", "acknowledged": 2, "median_seconds": 12600.0},
    ]


def test_conversion_by_stage(report: dict[str, Any]) -> None:
    assert report["conversion_by_stage"] == [
        {"stage": "cold", "leads": 2, "won": 1, "rate": 0.5},
        {"stage": "warm", "leads": 2, "won": 0, "rate": 0.0},
        {"stage": "hot", "leads": 2, "won": 1, "rate": 0.5},
    ]


def test_conversion_by_score_band(report: dict[str, Any]) -> None:
    assert report["conversion_by_band"] == [
        {"band": "0-19", "leads": 2, "won": 1, "rate": 0.5},
        {"band": "20-39", "leads": 1, "won": 0, "rate": 0.0},
        {"band": "40-59", "leads": 1, "won": 0, "rate": 0.0},
        {"band": "60-79", "leads": 1, "won": 0, "rate": 0.0},
        {"band": "80-100", "leads": 1, "won": 1, "rate": 1.0},
    ]


def test_top_reasons_of_hot_leads(report: dict[str, Any]) -> None:
    # Each hot lead's first-ranked reason: a1's budget comes second, a3 is warm;
    # b1, b2 and the merged c1 are not counted.
    assert report["hot_reasons"] == [
        {"rule": "fit.budget", "leads": 1, "points": 20},
        {"rule": "intent.checkout", "leads": 1, "points": 40},
    ]


def test_an_empty_range_has_zero_counts_and_no_rates(engine: Engine) -> None:
    build_store(engine)
    empty = Range(datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 2, tzinfo=UTC))
    report = dashboard(engine, empty, now=NOW)
    assert [step["count"] for step in report["funnel"]] == [0, 0, 0, 0]
    assert report["conversion_by_stage"][0] == {"stage": "cold", "leads": 0, "won": 0, "rate": None}
    assert report["stages_over_time"] == report["handoffs_by_sla"] == []
    assert report["acknowledge_by_rep"] == report["hot_reasons"] == []


PARIS = ZoneInfo("Europe/Paris")


def test_days_are_the_team_zone_days(engine: Engine) -> None:
    """b1 came at 00:59 on 2 November in Paris; a lead at 23:30 UTC on the 15th, on the 16th."""
    build_store(engine)
    with engine.begin() as connection:
        late = lead("d1", datetime(2026, 11, 15, 23, 30, tzinfo=UTC), "cold", 1)
        connection.execute(insert(Lead.__table__), [late])
    paris = Range.of_days(date(2026, 11, 2), date(2026, 11, 15), PARIS)
    report = dashboard(engine, paris, now=NOW)
    assert (report["from"], report["to"]) == ("2026-11-02", "2026-11-15")
    assert report["stages_over_time"][0] == {"period": "2026-11-02", "cold": 0, "warm": 0, "hot": 3}
    assert sum(row["cold"] for row in report["stages_over_time"]) == 2


def test_days_follow_the_daylight_saving_switch(engine: Engine) -> None:
    """Paris leaves summer time on 25 October 2026 at 01:00 UTC (03:00 → 02:00)."""
    created = {
        "e1": datetime(2026, 10, 24, 22, 30, tzinfo=UTC),  # 00:30 CEST on the 25th
        "e2": datetime(2026, 10, 25, 22, 30, tzinfo=UTC),  # 23:30 CET on the 25th
        "e3": datetime(2026, 10, 25, 23, 30, tzinfo=UTC),  # 00:30 CET on the 26th
        "e4": datetime(2026, 10, 24, 21, 30, tzinfo=UTC),  # 23:30 CEST on the 24th
    }
    with engine.begin() as connection:
        connection.execute(
            insert(Lead.__table__),
            [lead(name, moment, "warm", 30) for name, moment in created.items()],
        )
    span = Range.of_days(date(2026, 10, 24), date(2026, 10, 26), PARIS)
    assert dashboard(engine, span, now=NOW)["stages_over_time"] == [
        {"period": "2026-10-24", "cold": 0, "warm": 1, "hot": 0},
        {"period": "2026-10-25", "cold": 0, "warm": 2, "hot": 0},
        {"period": "2026-10-26", "cold": 0, "warm": 1, "hot": 0},
    ]
