"""Scoring in the lead store: incremental folds, snapshots, stage transitions, rescore, merges."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.engine import Engine

from bot.catalog import DEMO_CATALOG, load_catalog
from bot.leads import LeadService
from bot.leads.book import LeadBook
from bot.leads.commands import Command, RecordAnswer, RecordEvent, UpdateContact
from bot.scoring import LeadFacts, Scorer, ScoreResult, load_scoring_config, score
from bot.store.db import create_db_engine, write_transaction
from bot.store.models import Lead, LeadMerge
from bot.store.queries import LeadFilters
from tests.scoring import SCORING_CONFIG

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)
HOODIE = "hoodie-classic"
BLUE_M = "hoodie-classic-blue-m"  # 59 EUR, in stock


@pytest.fixture(scope="module")
def scorer() -> Scorer:
    return Scorer(load_scoring_config(SCORING_CONFIG), load_catalog(DEMO_CATALOG))


@pytest.fixture
def repo(engine: Engine, scorer: Scorer) -> LeadService:
    return LeadService(engine, scorer)


def shop(
    session: str,
    event_id: str,
    kind: str,
    ts: datetime,
    *,
    variant: str | None = BLUE_M,
    **properties: Any,
) -> RecordEvent:
    return RecordEvent(
        session_id=session,
        event_id=event_id,
        type=kind,
        ts=ts,
        source="storefront",
        product_id=HOODIE,
        variant_id=variant,
        properties=properties,
    )


def answer(session: str, answer_id: str, key: str, value: Any, at: datetime) -> RecordAnswer:
    return RecordAnswer(
        session_id=session,
        answer_id=answer_id,
        key=key,
        raw=str(value),
        value=value,
        status="answered",
        answered_at=at,
    )


def eur(amount: str) -> dict[str, Any]:
    return {"amount": Decimal(amount), "currency": "EUR"}


def lead_row(engine: Engine, lead_id: str) -> Any:
    with engine.connect() as connection:
        return connection.execute(
            select(Lead.__table__).where(Lead.__table__.c.id == lead_id)
        ).one()


def refolded(repo: LeadService, lead_id: str, now: datetime) -> tuple[LeadFacts, ScoreResult]:
    """The lead's facts rebuilt from its stored history, and their score at ``now``."""
    assert repo.scorer is not None
    with repo.engine.connect() as connection:
        facts = LeadService.load_facts(connection, lead_id)
    return facts, score(facts, repo.scorer.config, repo.scorer.catalog, now)


def assert_stored_score_is(engine: Engine, lead_id: str, result: ScoreResult) -> None:
    row = lead_row(engine, lead_id)
    assert (row.score, row.intent_score, row.fit_score, row.stage) == (
        result.score,
        result.intent_score,
        result.fit_score,
        result.stage,
    )
    assert row.reasons == result.reasons_json()


def count(engine: Engine, table: str, lead_id: str) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                text(f"SELECT count(*) FROM {table} WHERE lead_id = :lead"),
                {"lead": lead_id},
            ).scalar_one()
        )


# --- incremental scoring equals a full refold ---------------------------------------------------

KINDS = [
    "page_view",
    "product_view",
    "variant_select",
    "compare",
    "add_to_cart",
    "shipping_check",
    "checkout_start",
    "payment_info",
    "purchase",
    "email_click",
]
CHAT = ["shopper_question", "human_requested", "qualification_completed", "chat_message"]


