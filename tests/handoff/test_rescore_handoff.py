"""A lead that becomes hot in a rescore (time or a new configuration) is handed off too."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine

from bot.catalog import load_catalog
from bot.handoff import HandoffPlanner, load_handoff_config
from bot.handoff.config import Channel
from bot.leads import LeadService
from bot.leads.commands import RecordEvent
from bot.scoring import Scorer, load_scoring_config
from bot.settings import Settings
from tests.handoff import HANDOFF_CONFIG
from tests.scoring import SCORING_CONFIG

# Monday 10:00 UTC: the tests' sales team (Paris) is at work.
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)
SECRET = "whsec_" + "A" * 43 + "="


def step(session: str, kind: str, ts: datetime) -> RecordEvent:
    return RecordEvent(
        session_id=session,
        event_id=f"{session}-{kind}",
        type=kind,
        ts=ts,
        source="storefront",
        product_id="hoodie-classic",
        variant_id="hoodie-classic-blue-m",
    )


def test_rescore_that_makes_a_lead_hot_hands_it_off(engine: Engine, tmp_path: Path) -> None:
    catalog = load_catalog(Settings().catalog_path)
    hook = Channel("hook", "webhook", url="http://127.0.0.1:9/hook", secrets=(SECRET,))
    config = load_handoff_config(HANDOFF_CONFIG).with_channel(hook)
    planner = HandoffPlanner(config, public_url="http://shop.test", signing_key=b"k")
    # Today's configuration asks for more fit than this lead has: it stays warm.
    strict = tmp_path / "strict.yml"
    strict.write_text(
        SCORING_CONFIG.read_text(encoding="utf-8").replace(
            "hot: {min_intent: 45, min_fit: 10}", "hot: {min_intent: 45, min_fit: 40}"
        ),
        encoding="utf-8",
    )
    live = LeadService(engine, Scorer(load_scoring_config(strict), catalog), planner)
    journey = ("variant_select", "add_to_cart", "shipping_check", "checkout_start")
    state = live.apply(
        [step("s1", kind, T0 - timedelta(minutes=5)) for kind in journey], now=T0
    ).leads["s1"]
    # A warm lead adding to cart is a same-day handoff.
    assert state.stage == "warm"
    assert state.handoff is not None and state.handoff.trigger == "cart_add"

    # The tests' default configuration, applied by `rescore --all`, makes it hot.
    rescoring = LeadService(engine, Scorer(load_scoring_config(SCORING_CONFIG), catalog), planner)
    summary = rescoring.rescore_all(T0 + timedelta(minutes=1), everything=True)
    assert summary.stage_changes == 1

    with engine.connect() as connection:
        handoffs = connection.execute(
            text("SELECT trigger, sla, status FROM handoffs WHERE lead_id = :lead"),
            {"lead": state.lead_id},
        ).all()
    # Becoming hot is stronger: the same handoff is upgraded to the one-hour SLA.
    assert [tuple(row) for row in handoffs] == [("became_hot", "within_1h", "open")]
    with engine.connect() as connection:
        payloads = connection.execute(text("SELECT payload FROM outbox ORDER BY id")).scalars()
        actions = [(p if isinstance(p, dict) else json.loads(p))["action"] for p in payloads]
    assert actions == ["created", "upgraded"]

    # Rescoring again changes nothing and hands off nothing more.
    rescoring.rescore_all(T0 + timedelta(minutes=2), everything=True)
    with engine.connect() as connection:
        total = connection.execute(text("SELECT count(*) FROM handoffs")).scalar_one()
    assert total == 1
