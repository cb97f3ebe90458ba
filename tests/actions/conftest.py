"""Action tests: rasa_sdk trackers built in code, a real (temporary) lead store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Tracker

import actions.common
import actions.lead
import actions.qualification
import bot.clock
from bot.assistant import Assistant
from tests.handoff import HANDOFF_CONFIG
from tests.scoring import SCORING_CONFIG

# A Monday; every relative timeline in the tables is computed from here.
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)
ANSWER_SLOTS = (
    "timeline",
    "variant",
    "location",
    "budget",
    "contact_consent",
    "contact_name",
    "contact_details",
)


@pytest.fixture
def helper(
    tmp_path: Path, migrated_sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Assistant]:
    """The actions' assistant on a fresh SQLite store, with the clock fixed at NOW.

    It scores and hands off with the tests' own scoring and handoff files.
    """
    monkeypatch.setenv("DATABASE_URL", migrated_sqlite_url)
    monkeypatch.setenv("SCORING_CONFIG", str(SCORING_CONFIG))
    monkeypatch.setenv("HANDOFF_CONFIG", str(HANDOFF_CONFIG))
    monkeypatch.setenv("LEADS_SPOOL_DIR", str(tmp_path / "spool"))
    actions.common.assistant.cache_clear()
    with bot.clock.frozen(NOW):
        yield actions.common.assistant()
    actions.common.assistant.cache_clear()


def make_tracker(
    text: str,
    *,
    intent: str = "inform",
    confidence: float = 0.95,
    requested: str | None = None,
    slots: dict[str, Any] | None = None,
    sender: str = "session-1",
    active_loop: str | None = "qualification_form",
    metadata: dict[str, Any] | None = None,
    message_id: str = "msg-1",
) -> Tracker:
    """A tracker whose latest event is the shopper's ``text``, asked ``requested``."""
    all_slots: dict[str, Any] = {name: None for name in ANSWER_SLOTS}
    all_slots.update(question_state=None, qualification_status=None, requested_slot=requested)
    all_slots.update(slots or {})
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "intent_ranking": [{"name": intent, "confidence": confidence}],
        "entities": [],
        "message_id": message_id,
        "metadata": metadata or {},
    }
    events = [
        {"event": "action", "name": "action_listen", "timestamp": NOW.timestamp() - 30},
        {
            "event": "bot",
            "text": "When are you planning to buy?",
            "timestamp": NOW.timestamp() - 20,
        },
        {
            "event": "user",
            "text": text,
            "parse_data": latest,
            "message_id": message_id,
            "timestamp": NOW.timestamp() - 1,
        },
    ]
    return Tracker(
        sender_id=sender,
        slots=all_slots,
        latest_message=latest,
        events=events,
        paused=False,
        followup_action=None,
        active_loop={"name": active_loop} if active_loop else {},
        latest_action_name="action_listen",
    )