def random_batches(
    rng: random.Random, sessions: list[str], rounds: int
) -> list[tuple[datetime, list[Command]]]:
    """Batches of storefront and chat events (out of order, some re-sent) and answers."""
    catalog = load_catalog(DEMO_CATALOG)
    variants = [(product.id, variant.id) for product, variant in catalog.all_variants()]
    batches: list[tuple[datetime, list[Command]]] = []
    sent: list[RecordEvent] = []
    used_times: set[datetime] = set()
    now = T0
    serial = 0
    for _ in range(rounds):
        now += timedelta(minutes=rng.choice([1, 7, 45, 180, 60 * 24, 60 * 24 * 5]))
        commands: list[Command] = []
        for _ in range(rng.randint(1, 8)):
            serial += 1
            session = rng.choice(sessions)
            roll = rng.random()
            if roll < 0.1 and sent:
                commands.append(rng.choice(sent))  # a re-sent event (duplicate)
                continue
            if roll < 0.3:
                key = rng.choice(["budget", "location", "variant", "timeline", "name"])
                value: Any = {
                    "budget": eur(str(rng.choice([15, 40, 50, 59, 200]))),
                    "location": {"country": rng.choice(["FR", "US", "NO"]), "region": None},
                    "variant": rng.choice(variants)[1],
                    "timeline": {"days": rng.choice([0, 7, 20, 60, 120])},
                    "name": {"first_name": "Jane"},
                }[key]
                # Answers come in order: each one is given at the time of its batch.
                commands.append(answer(session, f"a{serial}", key, value, now))
                continue
            # Events up to 10 days old (storefront batches arrive late and out of order),
            # never two at the same instant (ties have no order to agree on).
            ts = now - timedelta(seconds=rng.randint(0, 10 * 86_400))
            while ts in used_times:
                ts -= timedelta(seconds=1)
            used_times.add(ts)
            product, variant = rng.choice(variants)
            if roll < 0.8:
                kind = rng.choice(KINDS)
                properties = (
                    {"country": rng.choice(["fr", "US", "GB"])} if kind == "shipping_check" else {}
                )
                event = RecordEvent(
                    session_id=session,
                    event_id=f"e{serial}",
                    type=kind,
                    ts=ts,
                    source="storefront",
                    product_id=product,
                    variant_id=variant if rng.random() < 0.7 else None,
                    properties=properties,
                )
            else:
                kind = rng.choice(CHAT)
                properties = {}
                if kind == "shopper_question":
                    properties = {"topic": rng.choice(["price", "stock", "shipping", "colour"])}
                elif kind == "chat_message":
                    properties = {"sender": rng.choice(["user", "bot"])}
                event = RecordEvent(
                    session_id=session,
                    event_id=f"c{serial}",
                    type=kind,
                    ts=ts,
                    properties=properties,
                )
            commands.append(event)
            sent.append(event)
        batches.append((now, commands))
    return batches


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_incremental_score_equals_full_refold(repo: LeadService, seed: int) -> None:
    rng = random.Random(seed)
    sessions = [f"s{index}" for index in range(4)]
    for now, commands in random_batches(rng, sessions, rounds=40):
        result = repo.apply(commands, now=now)
        for session in {command.session_id for command in commands}:
            state = result.leads[session]
            facts, expected = refolded(repo, state.lead_id, now)
            assert state.score == expected.score
            assert state.stage == expected.stage
            assert_stored_score_is(repo.engine, state.lead_id, expected)
            stored = LeadFacts.from_json(lead_row(repo.engine, state.lead_id).score_facts)
            assert (stored.signals, stored.counts, stored.activity) == (
                facts.signals,
                facts.counts,
                facts.activity,
            )
            assert (stored.variant, stored.product, stored.country) == (
                facts.variant,
                facts.product,
                facts.country,
            )
            assert state.counts == facts.counts
    # Every lead was written many times: the comparison covered real histories.
    leads = repo.list_leads(LeadFilters()).items
    assert len(leads) == len(sessions)
    assert sum(len(repo.events(lead["id"])) for lead in leads) > 40


def test_late_older_answer_keeps_answers_and_score_in_agreement(repo: LeadService) -> None:
    # A newer answer is written first, then an older one for the same question arrives late
    # (e.g. replayed from another process's spool). The lead's current answer, its score
    # and a full refold must all agree on which answer counts.
    repo.apply([shop("s1", "e1", "variant_select", T0)], now=T0)
    repo.apply(
        [
            answer(
                "s1", "new", "location", {"country": "FR", "region": None}, T0 + timedelta(hours=2)
            )
        ],
        now=T0 + timedelta(hours=2),
    )
    now = T0 + timedelta(hours=3)
    result = repo.apply(
        [
            answer(
                "s1", "old", "location", {"country": "US", "region": None}, T0 + timedelta(hours=1)
            )
        ],
        now=now,
    )
    lead_id = result.leads["s1"].lead_id
    _, expected = refolded(repo, lead_id, now)
    lead = repo.get_lead(lead_id)
    assert lead is not None
    assert lead["score"] == expected.score
    current = lead["answers"]["location"]["value"]["country"]
    location = [reason for reason in lead["reasons"] if reason["rule"] == "fit.location"]
    assert location and current in location[0]["detail"]


# --- duplicates ---------------------------------------------------------------------------------


