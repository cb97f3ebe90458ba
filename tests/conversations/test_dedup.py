"""One event, one row: a redelivery and a ``rasa export`` replay of it are stored once.

The events come from Rasa itself: its SQL tracker store publishing a turn (the live
path) and its exporter re-reading the stored tracker (the replay path).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from bot.conversations.keys import NotAnEvent, from_body, from_dict
from bot.conversations.repository import ConversationEvents, DeadLetter
from bot.store.tracker import ConversationStore
from tests.conversations.rasa_paths import exported, live_turns, shopper_turn

NOW_ISO = "2026-12-07T12:00:00+00:00"


def parsed(bodies: list[dict]) -> list:
    return [from_body(json.dumps(body)) for body in bodies]


async def test_the_live_body_the_export_body_and_the_tracker_row_have_one_key(
    tmp_path: Path,
) -> None:
    path = tmp_path / "tracker.db"
    live = await live_turns(path, {"shopper-1": [shopper_turn(1), shopper_turn(2)]})
    replay = await exported(path)
    rows = list(ConversationStore(f"sqlite:///{path}").events_between(0, 1e12))

    live_keys = [event.dedup_key for event in parsed(live.published)]
    replay_keys = [event.dedup_key for event in parsed(replay.published)]
    row_keys = [from_dict(json.loads(row.data), sender_id=row.sender_id).dedup_key for row in rows]
    # The first tracker of a conversation starts with action_listen: 1 + 2 turns of 5.
    assert len(live_keys) == 11
    assert len(set(live_keys)) == 11
    # rasa export sends them in timestamp order, the tracker store in the order it saved.
    assert sorted(replay_keys) == sorted(live_keys) == sorted(row_keys)
    # rasa export marks its messages with a header, never in the body.
    assert all(headers is None for headers in replay.headers)


@pytest.mark.parametrize("kind", ["redelivery", "export replay", "both"])
async def test_events_delivered_twice_are_stored_once(
    kind: str, engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "tracker.db"
    live = await live_turns(
        path,
        {
            "shopper-1": [shopper_turn(1), shopper_turn(2, "nlu_fallback", 0.2)],
            "shopper-2": [shopper_turn(3)],
        },
    )
    store = ConversationEvents(engine)
    now = _now()
    first = store.write(parsed(live.published), now=now)
    again = []
    if kind in ("redelivery", "both"):
        again.append(store.write(parsed(live.published), now=now))
    if kind in ("export replay", "both"):
        again.append(store.write(parsed((await exported(path)).published), now=now))

    assert (first.stored, first.duplicates) == (17, 0)
    assert [(result.stored, result.duplicates) for result in again] == [(0, 17)] * len(again)
    assert store.counts()["events"] == 17
    rollup = store.rollup("shopper-1")
    assert rollup is not None
    assert (rollup["events"], rollup["user_messages"], rollup["bot_messages"]) == (11, 2, 2)
    assert (rollup["fallbacks"], rollup["last_intent"]) == (1, "nlu_fallback")


def test_one_batch_holding_an_event_twice_stores_it_once(engine: Engine) -> None:
    body = {"sender_id": "s", "event": "bot", "timestamp": 1796600000.25, "text": "hi"}
    result = ConversationEvents(engine).write(parsed([body, body]), now=_now())

    assert (result.stored, result.duplicates) == (1, 1)


def test_the_rollup_names_the_conversations_lead_and_a_merged_leads_survivor(
    engine: Engine,
) -> None:
    with engine.begin() as connection:
        for lead_id, session_id, merged_into in (
            ("lead-a", "session-a", None),
            ("lead-b", "session-b", "lead-a"),
        ):
            connection.execute(
                text(
                    "INSERT INTO leads (id, session_id, source, status, stage, score,"
                    " intent_score, fit_score, reasons, lifecycle_stage, facts_version,"
                    " decaying, merged_into, created_at, updated_at) VALUES (:id, :session,"
                    " 'chat', 'New', 'cold', 0, 0, 0, '[]', 'visitor', 0, true, :merged,"
                    " :now, :now)"
                ),
                {"id": lead_id, "session": session_id, "merged": merged_into, "now": _now()},
            )
    store = ConversationEvents(engine)
    bodies = [
        {"sender_id": sender, "event": "bot", "timestamp": 1796600000.0, "text": "hi"}
        for sender in ("session-a", "session-b", "anonymous")
    ]
    store.write(parsed(bodies), now=_now())

    assert [store.rollup(s)["lead_id"] for s in ("session-a", "session-b", "anonymous")] == [
        "lead-a",
        "lead-a",
        None,
    ]


# One case per way a message fails to be a Rasa event.
@pytest.mark.parametrize(
    ("body", "names"),
    [
        (b"\xff\xfe", "not JSON"),
        (b"{not json", "not JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"event": "user", "timestamp": 1}', "sender_id"),
        (b'{"sender_id": "s", "timestamp": 1}', "event"),
        (b'{"sender_id": "s", "event": "user"}', "timestamp"),
        (b'{"sender_id": "s", "event": "user", "timestamp": "today"}', "timestamp"),
        (b'{"sender_id": "s", "event": "user", "timestamp": true}', "timestamp"),
        (b'{"sender_id": "s", "event": "user", "timestamp": NaN}', "timestamp"),
        (b'{"sender_id": "s\\u0000", "event": "user", "timestamp": 1}', "sender_id"),
        (b'{"sender_id": "\\ud800", "event": "user", "timestamp": 1}', "sender_id"),
        (
            ('{"sender_id": "' + "s" * 256 + '", "event": "user", "timestamp": 1}').encode(),
            "sender_id",
        ),
    ],
)
def test_what_is_not_an_event_says_why(body: bytes, names: str) -> None:
    with pytest.raises(NotAnEvent, match=names):
        from_body(body)


def test_dead_letters_keep_any_bytes(engine: Engine) -> None:
    store = ConversationEvents(engine)
    result = store.write([], [DeadLetter("not JSON", b"\x00\xff" * 40000)], now=_now())

    assert result.parked == 1
    assert store.counts()["dead_letters"] == 1


def _now():
    from datetime import datetime

    return datetime.fromisoformat(NOW_ISO)
