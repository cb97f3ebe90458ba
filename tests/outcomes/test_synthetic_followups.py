"""The outcome report recovers follow-up lifts planted in a synthetic history.

The history runs through the product's follow-up planner, holdout and outbox
(``bot/leads/synthetic_followups.py``); purchases follow a planted truth, a lift
per play on top of a base rate, so the report's lift of each play must land near
its planted value, and a play that does nothing must show nothing.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from bot.catalog import DEMO_CATALOG, Catalog, load_catalog
from bot.cli import main
from bot.followups import FollowupPlanner, load_followup_config
from bot.followups.zones import shop_zone
from bot.leads import LeadService
from bot.leads.outcomes_report import OutcomeReport, outcome_report
from bot.leads.synthetic import generate
from bot.leads.synthetic_followups import (
    PURCHASE_WITHIN,
    FollowupSummary,
    PlayTruth,
    write_with_followups,
)
from bot.scoring import Scorer, load_scoring_config
from bot.store import writes
from bot.store.db import create_db_engine
from bot.store.models import Lead, Order, OutboxMessage
from tests.scoring import SCORING_CONFIG

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
CONFIG = Path(__file__).with_name("followups.yml")
LEADS = 3000
TRUTH = PlayTruth(
    {
        "checkout_recovery": 0.15,
        "cart_recovery": 0.10,
        "welcome": 0.0,
        "second_look": 0.20,
        "last_call": 0.05,
    },
    base_rate=0.05,
)
# Each 95 % interval misses its planted lift one time in 20: 5 intervals miss 3 or
# more with a chance near 0.1 %, so at most 2 misses are allowed.
MAX_MISSES = 2
# A lead's purchase comes within PURCHASE_WITHIN of its latest follow-up: later
# follow-ups' purchases may not have happened by NOW.
UNTIL = NOW - PURCHASE_WITHIN


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(DEMO_CATALOG)


@pytest.fixture(scope="module")
def planted(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path, catalog: Catalog
) -> Iterator[tuple[Engine, FollowupSummary]]:
    """A synthetic history with the planted truth, run through the test's plays.

    Lead ids come from a seeded stream instead of uuid4, so the holdout (a hash of
    the lead id) and so the report are the same on every run.
    """
    ids = random.Random(5)
    path = tmp_path_factory.mktemp("planted-followups") / "leads.db"
    shutil.copyfile(sqlite_template, path)
    engine = create_db_engine(f"sqlite:///{path}")
    scorer = Scorer(load_scoring_config(SCORING_CONFIG), catalog)
    planner = FollowupPlanner(
        load_followup_config(CONFIG),
        catalog=catalog,
        rates=scorer.rates,
        currency=catalog.currency,
        signing_key=b"k" * 32,
        public_url="http://shop.test",
        shop_zone=shop_zone("Europe/Paris", "FR"),
    )
    leads = generate(LEADS, seed=11, now=NOW, catalog=catalog)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(writes, "new_lead_id", lambda: f"{ids.getrandbits(128):032x}")
        _, summary = write_with_followups(
            LeadService(engine, scorer),
            planner,
            leads,
            TRUTH,
            seed=11,
            now=NOW,
            step=timedelta(hours=6),
        )
    yield engine, summary
    engine.dispose()


@pytest.fixture(scope="module")
def report(planted: tuple[Engine, FollowupSummary], catalog: Catalog) -> OutcomeReport:
    return outcome_report(planted[0], catalog, until=UNTIL, now=NOW)


def test_planted_play_lifts_within_their_intervals(report: OutcomeReport) -> None:
    plays = {row.play: row for row in report.plays}
    assert set(plays) == set(TRUTH.lifts)
    misses = []
    for play, planted in TRUTH.lifts.items():
        row = plays[play]
        # Every lead assigned a play was sent it: by intention to treat or per
        # message sent, the lift is the same here.
        assert row.stopped.leads == row.planned.leads == 0, play
        assert row.sent.leads >= 40 and row.held_out.leads >= 40, play
        interval = row.interval
        assert interval is not None
        if not interval[0] <= planted <= interval[1]:
            misses.append((play, planted, interval))
    assert len(misses) <= MAX_MISSES, misses
    # The play that does nothing shows nothing; the strongest one is found, not just allowed.
    welcome = plays["welcome"].interval
    assert welcome is not None and welcome[0] <= 0 <= welcome[1]
    strongest = plays["second_look"].interval
    assert strongest is not None and strongest[0] > 0.05, strongest
    welcome_lift, strongest_lift = plays["welcome"].lift, plays["second_look"].lift
    assert welcome_lift is not None and strongest_lift is not None
    assert welcome_lift < strongest_lift


def test_sent_follow_ups_went_through_the_outbox_and_buyers_are_won(
    planted: tuple[Engine, FollowupSummary],
) -> None:
    engine, summary = planted
    sent = sum(row.sent for row in summary.plays.values())
    with engine.connect() as connection:
        delivered = connection.execute(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.followup_id.is_not(None), OutboxMessage.status == "delivered")
        ).scalar_one()
        consenting = connection.execute(
            select(func.count()).select_from(Lead).where(Lead.consent_at.is_not(None))
        ).scalar_one()
        # The planted purchases are orders of their leads, now Won.
        bought = connection.execute(
            select(Lead.status, func.count())
            .join(Order, Order.lead_id == Lead.id)
            .where(Order.order_id.like("%-followup-order"))
            .group_by(Lead.status)
        ).all()
    assert delivered == sent > 0
    assert consenting == summary.consents > LEADS // 10
    assert [tuple(row) for row in bought] == [("Won", summary.buyers)]


def test_cli_prints_the_planted_truth_and_names_bad_lifts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'demo.db'}")
    monkeypatch.setenv("FOLLOWUPS_CONFIG", str(CONFIG))
    for name in ("LEADS_API_TOKEN", "STOREFRONT_TOKEN", "SESSION_SECRET", "ACTIONS_TOKEN"):
        monkeypatch.setenv(name, f"test-{name.lower()}")
    assert main(["synthetic", "--leads", "5", "--play-lift", "nowhere=0.1", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "no play nowhere in the follow-up configuration: expected one of " in err
    assert main(["synthetic", "--leads", "5", "--play-lift", "welcome", "--quiet"]) == 2
    assert "expected PLAY=LIFT such as cart_recovery=0.10, got 'welcome'" in capsys.readouterr().err
    assert main(["synthetic", "--leads", "5", "--play-lift", "welcome=0.99", "--quiet"]) == 2
    assert "base rate 0.05 + lift 0.99 must be between 0 and 1" in capsys.readouterr().err
    args = ["synthetic", "--leads", "40", "--seed", "3", "--quiet", "--play-lift", "welcome=0.3"]
    assert main(args) == 0
    out = capsys.readouterr().out
    # The shipped truth for the plays it names, 0 for the others, the given lift for welcome.
    assert (
        "planted follow-up truth: base rate 5.0%; lift per play sent (points): "
        "checkout_recovery +12, cart_recovery +8, welcome +30, second_look +0, last_call +0"
    ) in out
    assert "wrote 40 synthetic lead(s) (seed 3)" in out
    assert "follow-ups: " in out and "shoppers gave consent" in out