def test_duplicate_events_are_not_counted_twice(repo: LeadService) -> None:
    batch: list[Command] = [
        shop("s1", "e1", "add_to_cart", T0),
        shop("s1", "e2", "variant_select", T0 - timedelta(minutes=1)),
        RecordEvent(
            session_id="s1",
            event_id="q1",
            type="shopper_question",
            ts=T0,
            properties={"topic": "price"},
        ),
    ]
    first = repo.apply(batch, now=T0)
    assert (first.accepted_events, first.duplicate_events) == (3, 0)
    state = first.leads["s1"]
    # add_to_cart 12 + variant_select 5 (1 minute old) + asked_price 6 = 23; in stock +10.
    assert state.score == 33
    facts_before = lead_row(repo.engine, state.lead_id).score_facts
    snapshots_before = count(repo.engine, "score_snapshots", state.lead_id)

    replay = repo.apply(batch, now=T0)
    assert (replay.accepted_events, replay.duplicate_events) == (0, 3)
    assert replay.leads["s1"].score == 33
    assert replay.leads["s1"].counts == {"add_to_cart": 1, "variant_select": 1, "asked_price": 1}
    assert lead_row(repo.engine, state.lead_id).score_facts == facts_before
    assert count(repo.engine, "score_snapshots", state.lead_id) == snapshots_before
    shopper_events = [e for e in repo.events(state.lead_id) if e["source"] != "system"]
    assert sorted(e["event_id"] for e in shopper_events) == ["e1", "e2", "q1"]
    # The lead turned warm once (first write), not again on the replay.
    assert len(repo.events(state.lead_id, types=["stage_changed"])) == 1


def test_duplicate_within_one_batch(repo: LeadService) -> None:
    event = shop("s1", "e1", "add_to_cart", T0)
    result = repo.apply([event, event], now=T0)
    assert (result.accepted_events, result.duplicate_events) == (1, 1)
    assert result.leads["s1"].counts == {"add_to_cart": 1}
    # One cart add (12), not two (24); variant in stock +10.
    assert result.leads["s1"].score == 22


# --- snapshots and stage transitions --------------------------------------------------------------


def test_snapshot_only_when_the_score_changes(repo: LeadService) -> None:
    first = repo.apply([shop("s1", "e1", "page_view", T0, variant=None)], now=T0)
    lead_id = first.leads["s1"].lead_id
    history = repo.score_history(lead_id)
    assert [(s["score"], s["cause"]) for s in history["snapshots"]] == [(1, "storefront page_view")]
    assert history["snapshots"][0]["reasons"][0]["rule"] == "intent.page_view"

    # An unscored answer and a re-sent event at the same time: nothing changes, no snapshot.
    repo.apply([answer("s1", "n1", "name", {"first_name": "Jane"}, T0)], now=T0)
    repo.apply([shop("s1", "e1", "page_view", T0, variant=None)], now=T0)
    assert len(repo.score_history(lead_id)["snapshots"]) == 1

    # A product view changes the score: a second snapshot with its cause.
    repo.apply([shop("s1", "e2", "product_view", T0, variant=None)], now=T0)
    snapshots = repo.score_history(lead_id)["snapshots"]
    assert [(s["score"], s["cause"]) for s in snapshots] == [
        (1, "storefront page_view"),
        (4, "storefront product_view"),
    ]
    assert snapshots[1]["intent_score"] == 4 and snapshots[1]["fit_score"] == 0


def test_stage_transitions_and_events(repo: LeadService) -> None:
    warm = repo.apply(
        [
            shop("s1", "e1", "add_to_cart", T0),
            shop("s1", "e2", "variant_select", T0),
        ],
        now=T0,
    )
    state = warm.leads["s1"]
    # Intent 12 + 5 = 17 >= 15, fit +10 (in stock): warm.
    assert (state.previous_stage, state.stage, state.score) == ("cold", "warm", 27)
    assert not state.became_hot

    t1 = T0 + timedelta(minutes=5)
    hot = repo.apply(
        [shop("s1", "e3", "checkout_start", t1), shop("s1", "e4", "payment_info", t1)], now=t1
    )
    state = hot.leads["s1"]
    assert (state.previous_stage, state.stage) == ("warm", "hot")
    assert state.became_hot

    # Nothing new at the same stage: no transition.
    t2 = t1 + timedelta(minutes=1)
    again = repo.apply([answer("s1", "n1", "name", {"first_name": "Jo"}, t2)], now=t2)
    assert (again.leads["s1"].previous_stage, again.leads["s1"].stage) == ("hot", "hot")
    assert not again.leads["s1"].became_hot

    lead_id = state.lead_id
    transitions = repo.score_history(lead_id)["stage_transitions"]
    assert [(t["from"], t["to"], t["cause"], t["at"]) for t in transitions] == [
        ("cold", "warm", "storefront add_to_cart, storefront variant_select", T0.isoformat()),
        ("warm", "hot", "storefront checkout_start, storefront payment_info", t1.isoformat()),
    ]
    assert transitions[1]["score"] == hot.leads["s1"].score
    events = repo.events(lead_id, types=["stage_changed"])
    assert [event["properties"] for event in events] == [
        {
            "from": "cold",
            "to": "warm",
            "score": 27,
            "cause": "storefront add_to_cart, storefront variant_select",
        },
        {
            "from": "warm",
            "to": "hot",
            "score": hot.leads["s1"].score,
            "cause": "storefront checkout_start, storefront payment_info",
        },
    ]
    assert all(event["source"] == "system" for event in events)
    lead = repo.get_lead(lead_id)
    assert lead is not None and lead["stage"] == "hot"
    assert lead_row(repo.engine, lead_id).stage_changed_at == t1


