"""The outcome report over a store whose right answers are known by construction."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from bot.catalog import DEMO_CATALOG, load_catalog
from bot.leads.outcomes_report import (
    OutcomeReport,
    ReportRangeError,
    newcombe_interval,
    outcome_report,
    render_report,
    wilson_interval,
)
from bot.store.models import Answer, Followup, Handoff, Lead, LeadEvent, Order

NOW = datetime(2027, 3, 10, 12, 0, tzinfo=timezone.utc)
T0 = NOW - timedelta(days=10)
CATALOG = load_catalog(DEMO_CATALOG)
VARIANT = CATALOG.all_variants()[0][1]


class Seed:
    """Rows added in bulk, then inserted in one transaction per table."""

    def __init__(self) -> None:
        self.rows: dict[Any, list[dict[str, Any]]] = {
            table: [] for table in (Lead, Followup, Order, LeadEvent, Answer, Handoff)
        }
        self.count = 0

    def lead(self, *, won_at: datetime | None = None, revenue: str | None = None) -> str:
        self.count += 1
        lead_id = f"lead{self.count:05d}"
        self.rows[Lead].append(
            {
                "id": lead_id,
                "session_id": f"s-{lead_id}",
                "status": "Won" if won_at else "New",
                "converted_at": won_at,
                "revenue": Decimal(revenue) if revenue else None,
                "revenue_currency": "EUR" if revenue else None,
                "created_at": T0,
                "updated_at": T0,
            }
        )
        return lead_id

    def order(self, lead_id: str, at: datetime, value: str = "10.00") -> None:
        number = len(self.rows[Order]) + 1
        self.rows[Order].append(
            {
                "source": "test",
                "order_id": f"o{number}",
                "lead_id": lead_id,
                "value": Decimal(value),
                "currency": "EUR",
                "shop_value": Decimal(value),
                "shop_currency": "EUR",
                "quantity": 1,
                "ordered_at": at,
                "received_at": at,
                "payload_hash": f"{number:064d}",
            }
        )

    def buyer(self, at: datetime, value: str = "10.00") -> str:
        lead_id = self.lead(won_at=at, revenue=value)
        self.order(lead_id, at, value)
        return lead_id

    def followup(self, lead_id: str, play: str, status: str, due: datetime, **more: Any) -> None:
        self.rows[Followup].append(
            {
                "id": f"f{len(self.rows[Followup]) + 1}",
                "lead_id": lead_id,
                "play": play,
                "status": status,
                "channel": "email",
                "template": play,
                "priority": 1,
                "signal_at": due - timedelta(hours=4),
                "due_at": due,
                "planned_at": due - timedelta(hours=4),
                "clicked_at": more.get("clicked_at"),
                "clicks": 1 if more.get("clicked_at") else 0,
            }
        )

    def event(self, lead_id: str, at: datetime, **properties: Any) -> None:
        self.rows[LeadEvent].append(
            {
                "event_id": f"e{len(self.rows[LeadEvent]) + 1}",
                "lead_id": lead_id,
                "type": "question_asked",
                "source": "chat",
                "ts": at,
                "properties": properties,
                "created_at": at,
            }
        )

    def answer(self, lead_id: str, key: str, value: Any) -> None:
        self.rows[Answer].append(
            {
                "lead_id": lead_id,
                "answer_id": f"a{len(self.rows[Answer]) + 1}",
                "key": key,
                "raw": str(value),
                "value": value,
                "status": "answered",
                "answered_at": T0,
            }
        )

    def handoff(
        self, lead_id: str, rep: str, *, ack_after: int | None, due_after: int, at: datetime = T0
    ) -> None:
        self.rows[Handoff].append(
            {
                "id": f"h{len(self.rows[Handoff]) + 1}",
                "lead_id": lead_id,
                "trigger": "hot",
                "team": "sales",
                "assigned_to": rep,
                "sla": "1h",
                "priority": 1,
                "status": "open" if ack_after is None else "acknowledged",
                "contact_by": at + timedelta(seconds=due_after),
                "due_at": at + timedelta(seconds=due_after),
                "created_at": at,
                "acknowledged_at": None if ack_after is None else at + timedelta(seconds=ack_after),
                "acknowledged_by": None if ack_after is None else rep,
            }
        )

    def insert(self, engine: Engine) -> None:
        with engine.begin() as connection:
            for table, rows in self.rows.items():
                if rows:
                    connection.execute(table.__table__.insert(), rows)


def report(engine: Engine, **kwargs: Any) -> OutcomeReport:
    return outcome_report(engine, CATALOG, now=NOW, **kwargs)


def test_wilson_and_newcombe_by_hand() -> None:
    # 40/200: centre (0.2 + z²/400) / (1 + z²/200),
    # half-width z·sqrt(0.2·0.8/200 + z²/160000) / (1 + z²/200).
    assert wilson_interval(40, 200) == pytest.approx((0.150452, 0.260855), abs=1e-6)
    assert wilson_interval(10, 100) == pytest.approx((0.055229, 0.174366), abs=1e-6)
    # 0.1 - sqrt((0.2-0.150452)² + (0.174366-0.1)²), 0.1 + sqrt((0.260855-0.2)² + (0.1-0.055229)²)
    assert newcombe_interval(40, 200, 10, 100) == pytest.approx((0.010640, 0.175550), abs=1e-6)
    assert newcombe_interval(1, 2, 0, 0) is None
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_play_lift_assigned_against_held_out(engine: Engine) -> None:
    seed = Seed()
    due = T0 + timedelta(days=1)
    for index in range(200):
        lead_id = seed.buyer(due + timedelta(hours=2)) if index < 40 else seed.lead()
        seed.followup(lead_id, "cart", "queued", due, clicked_at=due if index < 25 else None)
    for index in range(100):
        lead_id = seed.buyer(due + timedelta(hours=3), "20.00") if index < 10 else seed.lead()
        seed.followup(lead_id, "cart", "held_out", due)
    # Bought after the play's signal (4 hours before due), before the send: a conversion.
    early = seed.buyer(due - timedelta(hours=1))
    seed.followup(early, "cart", "queued", due)
    # Bought before the signal: not one.
    seed.followup(seed.buyer(due - timedelta(hours=5)), "cart", "held_out", due)
    # Planned (not sent yet) and stopped follow-ups are in the treatment arm; one due
    # outside the range is not counted.
    seed.followup(seed.lead(), "cart", "planned", due)
    seed.followup(seed.lead(), "cart", "stopped", due)
    seed.followup(seed.buyer(NOW), "cart", "queued", NOW + timedelta(days=1))
    # A second play with sent leads only has no lift.
    seed.followup(seed.lead(), "reminder", "queued", due)
    seed.insert(engine)

    result = report(engine)
    plays = {row["play"]: row for row in result.as_dict()["plays"]}
    cart = plays["cart"]
    assert (cart["eligible"], cart["assigned"], cart["held_out"]) == (304, 203, 101)
    assert (cart["sent"], cart["stopped"], cart["planned"]) == (201, 1, 1)
    assert (cart["clicked"], cart["converted"]) == (25, 51)
    assert cart["revenue"] == Decimal("610.00")
    # 410 over 203 assigned leads, over the 201 sent; 200 over 101 held out.
    assert cart["assigned_group"]["revenue_per_lead"] == Decimal("2.02")
    assert cart["sent_group"]["revenue_per_lead"] == Decimal("2.04")
    assert cart["held_out_group"]["revenue_per_lead"] == Decimal("1.98")
    # 41/203 against 10/101.
    assert cart["lift"] == pytest.approx(41 / 203 - 10 / 101, abs=1e-4)
    low, high = newcombe_interval(41, 203, 10, 101) or (0.0, 0.0)
    assert (cart["lift_low"], cart["lift_high"]) == (round(low, 4), round(high, 4))
    assert plays["reminder"]["lift"] is None and plays["reminder"]["held_out"] == 0
    assert "cart" in render_report(result)


def test_exact_lift_and_interval(engine: Engine) -> None:
    seed = Seed()
    due = T0
    for index in range(200):
        seed.followup(seed.buyer(due) if index < 40 else seed.lead(), "p", "queued", due)
    for index in range(100):
        seed.followup(seed.buyer(due) if index < 10 else seed.lead(), "p", "held_out", due)
    seed.insert(engine)

    (row,) = report(engine).as_dict()["plays"]
    assert (row["lift"], row["lift_low"], row["lift_high"]) == (0.1, 0.0106, 0.1755)


def test_arms_answers_and_reps(engine: Engine) -> None:
    seed = Seed()
    price = float(VARIANT.price)
    # Arm a: 3 leads, one Won (revenue 30); arm b: 1 lead, none Won.
    first = seed.buyer(T0, "30.00")
    for lead_id in (first, seed.lead(), seed.lead()):
        seed.event(lead_id, T0, ab_test="greeting", arm="a", question="timeline")
    switched = seed.lead()
    seed.event(switched, T0, ab_test="greeting", arm="b", question="timeline")
    # A later arm of the same test does not move the lead.
    seed.event(switched, T0 + timedelta(minutes=5), ab_test="greeting", arm="a", question="budget")
    for lead_id in (first,):
        seed.answer(lead_id, "budget", {"amount": price + 10, "currency": VARIANT.currency})
        seed.answer(lead_id, "variant", VARIANT.id)
        seed.answer(lead_id, "timeline", {"days": 3})
    under = seed.buyer(T0, "5.00")
    seed.answer(under, "budget", {"amount": price - 1, "currency": VARIANT.currency})
    seed.answer(under, "variant", VARIANT.id)
    seed.answer(under, "timeline", {"days": 45})
    no_variant = seed.lead()
    seed.answer(no_variant, "budget", {"amount": 1000, "currency": "EUR"})
    # Reps: alice acknowledges after 60 s, 120 s and 900 s (due after 600 s); one lead Won.
    alice = [seed.buyer(T0), seed.lead(), seed.lead()]
    for lead_id, seconds in zip(alice, (60, 120, 900), strict=True):
        seed.handoff(lead_id, "alice", ack_after=seconds, due_after=600)
    # bob: met after 30 s, missed (never acknowledged, overdue), pending (not due yet).
    bob = seed.lead()
    seed.handoff(bob, "bob", ack_after=30, due_after=600)
    seed.handoff(bob, "bob", ack_after=None, due_after=600)
    seed.handoff(seed.lead(), "bob", ack_after=None, due_after=600, at=NOW - timedelta(seconds=60))
    seed.insert(engine)

    data = report(engine).as_dict()
    arms = {(row["test"], row["arm"]): row for row in data["arms"]}
    assert {key: (r["leads"], r["converted"], r["revenue"]) for key, r in arms.items()} == {
        ("greeting", "a"): (3, 1, Decimal("30.00")),
        ("greeting", "b"): (1, 0, Decimal("0.00")),
    }
    budget = {row["bucket"]: (row["leads"], row["converted"]) for row in data["answers"]["budget"]}
    total = seed.count
    assert budget == {
        "over": (1, 1),
        "under": (1, 1),
        "no_variant": (1, 0),
        "no_budget": (total - 3, 1),
    }
    timeline = {row["bucket"]: row["leads"] for row in data["answers"]["timeline"]}
    assert timeline == {"0-7": 1, "31-90": 1, "none": total - 2}
    reps = {row["rep"]: row for row in data["reps"]}
    assert reps["alice"]["median_seconds_to_ack"] == 120.0
    assert (reps["alice"]["sla_met"], reps["alice"]["sla_missed"]) == (2, 1)
    assert reps["alice"]["share_sla_met"] == 0.6667
    assert (reps["alice"]["leads"], reps["alice"]["won"], reps["alice"]["rate"]) == (3, 1, 0.3333)
    assert reps["bob"]["median_seconds_to_ack"] == 30.0
    assert (reps["bob"]["sla_met"], reps["bob"]["sla_missed"], reps["bob"]["sla_pending"]) == (
        1,
        1,
        1,
    )
    assert reps["bob"]["share_sla_met"] == 0.5
    assert (reps["bob"]["handoffs"], reps["bob"]["leads"], reps["bob"]["won"]) == (3, 2, 0)


def test_empty_store(engine: Engine) -> None:
    data = report(engine).as_dict()
    assert data["plays"] == data["arms"] == data["reps"] == []
    assert data["answers"] == {"budget": [], "timeline": []}
    assert data["since"] == (NOW - timedelta(days=90)).isoformat()
    assert "(none)" in render_report(report(engine))


def test_range_must_be_a_range(engine: Engine) -> None:
    with pytest.raises(ReportRangeError, match=r"since .* must be before until"):
        report(engine, since=NOW, until=NOW - timedelta(days=1))
