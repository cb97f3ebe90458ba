"""The action server under faults and forged calls, over the real stack.

A lead store locked by another process holds no conversation: each turn waits
at most ACTIONS_STORE_WAIT_MS, its writes are spooled and reach the store once
the lock goes. And the action server runs actions only for the Rasa server.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from bot.devstack import DevStack
from bot.flows import Flow
from bot.settings import PROJECT_ROOT
from tests.e2e.conftest import MODEL, Chat

pytestmark = pytest.mark.e2e

# Liveness: a turn answers within this although the store stays locked (the
# store wait is 2 s; the old code waited SQLite's 30 s busy timeout per write).
TURN_SECONDS = 10.0
# Bounded waits on observable state (generous: two shared cores).
SETTLE_SECONDS = 90.0
REQUEST_SECONDS = 30.0
STORE_WAIT_SECONDS = 2.0  # ACTIONS_STORE_WAIT_MS's default
SCRIPT = [
    # (shopper says, question the bot asks next)
    ("hi", "timeline"),
    ("sometime next month", "variant"),
    ("the blue hoodie in M", "location"),
    ("Lyon", "budget"),
]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("action-faults")


@pytest.fixture(scope="module")
def stack(base: Path) -> Iterator[DevStack]:
    if not MODEL.exists():
        pytest.fail(f"no trained model at {MODEL}: run `make train` first", pytrace=False)
    with DevStack.in_folder(PROJECT_ROOT, base, model=MODEL) as running:
        yield running


@pytest.fixture
def lead_store_lock(base: Path) -> Iterator[sqlite3.Connection]:
    """A connection of another process's kind, ready to hold the lead store's write lock."""
    connection = sqlite3.connect(base / "leads.db", isolation_level=None, timeout=0)
    yield connection
    if connection.in_transaction:
        connection.execute("COMMIT")
    connection.close()


def _leads_of(stack: DevStack, session_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = stack.api_get("/api/v2/leads", {"session_id": session_id})[
        "items"
    ]
    return items


def _wait_for_answer(stack: DevStack, session_id: str, key: str) -> dict[str, Any]:
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        leads = _leads_of(stack, session_id)
        if leads and key in leads[0]["answers"]:
            return leads[0]
        if time.monotonic() > deadline:
            pytest.fail(f"{session_id}'s {key!r} answer did not reach the lead store: {leads}")
        time.sleep(0.5)


def _timed_turn(chat: Chat, text: str) -> tuple[float, list[str]]:
    started = time.monotonic()
    texts = chat.say(text)
    return time.monotonic() - started, texts


def test_a_locked_lead_store_holds_no_conversation(
    stack: DevStack, flow: Flow, lead_store_lock: sqlite3.Connection
) -> None:
    shoppers = [Chat(stack, flow), Chat(stack, flow)]
    lead_store_lock.execute("BEGIN EXCLUSIVE")
    locked_at = time.monotonic()
    with ThreadPoolExecutor(len(shoppers)) as pool:
        for said, next_question in SCRIPT:
            for seconds, texts in pool.map(_timed_turn, shoppers, [said] * len(shoppers)):
                assert seconds < TURN_SECONDS, f"{said!r} took {seconds:.1f} s"
                assert shoppers[0].asked(texts) == next_question, texts
    # The lock outlived the store wait (2 s): these turns were really spooled.
    assert time.monotonic() - locked_at > STORE_WAIT_SECONDS
    assert stack.api_get("/healthz")["spooled_batches"] > 0
    lead_store_lock.execute("COMMIT")
    for chat in shoppers:
        lead = _wait_for_answer(stack, chat.sender, "location")
        assert lead["answers"]["timeline"]["raw"] == "sometime next month"
        assert lead["answers"]["variant"]["raw"] == "the blue hoodie in M"
        assert lead["answers"]["location"]["raw"] == "Lyon"


def _forged_contact_call(sender: str) -> dict[str, Any]:
    """What a local process would POST to rewrite a shopper's e-mail."""
    consent = {"raw": "yes", "value": True, "status": "answered"}
    latest = {
        "text": "attacker@example.com",
        "intent": {"name": "inform", "confidence": 1.0},
        "entities": [],
        "message_id": "forged-1",
    }
    return {
        "next_action": "validate_qualification_form",
        "sender_id": sender,
        "version": "3.6.21",
        "domain": {},
        "tracker": {
            "sender_id": sender,
            "slots": {"requested_slot": "contact_details", "contact_consent": consent},
            "latest_message": latest,
            "events": [{"event": "user", "text": latest["text"], "parse_data": latest}],
            "paused": False,
            "followup_action": None,
            "active_loop": {"name": "qualification_form"},
            "latest_action_name": "action_listen",
        },
    }


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-token"),
        pytest.param({"Authorization": "Bearer guessed"}, id="wrong-token"),
    ],
)
def test_forged_action_calls_are_refused_and_write_nothing(
    stack: DevStack, flow: Flow, headers: dict[str, str]
) -> None:
    chat = Chat(stack, flow)
    chat.say("hi")  # a real shopper, whose lead a forger would rewrite
    with requests.Session() as http:
        http.trust_env = False
        answer = http.post(
            f"{stack.actions_url}/webhook",
            json=_forged_contact_call(chat.sender),
            headers=headers,
            timeout=REQUEST_SECONDS,
        )
        listed = http.get(f"{stack.actions_url}/actions", headers=headers, timeout=REQUEST_SECONDS)
        health = http.get(f"{stack.actions_url}/health", timeout=REQUEST_SECONDS)
    assert (answer.status_code, listed.status_code, health.status_code) == (401, 401, 200)
    assert answer.json()["error"] == "unauthorized"
    lead = chat.lead()
    assert lead["email"] is None
    assert "contact_details" not in lead["answers"]
    # The Rasa server's own calls carry the token: the conversation goes on.
    assert chat.asked(chat.say("sometime next month")) == "variant"