def test_answer_that_blocks_fit_drops_the_stage(repo: LeadService) -> None:
    repo.apply(
        [shop("s1", "e1", "checkout_start", T0), shop("s1", "e2", "payment_info", T0)], now=T0
    )
    t1 = T0 + timedelta(minutes=1)
    result = repo.apply(
        [answer("s1", "a1", "location", {"country": "US", "region": None}, t1)], now=t1
    )
    state = result.leads["s1"]
    # The hoodie does not ship to the US: fit 10 - 40 < 0, so not even warm.
    assert (state.previous_stage, state.stage) == ("hot", "cold")
    transitions = repo.score_history(state.lead_id)["stage_transitions"]
    assert (transitions[-1]["from"], transitions[-1]["to"], transitions[-1]["cause"]) == (
        "hot",
        "cold",
        "answer location",
    )


# --- rescore_all ----------------------------------------------------------------------------------


def test_rescore_decays_and_is_idempotent(repo: LeadService) -> None:
    hot = repo.apply(
        [
            shop("hot", "h1", "add_to_cart", T0),
            shop("hot", "h2", "checkout_start", T0),
            shop("hot", "h3", "payment_info", T0),
        ],
        now=T0,
    ).leads["hot"]
    warm = repo.apply(
        [shop("warm", "w1", "add_to_cart", T0), shop("warm", "w2", "variant_select", T0)],
        now=T0,
    ).leads["warm"]
    assert (hot.stage, warm.stage) == ("hot", "warm")

    later = T0 + timedelta(days=10)
    summary = repo.rescore_all(later)
    assert (summary.leads, summary.changed, summary.stage_changes) == (2, 2, 2)
    for state in (hot, warm):
        _, expected = refolded(repo, state.lead_id, later)
        assert expected.stage == "cold"
        assert_stored_score_is(repo.engine, state.lead_id, expected)
        history = repo.score_history(state.lead_id)
        last = history["stage_transitions"][-1]
        assert (last["from"], last["to"], last["cause"], last["at"]) == (
            state.stage,
            "cold",
            "rescore",
            later.isoformat(),
        )
        assert history["snapshots"][-1]["cause"] == "rescore"
        assert repo.events(state.lead_id, types=["stage_changed"])[-1]["properties"]["cause"] == (
            "rescore"
        )
        assert lead_row(repo.engine, state.lead_id).scored_at == later
    hot_row = lead_row(repo.engine, hot.lead_id)
    assert 0 < hot_row.score < hot.score

    snapshots = {s.lead_id: count(repo.engine, "score_snapshots", s.lead_id) for s in (hot, warm)}
    transitions = {
        s.lead_id: count(repo.engine, "stage_transitions", s.lead_id) for s in (hot, warm)
    }
    second = repo.rescore_all(later)
    assert (second.leads, second.changed, second.stage_changes) == (2, 0, 0)
    for state in (hot, warm):
        assert count(repo.engine, "score_snapshots", state.lead_id) == snapshots[state.lead_id]
        assert (
            count(repo.engine, "stage_transitions", state.lead_id) == (transitions[state.lead_id])
        )


def test_rescore_with_custom_cause(repo: LeadService) -> None:
    lead = repo.apply(
        [shop("s1", "e1", "add_to_cart", T0), shop("s1", "e2", "variant_select", T0)], now=T0
    ).leads["s1"]
    assert lead.stage == "warm"
    summary = repo.rescore_all(T0 + timedelta(days=5), cause="config v2")
    assert (summary.changed, summary.stage_changes) == (1, 1)
    history = repo.score_history(lead.lead_id)
    assert history["snapshots"][-1]["cause"] == "config v2"
    assert (history["stage_transitions"][-1]["to"], history["stage_transitions"][-1]["cause"]) == (
        "cold",
        "config v2",
    )


