"""Handoff planning inside the lead write: triggers, upgrades, reps, timers, escalation, outbox.

Every test runs on SQLite and PostgreSQL (``database_url``) and passes an explicit
``now``. Monday 2026-11-23 10:00 UTC is 11:00 in Paris, inside the sales team's
hours (Mon-Thu 09:00-18:00 Europe/Paris).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from bot.catalog import RateTable
from bot.handoff import planner_for
from bot.handoff.config import (
    Channel,
    HandoffConfig,
    Rep,
    load_handoff_config,
)
from bot.handoff.hours import promise
from bot.handoff.planner import HandoffPlanner, LeadWrite, ack_token
from bot.leads import ApplyResult, LeadService
from bot.leads.commands import Command, RecordAnswer, RecordEvent, UpdateContact
from bot.scoring import Scorer, scorer_for
from bot.settings import Settings
from bot.store.models import (
    Handoff,
    HandoffTimer,
    HandoffTrigger,
    Lead,
    LeadEvent,
    OutboxMessage,
)
from tests.handoff import HANDOFF_CONFIG
from tests.scoring import SCORING_CONFIG

MON = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)  # Monday 11:00 Paris: open
MON_EVENING = datetime(2026, 11, 23, 17, 30, tzinfo=timezone.utc)  # Monday 18:30 Paris: closed
PUBLIC_URL = "https://leads.shop.example"
SIGNING_KEY = b"k" * 32
SECRET = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYX"
HOODIE = "hoodie-classic"
BLUE_M = "hoodie-classic-blue-m"  # 59 EUR, in stock (bot/catalog/demo.yml)

CRM = Channel("crm", "webhook", url="https://crm.example/hooks", secrets=(SECRET,))
SLACK = Channel("sales-slack", "slack", url="https://hooks.slack.example/T/B/X")


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


@pytest.fixture(scope="module")
def scorer() -> Scorer:
    return scorer_for(Settings(scoring_config_path=SCORING_CONFIG))


@pytest.fixture(scope="module")
def config() -> HandoffConfig:
    """The tests' rules with two channels every team notifies (and escalates to)."""
    return load_handoff_config(HANDOFF_CONFIG, environ={}).with_channel(CRM).with_channel(SLACK)


def make_planner(config: HandoffConfig) -> HandoffPlanner:
    return HandoffPlanner(config, public_url=PUBLIC_URL + "/", signing_key=SIGNING_KEY)


@pytest.fixture
def planner(config: HandoffConfig) -> HandoffPlanner:
    return make_planner(config)


@pytest.fixture
def repo(engine: Engine, scorer: Scorer, planner: HandoffPlanner) -> LeadService:
    return LeadService(engine, scorer, planner)


def with_reps(config: HandoffConfig, *reps: Rep) -> HandoffConfig:
    team = replace(config.teams["sales"], reps=reps)
    return replace(config, teams=MappingProxyType({"sales": team}))


# --- commands -------------------------------------------------------------------------------------


def chat(session: str, event_id: str, kind: str, ts: datetime) -> RecordEvent:
    return RecordEvent(session_id=session, event_id=event_id, type=kind, ts=ts, source="chat")


def shop(session: str, event_id: str, kind: str, ts: datetime) -> RecordEvent:
    return RecordEvent(
        session_id=session,
        event_id=event_id,
        type=kind,
        ts=ts,
        source="storefront",
        product_id=HOODIE,
        variant_id=BLUE_M,
    )


def budget(session: str, answer_id: str, value: dict[str, Any], at: datetime) -> RecordAnswer:
    return RecordAnswer(
        session_id=session,
        answer_id=answer_id,
        key="budget",
        raw=str(value.get("amount")),
        value=value,
        status="answered",
        answered_at=at,
    )


def make_hot(session: str, at: datetime) -> list[Command]:
    """variant_select 5 + shipping_check 15 + payment_info 40 = intent 60; in stock: fit 10."""
    return [
        shop(session, f"{session}-v", "variant_select", at),
        shop(session, f"{session}-s", "shipping_check", at),
        shop(session, f"{session}-p", "payment_info", at),
    ]


def make_warm(session: str, at: datetime) -> list[Command]:
    """variant_select 5 + shipping_check 15 = intent 20: warm, and no trigger fires."""
    return [
        shop(session, f"{session}-v", "variant_select", at),
        shop(session, f"{session}-s", "shipping_check", at),
    ]


