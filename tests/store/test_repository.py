"""Lead repository on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from bot.leads import LeadService
from bot.leads.commands import RecordAnswer, RecordEvent, UpdateContact
from bot.store.queries import InvalidCursor, LeadFilters

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)


def _answer(
    session: str, key: str, raw: str, value: object, *, at: datetime, n: int
) -> RecordAnswer:
    return RecordAnswer(
        session_id=session,
        answer_id=f"m{n}:{key}",
        key=key,
        raw=raw,
        value=value,
        status="answered",
        answered_at=at,
    )


def test_answers_normalised_and_exact(engine: Engine) -> None:
    repo = LeadService(engine)
    repo.apply(
        [
            _answer(
                "s1",
                "budget",
                "around 300 bucks",
                {"amount": Decimal("299.99"), "currency": "USD"},
                at=T0,
                n=1,
            ),
            _answer("s1", "timeline", "next week", {"days": 7}, at=T0, n=2),
        ]
    )
    lead = repo.get_lead_by_session("s1")
    assert lead is not None
    assert lead["answers"]["budget"]["value"] == {"amount": Decimal("299.99"), "currency": "USD"}
    assert lead["answers"]["budget"]["raw"] == "around 300 bucks"
    assert lead["answers"]["timeline"]["value"] == {"days": 7}
    assert lead["answers"]["timeline"]["answered_at"] == T0.isoformat()
    assert lead["stage"] == "cold" and lead["status"] == "New"


def test_changed_answer_keeps_history(engine: Engine) -> None:
    repo = LeadService(engine)
    repo.apply(
        [_answer("s1", "budget", "300", {"amount": Decimal("300"), "currency": "EUR"}, at=T0, n=1)]
    )
    later = T0 + timedelta(minutes=2)
    repo.apply(
        [
            _answer(
                "s1",
                "budget",
                "actually 500",
                {"amount": Decimal("500"), "currency": "EUR"},
                at=later,
                n=2,
            )
        ]
    )
    lead = repo.get_lead_by_session("s1")
    assert lead is not None
    assert lead["answers"]["budget"]["value"]["amount"] == Decimal("500")
    history = repo.answer_history(lead["id"], "budget")
    assert [item["raw"] for item in history] == ["300", "actually 500"]


def test_commands_are_idempotent(engine: Engine) -> None:
    repo = LeadService(engine)
    batch = [
        _answer("s1", "timeline", "asap", {"days": 0}, at=T0, n=1),
        RecordEvent(
            session_id="s1",
            event_id="e1",
            type="question_answered",
            ts=T0,
            properties={"key": "timeline"},
        ),
    ]
    repo.apply(batch)
    repo.apply(batch)
    lead = repo.get_lead_by_session("s1")
    assert lead is not None
    assert len(repo.events(lead["id"])) == 1
    assert len(repo.answer_history(lead["id"], "timeline")) == 1


def test_a_write_racing_the_same_ids_counts_them_as_duplicates(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fetch and a beacon carrying the same events, committed one after the other."""
    repo = LeadService(engine)
    batch = [
        RecordEvent(session_id="s1", event_id=f"race-{n}", type="product_view", ts=T0)
        for n in range(3)
    ]
    repo.apply(batch[:2])
    # The racing writer looked before the first one committed: it saw none of the ids.
    looked = []
    real = LeadService._existing

    def stale_once(connection: object, statement: object, ids: list[str]) -> set[str]:
        looked.append(ids)
        return set() if len(looked) == 1 else real(connection, statement, ids)  # type: ignore[arg-type]

    monkeypatch.setattr(LeadService, "_existing", staticmethod(stale_once))
    result = repo.apply(batch)
    assert (result.accepted_events, result.duplicate_events) == (1, 2)
    lead = repo.get_lead_by_session("s1")
    assert lead is not None
    assert sorted(e["event_id"] for e in repo.events(lead["id"])) == ["race-0", "race-1", "race-2"]


def test_failed_batch_writes_nothing(engine: Engine) -> None:
    repo = LeadService(engine)
    bad = RecordEvent(session_id="s1", event_id="x" * 500, type="t", ts=T0)
    good = _answer("s1", "timeline", "asap", {"days": 0}, at=T0, n=1)
    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite does not enforce VARCHAR lengths")
    with pytest.raises(DBAPIError):
        repo.apply([good, bad])
    assert repo.get_lead_by_session("s1") is None


def test_contact_and_flag_events(engine: Engine) -> None:
    repo = LeadService(engine)
    repo.apply(
        [
            UpdateContact(session_id="s1", consent_text="May I save…", consent_at=T0),
            UpdateContact(
                session_id="s1", first_name="Jane", last_name="Doe", email="jane@example.com"
            ),
            RecordEvent(session_id="s1", event_id="h1", type="human_requested", ts=T0),
        ]
    )
    lead = repo.get_lead_by_session("s1")
    assert lead is not None
    assert (lead["first_name"], lead["last_name"], lead["email"]) == (
        "Jane",
        "Doe",
        "jane@example.com",
    )
    assert lead["consent"] == {"given_at": T0.isoformat(), "text": "May I save…"}
    assert lead["human_requested_at"] == T0.isoformat()
    assert lead["phone"] is None


def test_event_value_is_exact_decimal(engine: Engine) -> None:
    repo = LeadService(engine)
    repo.apply(
        [
            RecordEvent(
                session_id="s1", event_id="c1", type="add_to_cart", ts=T0, value=Decimal("0.10")
            )
        ]
    )
    lead = repo.get_lead_by_session("s1")
    assert lead is not None
    assert repo.events(lead["id"])[0]["value"] == Decimal("0.10")


def test_list_filters_and_cursor_pagination(engine: Engine) -> None:
    repo = LeadService(engine)
    for index in range(5):
        repo.apply(
            [RecordEvent(session_id=f"s{index}", event_id=f"e{index}", type="page_view", ts=T0)]
        )
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE leads SET stage = 'hot', score = 80 WHERE session_id = 's3'")
        )
    first = repo.list_leads(LeadFilters(), limit=2)
    assert len(first.items) == 2 and first.next_cursor
    second = repo.list_leads(LeadFilters(), limit=2, cursor=first.next_cursor)
    third = repo.list_leads(LeadFilters(), limit=2, cursor=second.next_cursor)
    seen = [item["session_id"] for page in (first, second, third) for item in page.items]
    assert sorted(seen) == [f"s{i}" for i in range(5)]
    assert third.next_cursor is None
    assert [i["session_id"] for i in repo.list_leads(LeadFilters(stage="hot")).items] == ["s3"]
    assert [i["session_id"] for i in repo.list_leads(LeadFilters(min_score=50)).items] == ["s3"]
    assert [i["session_id"] for i in repo.list_leads(LeadFilters(session_id="s1")).items] == ["s1"]
    with pytest.raises(InvalidCursor):
        repo.list_leads(LeadFilters(), cursor="not-a-cursor")


def test_foreign_keys_cascade(engine: Engine) -> None:
    repo = LeadService(engine)
    repo.apply([_answer("s1", "timeline", "asap", {"days": 0}, at=T0, n=1)])
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM leads"))
        assert connection.execute(text("SELECT count(*) FROM answers")).scalar() == 0


def test_naive_datetimes_are_rejected(engine: Engine) -> None:
    repo = LeadService(engine)
    with pytest.raises(Exception, match="naive datetime"):
        repo.apply([RecordEvent(session_id="s1", event_id="n1", type="t", ts=datetime(2026, 1, 1))])