def test_rescore_decay_without_stage_change_updates_the_lead_only(repo: LeadService) -> None:
    # A rescore that only moves points updates the lead (score, reasons) but keeps no
    # snapshot: history grows with events, not with rescore runs.
    lead = repo.apply([shop("s1", "e1", "add_to_cart", T0)], now=T0).leads["s1"]
    assert (lead.stage, lead.score) == ("cold", 22)
    later = T0 + timedelta(days=5)
    summary = repo.rescore_all(later)
    assert (summary.leads, summary.changed, summary.stage_changes) == (1, 1, 0)
    _, expected = refolded(repo, lead.lead_id, later)
    assert expected.score == 16  # 12 halved to 6, in stock +10
    assert_stored_score_is(repo.engine, lead.lead_id, expected)
    history = repo.score_history(lead.lead_id)
    assert [s["cause"] for s in history["snapshots"]] == ["storefront add_to_cart"]
    assert history["stage_transitions"] == []


def test_rescore_in_batches(repo: LeadService) -> None:
    for index in range(7):
        commands: list[Command] = [shop(f"s{index}", f"a{index}", "add_to_cart", T0)]
        if index < 3:  # three warm leads: 12 + 5 intent
            commands.append(shop(f"s{index}", f"v{index}", "variant_select", T0))
        repo.apply(commands, now=T0)
    progress: list[int] = []
    summary = repo.rescore_all(T0 + timedelta(days=5), batch_size=3, progress=progress.append)
    assert progress == [3, 3, 1]
    assert (summary.leads, summary.changed, summary.stage_changes) == (7, 7, 3)
    stages = [lead["stage"] for lead in repo.list_leads(LeadFilters()).items]
    assert stages == ["cold"] * 7
    # One full batch, then an empty read ends the run.
    progress.clear()
    summary = repo.rescore_all(T0 + timedelta(days=6), batch_size=7, progress=progress.append)
    assert progress == [7]
    assert summary.leads == 7


def test_rescore_without_leads(repo: LeadService) -> None:
    progress: list[int] = []
    summary = repo.rescore_all(T0, batch_size=2, progress=progress.append)
    assert (summary.leads, summary.changed, summary.stage_changes) == (0, 0, 0)
    assert progress == []


def test_rescore_needs_a_scorer(engine: Engine) -> None:
    with pytest.raises(RuntimeError, match="scorer"):
        LeadService(engine).rescore_all(T0)


def test_rescore_rebuilds_missing_facts_from_history(repo: LeadService) -> None:
    state = repo.apply(
        [
            shop("s1", "e1", "add_to_cart", T0),
            shop("s1", "e2", "shipping_check", T0, country="DE"),
            answer("s1", "a1", "budget", eur("100"), T0),
            answer("s1", "a2", "timeline", {"days": 3}, T0),
        ],
        now=T0,
    ).leads["s1"]
    original = lead_row(repo.engine, state.lead_id)
    assert original.stage == "warm"
    leads = Lead.__table__
    with repo.engine.begin() as connection:
        connection.execute(
            update(leads)
            .where(leads.c.id == state.lead_id)
            .values(
                score_facts=None, score=0, intent_score=0, fit_score=0, stage="cold", reasons=[]
            )
        )
    # A minute later (no signal moves by a point in a minute).
    later = T0 + timedelta(minutes=1)
    summary = repo.rescore_all(later)
    assert (summary.leads, summary.changed, summary.stage_changes) == (1, 1, 1)
    rebuilt = lead_row(repo.engine, state.lead_id)
    assert rebuilt.score_facts is not None
    facts, expected = refolded(repo, state.lead_id, later)
    assert LeadFacts.from_json(rebuilt.score_facts) == facts
    assert (rebuilt.score, rebuilt.intent_score, rebuilt.fit_score, rebuilt.stage) == (
        original.score,
        original.intent_score,
        original.fit_score,
        original.stage,
    )
    assert rebuilt.reasons == original.reasons == expected.reasons_json()