# --- reading the tables ---------------------------------------------------------------------------


def rows(engine: Engine, model: Any, **where: Any) -> list[Any]:
    table = model.__table__
    statement = select(table).where(*(table.c[k] == v for k, v in where.items()))
    statement = statement.order_by(*table.primary_key.columns)
    with engine.connect() as connection:
        return list(connection.execute(statement).all())


def handoffs(engine: Engine, lead_id: str | None = None) -> list[Any]:
    return rows(engine, Handoff, **({"lead_id": lead_id} if lead_id else {}))


def outbox(engine: Engine, **where: Any) -> list[Any]:
    return rows(engine, OutboxMessage, **where)


def fired(engine: Engine, lead_id: str) -> list[str]:
    return sorted(row.trigger for row in rows(engine, HandoffTrigger, lead_id=lead_id))


def timers(engine: Engine, lead_id: str) -> list[Any]:
    return rows(engine, HandoffTimer, lead_id=lead_id)


def state_of(result: ApplyResult, session: str) -> Any:
    return result.leads[session]


# --- creating a handoff ---------------------------------------------------------------------------


def test_human_requested_creates_one_handoff_and_one_message_per_channel(
    repo: LeadService, engine: Engine
) -> None:
    result = repo.apply([chat("s1", "e1", "human_requested", MON)], now=MON)
    state = state_of(result, "s1")
    notice = state.handoff
    assert notice is not None
    assert (notice.trigger, notice.sla, notice.team, notice.notified_now) == (
        "human_requested",
        "immediate",
        "sales",
        True,
    )
    assert (notice.contact_by, notice.due_at) == (MON, MON + minutes(15))

    [handoff] = handoffs(engine, state.lead_id)
    assert handoff.id == notice.handoff_id
    assert (handoff.trigger, handoff.sla, handoff.priority, handoff.status) == (
        "human_requested",
        "immediate",
        1,
        "open",
    )
    assert handoff.assigned_to == "Camille Martin"  # first rep of the round-robin
    assert (handoff.created_at, handoff.due_at, handoff.contact_by) == (
        MON,
        MON + minutes(15),
        MON,
    )
    assert fired(engine, state.lead_id) == ["human_requested"]

    messages = outbox(engine)
    assert sorted(m.channel for m in messages) == ["crm", "sales-slack"]
    assert len({m.message_id for m in messages}) == 2
    for message in messages:
        assert message.handoff_id == handoff.id
        assert (message.kind, message.status, message.attempts, message.priority) == (
            "lead.handoff",
            "pending",
            0,
            1,
        )
        assert message.next_attempt_at == MON
        assert message.payload["action"] == "created"
    assert messages[0].payload == messages[1].payload


def test_handoff_is_idempotent(repo: LeadService, engine: Engine) -> None:
    first = state_of(repo.apply([chat("s1", "e1", "human_requested", MON)], now=MON), "s1")
    assert first.handoff is not None and first.handoff.notified_now

    # The same event again (a replay): a duplicate, nothing new, the handoff still reported.
    later = MON + minutes(2)
    replay = repo.apply([chat("s1", "e1", "human_requested", MON)], now=later)
    assert (replay.accepted_events, replay.duplicate_events) == (0, 1)
    notice = state_of(replay, "s1").handoff
    assert notice is not None and notice.handoff_id == first.handoff.handoff_id
    assert not notice.notified_now

    # Asking again (a new event): the trigger already fired for this lead.
    again = repo.apply([chat("s1", "e2", "human_requested", later)], now=later)
    assert again.accepted_events == 1
    notice = state_of(again, "s1").handoff
    assert notice is not None and notice.handoff_id == first.handoff.handoff_id
    assert not notice.notified_now

    assert len(handoffs(engine)) == 1
    assert fired(engine, first.lead_id) == ["human_requested"]
    assert len(outbox(engine)) == 2


