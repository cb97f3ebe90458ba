"""The seeded synthetic-history generator and its streaming writer."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from bot.catalog import DEMO_CATALOG, Catalog, load_catalog
from bot.leads import LeadService
from bot.leads.commands import RecordAnswer, RecordEvent
from bot.leads.synthetic import (
    FUNNEL,
    HISTORY_DAYS,
    JOURNEYS,
    SyntheticLead,
    generate,
    write_history,
)
from bot.scoring import Scorer, load_scoring_config
from bot.store.db import create_db_engine
from bot.store.models import Lead, LeadEvent
from tests.scoring import SCORING_CONFIG

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(DEMO_CATALOG)


@pytest.fixture(scope="module")
def leads(catalog: Catalog) -> list[SyntheticLead]:
    return list(generate(3000, seed=11, now=NOW, catalog=catalog))


def _events(lead: SyntheticLead) -> list[RecordEvent]:
    return [command for command in lead.commands if isinstance(command, RecordEvent)]


def _answers(lead: SyntheticLead) -> list[RecordAnswer]:
    return [command for command in lead.commands if isinstance(command, RecordAnswer)]


def _time(command: RecordEvent | RecordAnswer) -> datetime:
    return command.ts if isinstance(command, RecordEvent) else command.answered_at


def test_same_seed_same_leads_and_other_seeds_differ(catalog: Catalog) -> None:
    first = list(generate(300, seed=5, now=NOW, catalog=catalog))
    again = list(generate(300, seed=5, now=NOW, catalog=catalog))
    other = list(generate(300, seed=6, now=NOW, catalog=catalog))
    assert first == again
    assert [lead.session_id for lead in first] != [lead.session_id for lead in other]
    shape = [[(c.type, c.product_id) for c in _events(lead)] for lead in first]
    other_shape = [[(c.type, c.product_id) for c in _events(lead)] for lead in other]
    assert shape != other_shape


def test_generation_is_lazy(catalog: Catalog) -> None:
    taken = list(itertools.islice(generate(10**9, seed=1, now=NOW, catalog=catalog), 3))
    assert len(taken) == 3


def test_rejects_naive_now_and_negative_counts(catalog: Catalog) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next(generate(1, seed=1, now=NOW.replace(tzinfo=None), catalog=catalog))
    with pytest.raises(ValueError, match="negative"):
        next(generate(-1, seed=1, now=NOW, catalog=catalog))


def test_histories_are_well_formed(leads: list[SyntheticLead], catalog: Catalog) -> None:
    event_ids: set[str] = set()
    for lead in leads:
        times = [_time(command) for command in lead.commands]
        assert times == sorted(times), lead.session_id
        assert all(t.tzinfo is not None for t in times)
        assert NOW - timedelta(days=HISTORY_DAYS + 1) < times[0] and times[-1] < NOW
        assert all(command.session_id == lead.session_id for command in lead.commands)
        for event in _events(lead):
            assert event.event_id not in event_ids
            event_ids.add(event.event_id)
            expected = "chat" if event.type in {"chat_message", "shopper_question"} else None
            assert expected is None or event.source == expected
            if event.type in FUNNEL or event.type in {"compare", "purchase"}:
                assert event.source == "storefront"
                # Pages are not products; every other storefront event names one.
                assert (event.type == "page_view") == (event.product_id is None)
                assert event.product_id is None or catalog.product(event.product_id)
        purchases = [event for event in _events(lead) if event.type == "purchase"]
        assert len(purchases) == (1 if lead.purchased else 0)
        assert (lead.status == "Won") == lead.purchased
        if lead.purchased:
            assert purchases[0].ts == lead.purchased_at
            assert isinstance(purchases[0].value, Decimal)
            # Only an order-status visit may follow the purchase.
            after = [c for c in lead.commands if _time(c) > purchases[0].ts]
            assert all(isinstance(c, RecordEvent) and c.type == "page_view" for c in after)


def test_answers_have_the_parsers_shapes(leads: list[SyntheticLead], catalog: Catalog) -> None:
    seen: Counter[str] = Counter()
    for answer in (answer for lead in leads for answer in _answers(lead)):
        seen[answer.key] += 1
        assert answer.status == "answered" and answer.raw
        if answer.key == "timeline":
            assert isinstance(answer.value["days"], int)
        elif answer.key == "budget":
            assert isinstance(answer.value["amount"], Decimal)
            assert answer.value["currency"] == "EUR"
        elif answer.key == "variant":
            assert catalog.variant(answer.value) is not None
        else:
            assert answer.key == "location"
            assert set(answer.value) == {"country", "region", "serviceable"}
    assert set(seen) == {"timeline", "budget", "variant", "location"}


def test_journeys_are_varied(leads: list[SyntheticLead], catalog: Catalog) -> None:
    journeys = Counter(lead.journey for lead in leads)
    assert set(journeys) == set(JOURNEYS)
    assert journeys.most_common(1)[0][0] == "browser"
    answers = [answer for lead in leads for answer in _answers(lead)]
    locations = [a.value for a in answers if a.key == "location"]
    assert any(not place["serviceable"] for place in locations)
    assert {"US", "BR"} <= {place["country"] for place in locations}
    variants = [catalog.variant(a.value) for a in answers if a.key == "variant"]
    assert {found[1].in_stock for found in variants if found is not None} == {True, False}
    budgets = {}
    for lead in leads:
        for answer in _answers(lead):
            if answer.key == "budget":
                budgets[lead.session_id] = answer.value["amount"]
    assert min(budgets.values()) < Decimal(20) and max(budgets.values()) > Decimal(200)
    returning = [
        lead
        for lead in leads
        if len({_time(command).date() for command in lead.commands}) > 1 and not lead.purchased
    ]
    assert len(returning) > len(leads) // 20
    kinds = Counter(event.type for lead in leads for event in _events(lead))
    for kind in (*FUNNEL, "compare", "purchase", "shopper_question", "chat_message"):
        assert kinds[kind] > 0, kind
    assert kinds["human_requested"] > 0 and kinds["qualification_completed"] > 0
    shipping = {
        e.properties["country"]
        for lead in leads
        for e in _events(lead)
        if e.type == "shipping_check"
    }
    assert {"FR", "US", "BR"} <= shipping


def test_outcomes_follow_depth_and_fit_with_noise(leads: list[SyntheticLead]) -> None:
    def rate(group: list[SyntheticLead]) -> float:
        return sum(lead.purchased for lead in group) / len(group)

    shallow = [lead for lead in leads if lead.depth <= FUNNEL.index("variant_select")]
    cart = [lead for lead in leads if lead.depth in (3, 4)]
    checkout = [lead for lead in leads if lead.depth >= FUNNEL.index("checkout_start")]
    assert rate(shallow) < rate(cart) < rate(checkout)
    assert rate(checkout) < 0.8, "most deep journeys must still not buy"
    assert any(lead.purchased for lead in shallow), "some buyers never looked keen"

    def located(serviceable: bool) -> list[SyntheticLead]:
        return [
            lead
            for lead in leads
            if any(
                a.key == "location" and a.value["serviceable"] is serviceable
                for a in _answers(lead)
            )
        ]

    assert rate(located(False)) < rate(located(True))


def _count(engine: Engine, *where: object) -> int:
    with engine.connect() as connection:
        query = select(func.count()).select_from(Lead.__table__)
        return int(connection.execute(query.where(*where)).scalar_one())


def test_write_history_streams_batches_and_is_idempotent(engine: Engine, catalog: Catalog) -> None:
    repository = LeadService(engine, Scorer(load_scoring_config(SCORING_CONFIG), catalog))
    written: list[int] = []
    summary = write_history(
        repository,
        generate(250, seed=2, now=NOW, catalog=catalog),
        batch_size=100,
        now=NOW,
        progress=written.append,
    )
    expected = list(generate(250, seed=2, now=NOW, catalog=catalog))
    assert written == [100, 100, 50]
    assert summary.leads == 250
    assert summary.events == sum(len(_events(lead)) for lead in expected)
    assert summary.purchases == sum(lead.purchased for lead in expected) > 0
    assert _count(engine) == 250
    statuses = Counter(lead.status for lead in expected)
    assert summary.statuses == dict(statuses)
    for status, count in statuses.items():
        assert _count(engine, Lead.__table__.c.status == status) == count
    with engine.connect() as connection:
        purchases = connection.execute(
            select(func.count()).where(LeadEvent.__table__.c.type == "purchase")
        ).scalar_one()
    assert purchases == summary.purchases
    again = write_history(repository, iter(expected), batch_size=1000, now=NOW)
    assert again.events == 0 and again.duplicate_events == summary.events
    assert _count(engine) == 250


def test_write_history_rejects_empty_batches() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        write_history(LeadService(create_db_engine("sqlite://")), [], batch_size=0)