def test_write_after_missing_facts_refolds(repo: LeadService) -> None:
    lead_id = repo.apply([shop("s1", "e1", "add_to_cart", T0)], now=T0).leads["s1"].lead_id
    with repo.engine.begin() as connection:
        connection.execute(
            update(Lead.__table__).where(Lead.__table__.c.id == lead_id).values(score_facts=None)
        )
    state = repo.apply([shop("s1", "e2", "variant_select", T0)], now=T0).leads["s1"]
    # Both events count: the cart add was rebuilt from history, not lost with the facts.
    assert state.counts == {"add_to_cart": 1, "variant_select": 1}
    assert state.score == 12 + 5 + 10


# --- merges (a person's decision; the chat only links leads with the same e-mail) ---------------


def merge(repo: LeadService, survivor: str, absorbed: str, now: datetime) -> None:
    LeadBook(repo).merge(survivor, absorbed, by="sales", now=now)


def test_confirmed_merge_rescores_with_both_histories(repo: LeadService, engine: Engine) -> None:
    # Session "a" (earlier): a cart add, a budget that covers the hoodie, an email.
    first = repo.apply(
        [
            shop("a", "a1", "add_to_cart", T0),
            answer("a", "a-budget", "budget", eur("100"), T0),
            answer("a", "a-time", "timeline", {"days": 5}, T0),
            UpdateContact(session_id="a", first_name="Jane", email="Jane@Example.com"),
        ],
        now=T0,
    )
    survivor = first.leads["a"].lead_id
    t1 = T0 + timedelta(hours=1)
    second = repo.apply(
        [
            shop("b", "b1", "checkout_start", t1),
            answer("b", "b-budget", "budget", eur("20"), t1),
        ],
        now=t1,
    )
    absorbed = second.leads["b"].lead_id
    assert absorbed != survivor
    assert len(repo.list_leads(LeadFilters()).items) == 2

    t2 = t1 + timedelta(minutes=1)
    repo.apply(
        [UpdateContact(session_id="b", email="jane@EXAMPLE.com", phone="+33612345678")], now=t2
    )
    merge(repo, survivor, absorbed, t2)
    # The later session resolves to the earlier lead, rescored with both histories.
    state = repo.lead_state("b")
    assert state is not None and state.lead_id == survivor
    assert state.counts == {"add_to_cart": 1, "checkout_start": 1}
    _, expected = refolded(repo, survivor, t2)
    assert state.score == expected.score
    assert_stored_score_is(engine, survivor, expected)
    rules = {reason["rule"]: reason for reason in expected.reasons_json()}
    assert {"intent.add_to_cart", "intent.checkout_start"} <= set(rules)
    # The newer budget answer (20, from session b) wins: far below the 59 EUR hoodie.
    assert rules["fit.budget"]["points"] == -20
    assert rules["fit.timeline"]["points"] == 20

    lead = repo.get_lead(survivor)
    assert lead is not None
    assert lead["answers"]["budget"]["value"]["amount"] == Decimal("20")
    assert lead["answers"]["timeline"]["value"] == {"days": 5}
    assert lead["email"] == "Jane@Example.com"
    assert lead["phone"] == "+33612345678"  # filled in from the absorbed lead
    assert [a["value"]["amount"] for a in repo.answer_history(survivor, "budget")] == [
        Decimal("100"),
        Decimal("20"),
    ]
    assert {e["event_id"] for e in repo.events(survivor)} >= {"a1", "b1", f"merge:{absorbed}"}
    (merge_event,) = repo.events(survivor, types=["lead_merged"])
    assert merge_event["properties"] == {
        "absorbed_id": absorbed,
        "reason": "same person, confirmed",
        "by": "sales",
    }
    assert repo.events(absorbed) == []
    assert count(engine, "answers", absorbed) == 0
    assert count(engine, "score_snapshots", absorbed) == 0
    assert count(engine, "stage_transitions", absorbed) == 0
    # The absorbed lead's snapshots moved to the survivor.
    causes = [s["cause"] for s in repo.score_history(survivor)["snapshots"]]
    assert "storefront checkout_start, answer budget" in causes
    assert causes[-1] == "merge"

    # The absorbed lead keeps its row, pointing at the survivor, and leaves the list.
    row = lead_row(engine, absorbed)
    assert row.merged_into == survivor
    assert row.score_facts is None and row.email is None
    listed = [item["id"] for item in repo.list_leads(LeadFilters()).items]
    assert listed == [survivor]
    found = repo.get_lead(absorbed)
    assert found is not None and found["id"] == survivor
    by_session = repo.get_lead_by_session("b")
    assert by_session is not None and by_session["id"] == survivor
    with engine.connect() as connection:
        merges = connection.execute(select(LeadMerge.__table__)).all()
    assert [(m.survivor_id, m.absorbed_id, m.absorbed_session_id, m.merged_by) for m in merges] == [
        (survivor, absorbed, "b", "sales")
    ]

    # Later writes of session b go to the survivor.
    t3 = t2 + timedelta(minutes=1)
    later = repo.apply([shop("b", "b2", "payment_info", t3)], now=t3)
    assert later.leads["b"].lead_id == survivor
    assert later.leads["b"].counts == {"add_to_cart": 1, "checkout_start": 1, "payment_info": 1}
    assert "b2" in {e["event_id"] for e in repo.events(survivor)}
    lead_state = repo.lead_state("b")
    assert lead_state is not None and lead_state.lead_id == survivor
    _, expected = refolded(repo, survivor, t3)
    assert_stored_score_is(engine, survivor, expected)
    # A full rescore skips the absorbed lead.
    assert repo.rescore_all(t3).leads == 1