def test_stronger_trigger_upgrades_and_weaker_is_only_recorded(
    repo: LeadService, engine: Engine
) -> None:
    hot = state_of(repo.apply(make_hot("s1", MON), now=MON), "s1")
    assert (hot.previous_stage, hot.stage) == ("cold", "hot")
    assert hot.handoff is not None and hot.handoff.trigger == "became_hot"
    [handoff] = handoffs(engine, hot.lead_id)
    assert (handoff.trigger, handoff.sla, handoff.priority) == ("became_hot", "within_1h", 2)
    assert handoff.due_at == MON + minutes(60)
    assert [m.payload["action"] for m in outbox(engine)] == ["created", "created"]

    # Asking for a person is stronger: the same handoff, upgraded and announced again.
    t1 = MON + minutes(5)
    upgraded = state_of(repo.apply([chat("s1", "e1", "human_requested", t1)], now=t1), "s1")
    assert upgraded.handoff is not None
    assert upgraded.handoff.handoff_id == handoff.id
    assert (upgraded.handoff.trigger, upgraded.handoff.sla) == ("human_requested", "immediate")
    assert upgraded.handoff.notified_now  # reported as new news for the shopper
    [row] = handoffs(engine, hot.lead_id)
    assert (row.trigger, row.sla, row.priority, row.status) == (
        "human_requested",
        "immediate",
        1,
        "open",
    )
    assert row.upgraded_at == t1
    assert row.due_at == t1 + minutes(15)  # tighter than the 60 minutes of became_hot
    assert row.assigned_to == handoff.assigned_to  # same team: same rep
    messages = outbox(engine)
    assert [m.payload["action"] for m in messages] == ["created", "created", "upgraded", "upgraded"]
    assert {m.channel for m in messages[2:]} == {"crm", "sales-slack"}
    assert all(m.priority == 1 for m in messages[2:])
    assert messages[2].payload["trigger"] == "human_requested"
    assert messages[2].payload["sla_due_at"] == (t1 + minutes(15)).isoformat()

    # A weaker trigger later (a cart add by a hot lead): recorded, nothing else.
    t2 = MON + minutes(10)
    weaker = state_of(repo.apply([shop("s1", "c1", "add_to_cart", t2)], now=t2), "s1")
    assert weaker.handoff is not None and not weaker.handoff.notified_now
    assert fired(engine, hot.lead_id) == ["became_hot", "cart_add", "human_requested"]
    [row] = handoffs(engine, hot.lead_id)
    assert (row.trigger, row.priority, row.upgraded_at) == ("human_requested", 1, t1)
    assert len(outbox(engine)) == 4
    trigger_rows = rows(engine, HandoffTrigger, lead_id=hot.lead_id)
    assert {r.handoff_id for r in trigger_rows} == {handoff.id}


# --- reps -----------------------------------------------------------------------------------------


def test_round_robin_over_reps(repo: LeadService, engine: Engine) -> None:
    assigned = []
    for n in range(3):
        now = MON + minutes(n)
        state = state_of(
            repo.apply([chat(f"s{n}", f"e{n}", "human_requested", now)], now=now), f"s{n}"
        )
        [row] = handoffs(engine, state.lead_id)
        assigned.append(row.assigned_to)
    assert assigned == ["Camille Martin", "Hugo Bernard", "Camille Martin"]


def test_reps_at_capacity_are_skipped(
    engine: Engine, scorer: Scorer, config: HandoffConfig
) -> None:
    small = with_reps(config, Rep("Ann", "ann@shop.example", 1), Rep("Bob", "bob@shop.example", 1))
    repo = LeadService(engine, scorer, make_planner(small))
    leads = []
    for n in range(3):
        now = MON + minutes(n)
        result = repo.apply([chat(f"s{n}", f"e{n}", "human_requested", now)], now=now)
        leads.append(state_of(result, f"s{n}").lead_id)
    assigned = [handoffs(engine, lead_id)[0].assigned_to for lead_id in leads]
    # Ann and Bob hold one open handoff each: the third waits unassigned.
    assert assigned == ["Ann", "Bob", None]
    # The third handoff still notified sales (someone must pick it up).
    assert len(outbox(engine, handoff_id=handoffs(engine, leads[2])[0].id)) == 2

    # An acknowledged handoff still counts; a closed one frees its rep.
    with engine.begin() as connection:
        table = Handoff.__table__
        connection.execute(
            update(table).where(table.c.lead_id == leads[1]).values(status="acknowledged")
        )
        connection.execute(update(table).where(table.c.lead_id == leads[0]).values(status="closed"))
    now = MON + minutes(5)
    result = repo.apply([chat("s3", "e3", "human_requested", now)], now=now)
    assert handoffs(engine, state_of(result, "s3").lead_id)[0].assigned_to == "Ann"


