"""Privacy end to end: a person's data export and erasure, and no contact details in any log.

A shopper qualifies in the chat and then sends the shop's web form (joined by
the session id). Their data export holds the answers and the Rasa conversation;
erasing them removes the lead and the conversation from the tracker store. The
logs of all three processes never contain the e-mail address or phone number.
"""

from __future__ import annotations

import sqlite3
import uuid

import pytest
import requests

from bot.devstack import DevStack
from tests.e2e.conftest import Chat

pytestmark = pytest.mark.e2e

PHONE_TYPED = "06 12 34 56 78"
PHONE_DIGITS = ("612345678", "6 12 34 56 78")


def _api(stack: DevStack, method: str, path: str, **kwargs: object) -> requests.Response:
    return requests.request(
        method,
        f"{stack.web_url}{path}",
        headers={"Authorization": f"Bearer {stack.api_token}"},
        timeout=30,
        **kwargs,  # type: ignore[arg-type]
    )


def test_export_then_erase_a_person_and_keep_logs_clean(chat: Chat, stack: DevStack) -> None:
    email = f"privacy-{uuid.uuid4().hex[:8]}@example.com"
    for said in (
        "hi",
        "sometime next month",
        "the blue hoodie in M",
        "Lyon",
        "around 300 bucks",
        "yes",
        "Jane Doe",
        email,
    ):
        assert chat.say(said), f"no reply to {said!r}\n{chat}"
    form = requests.post(
        f"{stack.web_url}/api/create-lead",
        data={
            "first_name": "Jane",
            "last_name": "Doe",
            "email": email,
            "phone": PHONE_TYPED,
            "company": "Doe Outdoor",
            "consent": "yes",
            "consent_text": "Yes, call me about my order.",
            "session_id": chat.sender,
        },
        timeout=30,
    )
    assert form.status_code == 201, form.text

    lead = stack.api_get("/api/v2/leads", {"session_id": chat.sender})["items"][0]
    assert (lead["email"], lead["phone"], lead["company"]) == (email, "+33612345678", "Doe Outdoor")
    assert lead["answers"]["location"]["raw"] == "Lyon"

    data = _api(stack, "GET", f"/api/v2/leads/{lead['id']}/data").json()
    assert data["lead"]["consent"]["text"] == "Yes, call me about my order."
    said = [turn["text"] for turn in data["conversation"] if turn["speaker"] == "shopper"]
    assert "Lyon" in said and email in said
    assert {answer["key"] for answer in data["answers"]} >= {"timeline", "variant", "budget"}

    erased = _api(stack, "POST", f"/api/v2/leads/{lead['id']}/erase")
    assert erased.status_code == 200, erased.text
    assert erased.json()["removed"]["conversation_events"] > 0
    gone = _api(stack, "GET", f"/api/v2/leads/{lead['id']}")
    assert gone.status_code == 410
    assert stack.api_get("/api/v2/leads", {"session_id": chat.sender})["items"] == []
    tracker = sqlite3.connect(stack.tracker_store_url.removeprefix("sqlite:///"))
    try:
        left = tracker.execute(
            "SELECT count(*) FROM events WHERE sender_id = ?", (chat.sender,)
        ).fetchone()[0]
    finally:
        tracker.close()
    assert left == 0
    leads_db = sqlite3.connect(stack.database_url.removeprefix("sqlite:///"))
    try:
        dumped = "\n".join(leads_db.iterdump())
    finally:
        leads_db.close()
    assert email not in dumped and "+33612345678" not in dumped

    logs = {path.name: path.read_text(errors="replace") for path in stack.log_dir.iterdir()}
    assert logs, "the stack wrote no logs"
    for name, text in logs.items():
        assert email not in text, f"{name} logged the e-mail address"
        assert not any(digits in text for digits in PHONE_DIGITS), f"{name} logged the phone"