def test_merge_fills_missing_contact_fields(repo: LeadService, engine: Engine) -> None:
    repo.apply([UpdateContact(session_id="a", email="x@example.com")], now=T0)
    t1 = T0 + timedelta(minutes=1)
    repo.apply(
        [
            UpdateContact(session_id="b", first_name="Max", phone="+4915112345678"),
            RecordEvent(session_id="b", event_id="h1", type="human_requested", ts=t1),
        ],
        now=t1,
    )
    t2 = t1 + timedelta(minutes=1)
    absorbed = repo.apply([UpdateContact(session_id="b", email="X@example.com")], now=t2).leads["b"]
    survivor = repo.lead_state("a")
    assert survivor is not None
    merge(repo, survivor.lead_id, absorbed.lead_id, t2)
    state = repo.lead_state("b")
    assert state is not None
    lead = repo.get_lead(state.lead_id)
    assert lead is not None and lead["session_id"] == "a"
    assert (lead["first_name"], lead["phone"]) == ("Max", "+4915112345678")
    assert lead["human_requested_at"] == t1.isoformat()
    assert state.counts == {"human_requested": 1}
    assert state.score == 20


def test_same_email_in_one_session_is_no_merge(repo: LeadService, engine: Engine) -> None:
    repo.apply([UpdateContact(session_id="a", email="x@example.com")], now=T0)
    result = repo.apply([UpdateContact(session_id="a", email="X@example.com")], now=T0)
    assert len(repo.list_leads(LeadFilters()).items) == 1
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(LeadMerge)).scalar_one() == 0
    assert result.leads["a"].lead_id == repo.list_leads(LeadFilters()).items[0]["id"]


def test_different_emails_do_not_merge(repo: LeadService) -> None:
    repo.apply([UpdateContact(session_id="a", email="x@example.com")], now=T0)
    repo.apply([UpdateContact(session_id="b", email="y@example.com")], now=T0)
    assert len(repo.list_leads(LeadFilters()).items) == 2


def test_decay_rescore_skips_leads_whose_score_cannot_change(repo: LeadService) -> None:
    # "fit" only: in stock, deliverable, no timeline: nothing left to decay once intent is 0.
    lead_id = (
        repo.apply(
            [
                shop("fit", "f1", "product_view", T0),
                answer("fit", "f2", "location", {"country": "FR", "region": None}, T0),
            ],
            now=T0,
        )
        .leads["fit"]
        .lead_id
    )
    assert lead_row(repo.engine, lead_id).decaying  # the product view still counts
    month = T0 + timedelta(days=30)
    first = repo.rescore_all(month)
    assert (first.leads, first.changed) == (1, 1)
    row = lead_row(repo.engine, lead_id)
    assert (row.intent_score, row.decaying) == (0, False)

    # A decay run no longer reads it; a full run does, and finds the same score.
    assert repo.rescore_all(month + timedelta(days=30)).leads == 0
    everything = repo.rescore_all(month + timedelta(days=30), everything=True)
    assert (everything.leads, everything.changed) == (1, 0)

    # New activity makes it decay again.
    repo.apply([shop("fit", "f3", "add_to_cart", month)], now=month)
    assert lead_row(repo.engine, lead_id).decaying
    assert repo.rescore_all(month + timedelta(days=1)).leads == 1