# --- checkout without purchase (timers) ---------------------------------------------------------


def test_checkout_start_waits_and_purchase_cancels(
    repo: LeadService, planner: HandoffPlanner, engine: Engine
) -> None:
    state = state_of(repo.apply([shop("s1", "c1", "checkout_start", MON)], now=MON), "s1")
    assert state.handoff is None
    [timer] = timers(engine, state.lead_id)
    assert (timer.trigger, timer.started_at, timer.fire_at) == (
        "checkout_hesitation",
        MON,
        MON + minutes(30),
    )

    # Bought within the 30 minutes: the timer is gone and nothing fires.
    t1 = MON + minutes(10)
    repo.apply([shop("s1", "p1", "purchase", t1)], now=t1)
    assert timers(engine, state.lead_id) == []
    with engine.begin() as connection:
        stats = planner.fire_due_timers(connection, MON + minutes(31))
    assert stats.fired == 0
    assert handoffs(engine) == [] and outbox(engine) == []


def test_checkout_without_purchase_fires_when_due(
    repo: LeadService, planner: HandoffPlanner, engine: Engine
) -> None:
    state = state_of(repo.apply([shop("s1", "c1", "checkout_start", MON)], now=MON), "s1")
    lead_id = state.lead_id

    # Not yet due at 29 minutes.
    with engine.begin() as connection:
        assert planner.fire_due_timers(connection, MON + minutes(29)).fired == 0
    assert handoffs(engine) == []

    due = MON + minutes(31)
    with engine.begin() as connection:
        stats = planner.fire_due_timers(connection, due)
    assert stats.fired == 1
    [row] = handoffs(engine, lead_id)
    assert stats.handoffs == [row.id]
    assert (row.trigger, row.sla, row.priority, row.created_at) == (
        "checkout_hesitation",
        "immediate",
        0,
        due,
    )
    assert row.due_at == due + minutes(15)
    assert timers(engine, lead_id) == []
    assert fired(engine, lead_id) == ["checkout_hesitation"]
    assert [m.payload["trigger"] for m in outbox(engine)] == ["checkout_hesitation"] * 2

    # Once only: running again fires nothing; a new checkout starts no new timer.
    with engine.begin() as connection:
        assert planner.fire_due_timers(connection, due + minutes(60)).fired == 0
    t2 = due + minutes(1)
    repo.apply([shop("s1", "c2", "checkout_start", t2)], now=t2)
    assert timers(engine, lead_id) == []
    assert len(outbox(engine)) == 2


# --- budget, cart, returning --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "fires"),
    [
        ({"amount": Decimal("1000"), "currency": "EUR"}, True),  # exactly the threshold
        ({"amount": Decimal("999"), "currency": "EUR"}, False),  # just below
        ({"amount": Decimal("5000"), "currency": "USD"}, False),  # another currency
        # A range: its upper end counts ("between 800 and 1200").
        (
            {
                "amount": Decimal("1000"),
                "min": Decimal("800"),
                "max": Decimal("1200"),
                "currency": "EUR",
            },
            True,
        ),
        # "up to 900": the bound is below the threshold.
        ({"amount": Decimal("900"), "max": Decimal("900"), "currency": "EUR"}, False),
    ],
)
def test_big_budget(repo: LeadService, engine: Engine, value: dict[str, Any], fires: bool) -> None:
    state = state_of(repo.apply([budget("s1", "a1", value, MON)], now=MON), "s1")
    if fires:
        assert state.handoff is not None
        assert (state.handoff.trigger, state.handoff.sla) == ("big_budget", "within_1h")
        assert fired(engine, state.lead_id) == ["big_budget"]
        assert len(outbox(engine)) == 2
    else:
        assert state.handoff is None
        assert handoffs(engine) == [] and outbox(engine) == []
        assert fired(engine, state.lead_id) == []


RATES_FILE = Path(__file__).parent.parent / "scoring" / "rates.yml"
# What one ruble and one dollar are worth in euros, the shop currency.
RATES = RateTable(
    "EUR", date(2026, 11, 30), MappingProxyType({"RUB": Decimal("0.011"), "USD": Decimal("0.92")})
)


