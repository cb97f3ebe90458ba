"""What the Rasa actions call: flow, catalog, interpreter and the lead recorder.

The action server builds one :class:`Assistant` on first use (never at import
time). Actions translate rasa_sdk trackers into the plain data used here.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.catalog import Catalog, load_catalog
from bot.flows import Flow, replies
from bot.flows.facts import CONSENT_KEY
from bot.flows.interpreter import Interpreter, TurnResult
from bot.flows.live import LiveFlow
from bot.handoff import planner_for
from bot.scoring import Scorer, load_scoring_config
from bot.settings import Settings
from bot.store.commands import Command, RecordAnswer, RecordEvent, UpdateContact
from bot.store.db import create_db_engine
from bot.store.repository import ApplyResult, LeadRepository, LeadState
from bot.store.spool import UNAVAILABLE_ERRORS, LeadRecorder, Spool

DEFAULT_FLOW_FILE = "default.yml"
HUMAN_OFFER = (
    "By the way, it looks like you're nearly ready to order. Would you like a specialist "
    'to help you finish? Just say "talk to a person".'
)
# Signals after which offering a person would be redundant or unwelcome.
NO_OFFER_AFTER = ("human_offered", "human_requested", "opt_out")


def should_offer_human(state: LeadState | None) -> bool:
    """Whether to offer a person now: the lead is hot and was never offered one."""
    if state is None or state.stage != "hot":
        return False
    return not any(state.counts.get(signal) for signal in NO_OFFER_AFTER)


def should_skip_consent(state: LeadState | None) -> bool:
    """Whether not to ask for contact details: a cold lead who was already asked once.

    Never while a handoff is open: sales need a way to reach the shopper.
    """
    if state is None or state.stage != "cold" or state.handoff is not None:
        return False
    return state.counts.get(f"prompted:{CONSENT_KEY}", 0) >= 1


MAX_STORED_MESSAGE_CHARS = 5000
PASSED_ON = "I've passed your request to our sales team."


def human_request_reply(answers: dict[str, Any], state: LeadState | None) -> str:
    """What the bot says when the shopper asks for a person: what happens next, and when.

    The "when" comes from the lead's handoff (its SLA in the team's business
    hours); without one (the write was spooled) the bot promises no time.
    """
    consent = answers.get("contact_consent")
    contact = answers.get("contact_details")
    has_contact = isinstance(contact, dict) and bool(contact.get("value"))
    declined = isinstance(consent, dict) and consent.get("value") is False
    when = state.handoff.promise if state is not None and state.handoff is not None else None
    if has_contact:
        return (
            f"{PASSED_ON} {when or 'A specialist will contact you using the details you gave me.'}"
        )
    if declined:
        return (
            f"{PASSED_ON} As you'd rather not share contact details, you can reach them at "
            "any time from the Contact page."
        )
    return (
        f"{PASSED_ON} {when + ' ' if when else ''}So a specialist can reach you, I'll just need "
        "a couple of answers and a way to contact you."
    )


@dataclass(frozen=True)
class ChatMessage:
    """A message of the transcript, from the shopper (``user``) or the bot."""

    sender: str
    text: str
    ts: datetime
    message_id: str | None = None
    intent: str | None = None


def stable_id(*parts: object) -> str:
    """A short deterministic id for events derived from tracker data."""
    digest = hashlib.sha1("\x1f".join(str(part) for part in parts).encode(), usedforsecurity=False)
    return digest.hexdigest()[:24]


class Assistant:
    """Long-lived state of the action server."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.live_flow = LiveFlow(settings.flows_dir / DEFAULT_FLOW_FILE)
        self.catalog: Catalog = load_catalog(settings.catalog_path)
        self._interpreter = Interpreter(
            self.live_flow.current(), self.catalog, currency=settings.shop_currency
        )
        engine = create_db_engine(settings.database_url)
        scorer = Scorer(load_scoring_config(settings.scoring_config_path), self.catalog)
        self.recorder = LeadRecorder(
            LeadRepository(engine, scorer, planner_for(settings)), Spool(settings.spool_dir)
        )

    @property
    def flow(self) -> Flow:
        """The questions as the flows file says now (edits apply without a restart)."""
        return self.live_flow.current()

    @property
    def interpreter(self) -> Interpreter:
        """The answer reader of the current flow."""
        flow = self.flow
        if self._interpreter.flow is not flow:
            self._interpreter = Interpreter(
                flow, self.catalog, currency=self.settings.shop_currency
            )
        return self._interpreter

    async def record(self, commands: Sequence[Command]) -> ApplyResult | None:
        """Write ``commands`` off the event loop; ``None`` if they were spooled."""
        return await asyncio.to_thread(self.recorder.record, list(commands))

    async def lead_state(self, session_id: str) -> LeadState | None:
        """The session's lead stage and signal counts (``None`` if unknown or unreachable)."""
        try:
            return await asyncio.to_thread(self.recorder.repository.lead_state, session_id)
        except UNAVAILABLE_ERRORS:
            return None

    def shop_answer(
        self, topic: str, answers: dict[str, Any], *, product_id: str | None, question: str = ""
    ) -> str:
        """Reply to a shopper's question about shipping, price, returns, discount or stock."""
        return replies.shop_answer(
            self.flow, self.catalog, topic, answers, product_id, question=question
        )

    def summary(self, answers: dict[str, Any]) -> str:
        """The answers so far, as one line for the shopper."""
        return replies.summary(self.flow, answers)