def test_live_timeline_keeps_a_lead_decaying(repo: LeadService) -> None:
    lead_id = (
        repo.apply([answer("t", "t1", "timeline", {"days": 60}, T0)], now=T0).leads["t"].lead_id
    )
    row = lead_row(repo.engine, lead_id)
    # No intent, but the purchase date is getting closer: the score will still move.
    assert (row.intent_score, row.decaying) == (0, True)
    repo.rescore_all(T0 + timedelta(days=40))
    assert lead_row(repo.engine, lead_id).fit_score > row.fit_score


def test_rescore_keeps_the_score_of_a_lead_written_meanwhile(
    repo: LeadService, scorer: Scorer, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if repo.engine.dialect.name == "postgresql":
        pytest.skip("PostgreSQL locks the batch's rows: a writer waits for the rescore instead")
    lead_id = repo.apply([shop("busy", "b1", "add_to_cart", T0)], now=T0).leads["busy"].lead_id
    later = T0 + timedelta(days=5)
    # The shop writes from another process: its own engine on the same database.
    shop_engine = create_db_engine(database_url)
    shop_repo = LeadService(shop_engine, scorer)

    class WriterCommitsMeanwhile:
        """Scores like the real scorer; on the rescore's first call, the shop writes."""

        def __init__(self) -> None:
            self.config, self.catalog, self.fired = scorer.config, scorer.catalog, False

        def score(self, facts: LeadFacts, now: datetime) -> ScoreResult:
            if not self.fired:
                self.fired = True
                shop_repo.apply([shop("busy", "b2", "checkout_start", later)], now=later)
            return scorer.score(facts, now)

    monkeypatch.setattr(repo, "scorer", WriterCommitsMeanwhile())
    try:
        summary = repo.rescore_all(later)
    finally:
        shop_engine.dispose()
    assert (summary.changed, summary.stage_changes) == (0, 0)
    _, expected = refolded(repo, lead_id, later)
    # The writer's score (with the checkout start) stands; the stale rescore was dropped.
    assert_stored_score_is(repo.engine, lead_id, expected)
    assert "intent.checkout_start" in {r["rule"] for r in lead_row(repo.engine, lead_id).reasons}


def test_leads_carry_the_reporting_label_of_their_stage(repo: LeadService) -> None:
    hot = repo.apply(
        [
            shop("h", "h1", "add_to_cart", T0),
            shop("h", "h2", "checkout_start", T0),
            shop("h", "h3", "payment_info", T0),
        ],
        now=T0,
    ).leads["h"]
    warm = repo.apply([shop("w", "w1", "add_to_cart", T0), shop("w", "w2", "compare", T0)], now=T0)
    cold = repo.apply([shop("c", "c1", "page_view", T0)], now=T0)
    labels = {
        lead["session_id"]: (lead["stage"], lead["qualification"])
        for lead in repo.list_leads(LeadFilters()).items
    }
    # The tests' scoring.yml reports hot as SQL, warm as MQL and cold as nothing.
    assert labels == {"h": ("hot", "SQL"), "w": ("warm", "MQL"), "c": ("cold", None)}
    assert repo.get_lead(hot.lead_id)["qualification"] == "SQL"  # type: ignore[index]
    assert warm.leads["w"].stage == "warm" and cold.leads["c"].stage == "cold"


def test_without_a_scorer_leads_have_no_label(engine: Engine) -> None:
    plain = LeadService(engine)
    plain.apply([shop("p", "p1", "checkout_start", T0)], now=T0)
    assert plain.get_lead_by_session("p")["qualification"] is None  # type: ignore[index]


def test_a_nested_write_transaction_is_refused_rather_than_waiting_forever(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("only SQLite writers queue on a per-process lock")
    with (
        write_transaction(engine),
        pytest.raises(RuntimeError, match="already open"),
        write_transaction(engine),
    ):
        pass
    # The refusal left nothing held: the next writer gets in.
    with write_transaction(engine) as connection:
        assert connection.execute(text("SELECT 1")).scalar() == 1


def test_a_lead_that_was_hot_stays_a_qualified_lead_after_cooling(repo: LeadService) -> None:
    hot = repo.apply(
        [
            shop("q", "q1", "add_to_cart", T0),
            shop("q", "q2", "checkout_start", T0),
            shop("q", "q3", "payment_info", T0),
        ],
        now=T0,
    ).leads["q"]
    assert repo.get_lead(hot.lead_id)["lifecycle"] == "qualified_lead"  # type: ignore[index]
    repo.rescore_all(T0 + timedelta(days=90))
    cooled = repo.get_lead(hot.lead_id)
    assert cooled is not None and cooled["stage"] != "hot"
    assert cooled["lifecycle"] == "qualified_lead"