@pytest.mark.parametrize(
    ("value", "fires"),
    [
        # "3000 rubles" is 33 EUR: a big number, no big budget.
        ({"amount": Decimal("3000"), "currency": "RUB"}, False),
        ({"amount": Decimal("90000"), "currency": "RUB"}, False),  # 990 EUR
        ({"amount": Decimal("100000"), "currency": "RUB"}, True),  # 1,100 EUR
        ({"amount": Decimal("1100"), "currency": "USD"}, True),  # 1,012 EUR
        # A currency without a rate cannot be shown to reach the threshold.
        ({"amount": Decimal("5000"), "currency": "MXN"}, False),
        # "between 500 and 1200 dollars": its upper end, 1,104 EUR, counts.
        (
            {
                "amount": Decimal("850"),
                "min": Decimal("500"),
                "max": Decimal("1200"),
                "currency": "USD",
            },
            True,
        ),
    ],
)
def test_big_budget_is_measured_in_the_shop_currency(
    engine: Engine, scorer: Scorer, config: HandoffConfig, value: dict[str, Any], fires: bool
) -> None:
    planner = HandoffPlanner(
        config, public_url=PUBLIC_URL, signing_key=SIGNING_KEY, currency="EUR", rates=RATES
    )
    repo = LeadService(engine, scorer, planner)
    state = state_of(repo.apply([budget("s1", "a1", value, MON)], now=MON), "s1")
    assert fired(engine, state.lead_id) == (["big_budget"] if fires else [])


def test_cart_add_only_when_warm(repo: LeadService, engine: Engine) -> None:
    # A cart add alone: intent 12 < 15, still cold: no handoff.
    cold = state_of(repo.apply([shop("s1", "c1", "add_to_cart", MON)], now=MON), "s1")
    assert cold.stage == "cold" and cold.handoff is None
    # A shipping check makes the lead warm (no trigger for that).
    t1 = MON + minutes(1)
    warm = state_of(repo.apply([shop("s1", "sc1", "shipping_check", t1)], now=t1), "s1")
    assert warm.stage == "warm" and warm.handoff is None
    assert handoffs(engine) == []
    # Another cart add from a warm lead: same business day.
    t2 = MON + minutes(2)
    cart = state_of(repo.apply([shop("s1", "c2", "add_to_cart", t2)], now=t2), "s1")
    assert cart.stage == "warm"
    assert cart.handoff is not None
    assert (cart.handoff.trigger, cart.handoff.sla) == ("cart_add", "same_business_day")
    # Closing time Monday: 18:00 Paris = 17:00 UTC.
    assert cart.handoff.due_at == datetime(2026, 11, 23, 17, 0, tzinfo=timezone.utc)
    assert fired(engine, cart.lead_id) == ["cart_add"]


@pytest.mark.parametrize(
    ("gap_hours", "fires"),
    [
        (25, True),  # a day and an hour away: returning
        (23, False),  # less than a day: just browsing on
    ],
)
def test_returning_warm_lead(
    repo: LeadService, engine: Engine, gap_hours: int, fires: bool
) -> None:
    warm = state_of(repo.apply(make_warm("s1", MON), now=MON), "s1")
    assert warm.stage == "warm" and warm.handoff is None
    back = MON + timedelta(hours=gap_hours)
    state = state_of(repo.apply([shop("s1", "b1", "product_view", back)], now=back), "s1")
    assert state.stage == "warm"
    if fires:
        assert state.handoff is not None
        assert (state.handoff.trigger, state.handoff.sla) == ("returning_lead", "same_business_day")
        # Tuesday closing time: 18:00 Paris = 17:00 UTC.
        assert state.handoff.due_at == datetime(2026, 11, 24, 17, 0, tzinfo=timezone.utc)
        assert fired(engine, state.lead_id) == ["returning_lead"]
    else:
        assert state.handoff is None
        assert handoffs(engine) == []


def test_returning_cold_lead_is_not_handed_off(repo: LeadService, engine: Engine) -> None:
    repo.apply([shop("s1", "v1", "product_view", MON)], now=MON)
    back = MON + timedelta(hours=25)
    state = state_of(repo.apply([shop("s1", "v2", "product_view", back)], now=back), "s1")
    assert state.stage == "cold" and state.handoff is None
    assert handoffs(engine) == []