def event(
    session_id: str, kind: str, ts: datetime, *, dedupe: str, **properties: Any
) -> RecordEvent:
    """A chat-behaviour event whose id derives from ``dedupe`` (idempotent on retries)."""
    return RecordEvent(
        session_id=session_id,
        event_id=f"chat:{stable_id(session_id, kind, dedupe)}",
        type=kind,
        ts=ts,
        source="chat",
        properties=properties,
    )


def transcript_commands(session_id: str, messages: Iterable[ChatMessage]) -> list[RecordEvent]:
    """``chat_message`` events for the transcript (replays are no-ops)."""
    commands = []
    for message in messages:
        identity = message.message_id or message.ts.isoformat()
        commands.append(
            event(
                session_id,
                "chat_message",
                message.ts,
                dedupe=f"{message.sender}:{identity}",
                sender=message.sender,
                text=message.text[:MAX_STORED_MESSAGE_CHARS],
                intent=message.intent,
            )
        )
    return commands


def turn_commands(
    session_id: str,
    message_id: str,
    result: TurnResult,
    now: datetime,
    *,
    consent_text: str | None,
) -> list[Command]:
    """Store writes for one interpreted message."""
    commands: list[Command] = []
    for key, answer in result.answers.items():
        commands.append(
            RecordAnswer(
                session_id=session_id,
                answer_id=f"{message_id}:{key}",
                key=key,
                raw=answer["raw"],
                value=answer["value"],
                status=answer["status"],
                answered_at=now,
            )
        )
    for index, (kind, properties) in enumerate(result.events):
        commands.append(event(session_id, kind, now, dedupe=f"{message_id}:{index}", **properties))
    consent = result.answers.get("contact_consent")
    if consent is not None and consent["value"] is True:
        commands.append(
            UpdateContact(session_id=session_id, consent_text=consent_text, consent_at=now)
        )
        commands.append(event(session_id, "consent_given", now, dedupe=f"{message_id}:consent"))
    name = result.answers.get("contact_name")
    if name is not None and name["value"]:
        commands.append(
            UpdateContact(
                session_id=session_id,
                first_name=name["value"].get("first_name"),
                last_name=name["value"].get("last_name"),
            )
        )
    contact = result.answers.get("contact_details")
    if contact is not None and contact["value"]:
        commands.append(
            UpdateContact(
                session_id=session_id,
                email=contact["value"].get("email"),
                phone=contact["value"].get("phone"),
            )
        )
    return commands
