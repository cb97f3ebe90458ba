"""Shared plumbing of the actions: the assistant instance and tracker reading."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.assistant import Assistant, ChatMessage, transcript_commands
from bot.settings import Settings
from bot.store.commands import Command

logger = logging.getLogger(__name__)

ANSWER_STATE_SLOT = "question_state"
STATUS_SLOT = "qualification_status"


@lru_cache(maxsize=1)
def assistant() -> Assistant:
    """The action server's assistant, built on first use."""
    return Assistant(Settings.from_env())


def utcnow() -> datetime:
    """Current time, timezone-aware UTC."""
    return datetime.now(timezone.utc)


def answers_of(tracker: Tracker) -> dict[str, Any]:
    """Current answer slots keyed by question key."""
    return {key: tracker.get_slot(key) for key in assistant().flow.keys}


def question_state(tracker: Tracker) -> dict[str, Any]:
    """Per-question failure counts and pending choices."""
    state = tracker.get_slot(ANSWER_STATE_SLOT)
    return state if isinstance(state, dict) else {}


def page_context(tracker: Tracker) -> dict[str, Any]:
    """Page context the widget sends as message metadata (product id, page type…)."""
    metadata = tracker.latest_message.get("metadata") or {}
    return metadata if isinstance(metadata, dict) else {}


def latest_message_id(tracker: Tracker) -> str:
    """Id of the latest user message (stable across action retries)."""
    message_id = tracker.latest_message.get("message_id")
    if message_id:
        return str(message_id)
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return str(event.get("message_id") or event.get("timestamp"))
    return "start"


def _ts(event: dict[str, Any]) -> datetime:
    stamp = event.get("timestamp")
    return datetime.fromtimestamp(stamp, timezone.utc) if stamp else utcnow()


def transcript(tracker: Tracker, pending_bot_texts: Sequence[str] = ()) -> list[ChatMessage]:
    """The session's messages, plus what the running action is about to send.

    Bot messages are identified by the user message they answer and their
    position, so the same reply gets the same id whether it is read from the
    dispatcher now or from the tracker on a later turn.
    """
    messages: list[ChatMessage] = []
    reply_to, position = "start", 0
    for event in tracker.events:
        kind = event.get("event")
        if kind == "user":
            reply_to, position = str(event.get("message_id") or event.get("timestamp")), 0
            intent = (event.get("parse_data") or {}).get("intent") or {}
            messages.append(
                ChatMessage(
                    "user", event.get("text") or "", _ts(event), reply_to, intent.get("name")
                )
            )
        elif kind == "bot" and event.get("text"):
            messages.append(ChatMessage("bot", event["text"], _ts(event), f"{reply_to}:{position}"))
            position += 1
    now = utcnow()
    for text in pending_bot_texts:
        messages.append(ChatMessage("bot", text, now, f"{reply_to}:{position}"))
        position += 1
    return messages


def last_bot_message_at(tracker: Tracker) -> datetime | None:
    """When the bot last spoke before the latest user message (for time-to-answer)."""
    seen_user = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            if seen_user:
                return None
            seen_user = True
        elif event.get("event") == "bot" and seen_user:
            return _ts(event)
    return None


class LeadAction(Action, ABC):
    """Base of actions that write to the lead store.

    Subclasses call :meth:`save` with their commands; the transcript (including
    the messages this action sends) is written in the same batch.
    """

    @abstractmethod
    def name(self) -> str:
        """The action's name in domain.yml."""

    async def save(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        commands: Sequence[Command] = (),
    ) -> None:
        """Record ``commands`` plus the transcript; never raises into the conversation."""
        pending = [
            message.get("text") or "" for message in dispatcher.messages if message.get("text")
        ]
        batch = [*transcript_commands(tracker.sender_id, transcript(tracker, pending)), *commands]
        try:
            await assistant().record(batch)
        except OSError:
            # Neither the database nor the local spool could take the write.
            logger.exception("could not record lead data for this turn")
            dispatcher.utter_message(
                text="Sorry, I couldn't save that just now. Please bear with me, "
                "I'll still help you."
            )