# --- escalation -----------------------------------------------------------------------------------


def test_escalate_overdue_once_and_only_unacknowledged(
    repo: LeadService, planner: HandoffPlanner, engine: Engine
) -> None:
    ignored = state_of(repo.apply([chat("a", "e1", "human_requested", MON)], now=MON), "a")
    seen = state_of(repo.apply([chat("b", "e2", "human_requested", MON)], now=MON), "b")
    [ignored_row] = handoffs(engine, ignored.lead_id)
    [seen_row] = handoffs(engine, seen.lead_id)
    with engine.begin() as connection:
        table = Handoff.__table__
        connection.execute(
            update(table)
            .where(table.c.id == seen_row.id)
            .values(status="acknowledged", acknowledged_at=MON + minutes(5))
        )

    # Before the deadline (10:15 UTC): nothing to escalate.
    with engine.begin() as connection:
        assert planner.escalate_overdue(connection, MON + minutes(14)).escalated == 0
    assert outbox(engine, kind="lead.handoff.escalated") == []

    late = MON + minutes(16)
    with engine.begin() as connection:
        stats = planner.escalate_overdue(connection, late)
    assert (stats.escalated, stats.handoffs) == (1, [ignored_row.id])
    escalations = outbox(engine, kind="lead.handoff.escalated")
    assert sorted(m.channel for m in escalations) == ["crm", "sales-slack"]
    assert {m.handoff_id for m in escalations} == {ignored_row.id}
    for message in escalations:
        assert message.payload["type"] == "lead.handoff.escalated"
        assert message.payload["action"] == "escalated"
        assert message.next_attempt_at == late
    assert handoffs(engine, ignored.lead_id)[0].escalated_at == late
    assert handoffs(engine, seen.lead_id)[0].escalated_at is None

    # Once: a second pass queues nothing new.
    total = len(outbox(engine))
    with engine.begin() as connection:
        assert planner.escalate_overdue(connection, late + minutes(30)).escalated == 0
    assert len(outbox(engine)) == total


# --- the notification -----------------------------------------------------------------------------


def test_outbox_payload(repo: LeadService, engine: Engine) -> None:
    result = repo.apply(
        [
            shop("s1", "v1", "product_view", MON - minutes(3)),
            shop("s1", "v2", "variant_select", MON - minutes(2)),
            budget("s1", "a1", {"amount": Decimal("300"), "currency": "EUR"}, MON - minutes(1)),
            chat("s1", "e1", "human_requested", MON),
        ],
        now=MON,
    )
    state = state_of(result, "s1")
    [handoff] = handoffs(engine, state.lead_id)
    [message, _] = outbox(engine)
    payload = message.payload
    assert payload["type"] == "lead.handoff"
    assert payload["action"] == "created"
    assert payload["timestamp"] == MON.isoformat()
    assert payload["trigger"] == "human_requested"
    assert payload["sla"] == "immediate"
    assert payload["sla_due_at"] == (MON + minutes(15)).isoformat()
    assert payload["handoff"]["id"] == handoff.id
    assert payload["handoff"]["assigned_to"] == "Camille Martin"
    assert payload["handoff"]["status"] == "open"
    assert payload["handoff"]["priority"] == 1

    lead = payload["lead"]
    [lead_row] = rows(engine, Lead, id=state.lead_id)
    assert lead["id"] == state.lead_id
    assert lead["session_id"] == "s1"
    assert (lead["stage"], lead["score"]) == (state.stage, state.score)
    assert lead["reasons"] == lead_row.reasons and lead["reasons"]
    assert lead["answers"]["budget"]["value"] == {"amount": 300, "currency": "EUR"}
    assert lead["human_requested_at"] == MON.isoformat()

    assert [step["type"] for step in payload["journey"]] == ["variant_select", "product_view"]
    assert payload["journey"][0]["variant_id"] == BLUE_M

    assert payload["lead_url"] == f"{PUBLIC_URL}/leads/{state.lead_id}"
    token = ack_token(SIGNING_KEY, handoff.id)
    assert payload["ack_url"] == f"{PUBLIC_URL}/handoffs/{handoff.id}/ack?token={token}"


# --- atomicity ------------------------------------------------------------------------------------


def test_handoff_and_outbox_roll_back_with_the_transaction(
    repo: LeadService, planner: HandoffPlanner, engine: Engine
) -> None:
    state = state_of(repo.apply([shop("s1", "v1", "product_view", MON)], now=MON), "s1")
    lead_id = state.lead_id
    write = LeadWrite(
        lead_id=lead_id,
        previous_stage="cold",
        stage="warm",
        events=[chat("s1", "e1", "human_requested", MON)],
    )
    with pytest.raises(RuntimeError, match="after the handoff"), engine.begin() as connection:
        # As in LeadService.apply, the lead's own write comes first in the transaction.
        leads = Lead.__table__
        connection.execute(update(leads).where(leads.c.id == lead_id).values(updated_at=MON))
        notices = planner.after_write(connection, [write], MON)
        assert notices[lead_id].notified_now
        # Visible inside the transaction...
        assert len(connection.execute(select(OutboxMessage.__table__)).all()) == 2
        raise RuntimeError("failed after the handoff was planned")
    # ...and gone with it.
    assert handoffs(engine) == []
    assert outbox(engine) == []
    assert fired(engine, lead_id) == []
    assert rows(engine, HandoffTimer) == []


def test_apply_failing_midway_writes_no_handoff(
    repo: LeadService, planner: HandoffPlanner, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("payload failed")

    # The handoff row is inserted, then building its notification fails.
    monkeypatch.setattr(planner, "payload", broken)
    with pytest.raises(RuntimeError, match="payload failed"):
        repo.apply([chat("s1", "e1", "human_requested", MON)], now=MON)
    assert handoffs(engine) == []
    assert outbox(engine) == []
    assert rows(engine, HandoffTrigger) == []
    assert rows(engine, LeadEvent) == []

    # Nothing was half-written: the retried write hands off normally.
    monkeypatch.undo()
    state = state_of(repo.apply([chat("s1", "e1", "human_requested", MON)], now=MON), "s1")
    assert state.handoff is not None and state.handoff.notified_now
    assert len(handoffs(engine)) == 1 and len(outbox(engine)) == 2


# --- what the bot promises ------------------------------------------------------------------------


def test_promise_in_business_hours(
    repo: LeadService, config: HandoffConfig, engine: Engine
) -> None:
    result = repo.apply(
        [
            UpdateContact(session_id="s1", email="jo@example.com"),
            chat("s1", "e1", "human_requested", MON),
        ],
        now=MON,
    )
    notice = state_of(result, "s1").handoff
    assert notice is not None
    expected = promise(config.teams["sales"], config.slas["immediate"], MON, "email you")
    assert notice.promise == expected.text == "A specialist will email you within 15 minutes."
    assert (notice.contact_by, notice.due_at) == (expected.contact_by, expected.due_at)


def test_promise_out_of_hours(repo: LeadService, config: HandoffConfig) -> None:
    result = repo.apply([chat("s1", "e1", "human_requested", MON_EVENING)], now=MON_EVENING)
    notice = state_of(result, "s1").handoff
    assert notice is not None
    expected = promise(
        config.teams["sales"], config.slas["immediate"], MON_EVENING, "get back to you"
    )
    assert (
        notice.promise
        == expected.text
        == (
            "Our team is away right now. A specialist will get back to you first thing tomorrow "
            "at 9:00 (Paris time)."
        )
    )
    # Tuesday 09:00 Paris (08:00 UTC), due 15 working minutes later.
    tuesday_9 = datetime(2026, 11, 24, 8, 0, tzinfo=timezone.utc)
    assert (notice.contact_by, notice.due_at) == (tuesday_9, tuesday_9 + minutes(15))


def test_a_failed_write_leaves_no_new_lead_behind(
    repo: LeadService, planner: HandoffPlanner, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Creating the lead is part of the write: it rolls back with it (SQLite included)."""

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("payload failed")

    monkeypatch.setattr(planner, "payload", broken)
    with pytest.raises(RuntimeError, match="payload failed"):
        repo.apply([chat("new-shopper", "e1", "human_requested", MON)], now=MON)
    assert rows(engine, Lead) == []


def test_the_configured_planner_converts_with_the_shop_rate_table() -> None:
    settings = Settings.from_env({"RATES_PATH": str(RATES_FILE)})
    planner = planner_for(settings)
    assert (planner.currency, planner.rates.rate("RUB")) == ("EUR", Decimal("0.011"))
