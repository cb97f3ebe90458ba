"""Shared plumbing of the actions: the assistant instance and tracker reading."""

from __future__ import annotations

import contextlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.reading import records_transcript
from bot import clock
from bot.assistant import (
    HUMAN_OFFER,
    Assistant,
    ChatMessage,
    event,
    should_offer_human,
    transcript_commands,
)
from bot.flows import Flow
from bot.flows.interpreter import TurnInput
from bot.flows.loader import CORE_KEYS, GENERIC_SLOT
from bot.leads import LeadState
from bot.leads.commands import Command
from bot.settings import Settings

logger = logging.getLogger(__name__)

ANSWER_STATE_SLOT = "question_state"
STATUS_SLOT = "qualification_status"


@lru_cache(maxsize=1)
def assistant() -> Assistant:
    """The action server's assistant, built on first use."""
    return Assistant(Settings.from_env())


def answers_of(tracker: Tracker) -> dict[str, Any]:
    """Current answers keyed by question key.

    The core answers have their own slots; answers to questions a marketer added
    live together in the ``flow_answers`` slot, so a new question needs no
    domain change and no retraining.
    """
    answers: dict[str, Any] = {key: tracker.get_slot(key) for key in CORE_KEYS}
    generic = tracker.get_slot(GENERIC_SLOT)
    if isinstance(generic, dict):
        answers.update({key: value for key, value in generic.items() if key not in CORE_KEYS})
    return answers


def answer_slot_events(tracker: Tracker, updates: dict[str, Any]) -> list[EventType]:
    """Slot events storing ``updates`` (question key → answer record)."""
    events: list[EventType] = [
        SlotSet(key, value) for key, value in updates.items() if key in CORE_KEYS
    ]
    generic = {key: value for key, value in updates.items() if key not in CORE_KEYS}
    if generic:
        current = tracker.get_slot(GENERIC_SLOT)
        merged = {**(current if isinstance(current, dict) else {}), **generic}
        events.append(SlotSet(GENERIC_SLOT, merged))
    return events


def conversation_flow(tracker: Tracker) -> Flow:
    """The flow this conversation follows (chosen by its page when it started)."""
    return assistant().flow_for(question_state(tracker).get("flow"), page_context(tracker))


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
    for item in reversed(tracker.events):
        if item.get("event") == "user":
            return str(item.get("message_id") or item.get("timestamp"))
    return "start"


def _ts(item: dict[str, Any]) -> datetime:
    stamp = item.get("timestamp")
    return datetime.fromtimestamp(stamp, timezone.utc) if stamp else clock.now()


def _unrecorded_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Events since the last action of ours that ran before the latest shopper message.

    That action recorded the transcript up to and including its own replies, so
    only what follows it needs writing (the rest would be deduplicated anyway, but
    a long chat would resend its whole history every turn).
    """
    latest_user = max(
        (index for index, item in enumerate(events) if item.get("event") == "user"),
        default=len(events),
    )
    start = 0
    for index in range(latest_user - 1, -1, -1):
        item = events[index]
        if item.get("event") == "action" and records_transcript(item.get("name")):
            start = index
            break
    return events[start:]


def transcript(tracker: Tracker, pending_bot_texts: Sequence[str] = ()) -> list[ChatMessage]:
    """The session's not yet recorded messages, plus what the running action will send.

    Bot messages are identified by the user message they answer and their
    position, so the same reply gets the same id whether it is read from the
    dispatcher now or from the tracker on a later turn.
    """
    events = tracker.events
    recent = _unrecorded_events(events)
    # Ids of bot messages count from the user message they answer, which may lie
    # before the window: find it so positions stay stable.
    offset = len(events) - len(recent)
    reply_to, position = "start", 0
    for item in reversed(events[:offset]):
        if item.get("event") == "bot" and item.get("text"):
            position += 1
        elif item.get("event") == "user":
            reply_to = str(item.get("message_id") or item.get("timestamp"))
            break
    messages: list[ChatMessage] = []
    for item in recent:
        kind = item.get("event")
        if kind == "user":
            reply_to, position = str(item.get("message_id") or item.get("timestamp")), 0
            intent = (item.get("parse_data") or {}).get("intent") or {}
            messages.append(
                ChatMessage("user", item.get("text") or "", _ts(item), reply_to, intent.get("name"))
            )
        elif kind == "bot" and item.get("text"):
            messages.append(ChatMessage("bot", item["text"], _ts(item), f"{reply_to}:{position}"))
            position += 1
    now = clock.now()
    for text in pending_bot_texts:
        messages.append(ChatMessage("bot", text, now, f"{reply_to}:{position}"))
        position += 1
    return messages


def turn_input(
    tracker: Tracker, *, requested_key: str | None, correcting: bool = False
) -> TurnInput:
    """The interpreter's view of the latest message."""
    intent = tracker.latest_message.get("intent") or {}
    state = question_state(tracker)
    context = page_context(tracker)
    return TurnInput(
        text=tracker.latest_message.get("text") or "",
        intent=intent.get("name"),
        intent_confidence=float(intent.get("confidence") or 0.0),
        requested_key=requested_key,
        answers=answers_of(tracker),
        failures=dict(state.get("failures") or {}),
        now=message_time(tracker) or clock.now(),
        product_id=context.get("product_id")
        if isinstance(context.get("product_id"), str)
        else None,
        asked_at=last_bot_message_at(tracker),
        correcting=correcting,
        facts=assistant().page_facts(context),
    )


def message_time(tracker: Tracker) -> datetime | None:
    """When the Rasa server received the latest shopper message.

    "in 2 weeks" counts from the moment it was said: a turn the action server runs
    late (a retry, a queue) reads the same day. Rasa 3.6's ``MessageProcessor``
    (``_handle_message_with_tracker``) creates the ``UserUttered`` without a
    timestamp, so it is ``time.time()`` on receipt; the channel's sender cannot set it.
    """
    for item in reversed(tracker.events):
        if item.get("event") == "user":
            stamp = item.get("timestamp")
            return datetime.fromtimestamp(stamp, timezone.utc) if stamp else None
    return None


def last_bot_message_at(tracker: Tracker) -> datetime | None:
    """When the bot last spoke before the latest user message (for time-to-answer)."""
    seen_user = False
    for item in reversed(tracker.events):
        if item.get("event") == "user":
            if seen_user:
                return None
            seen_user = True
        elif item.get("event") == "bot" and seen_user:
            return _ts(item)
    return None


class LeadAction(Action, ABC):
    """Base of actions that write to the lead store.

    Subclasses call :meth:`save` with their commands; the transcript (including
    the messages this action sends) is written in the same batch.
    """

    # Whether a hot lead may be offered a person after this action's reply.
    offers_human = True

    @abstractmethod
    def name(self) -> str:
        """The action's name in domain.yml."""

    async def record_events(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        *events: tuple[str, dict[str, Any]],
    ) -> LeadState | None:
        """Record chat-behaviour events ``(type, properties)`` of the latest message."""
        now, message_id = clock.now(), latest_message_id(tracker)
        return await self.save(
            dispatcher,
            tracker,
            [
                event(tracker.sender_id, kind, now, dedupe=message_id, **properties)
                for kind, properties in events
            ],
        )

    async def save(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        commands: Sequence[Command] = (),
    ) -> LeadState | None:
        """Record ``commands`` plus the transcript; never raises into the conversation.

        Returns the lead's state after the write (``None`` if it was spooled).
        A lead that is hot and was never offered a person gets the offer now.
        """
        pending = [
            message.get("text") or "" for message in dispatcher.messages if message.get("text")
        ]
        batch = [*transcript_commands(tracker.sender_id, transcript(tracker, pending)), *commands]
        helper = assistant()
        try:
            result = await helper.record(batch)
        except OSError:
            # Neither the database nor the local spool could take the write.
            logger.exception("could not record lead data for this turn")
            dispatcher.utter_message(
                text="Sorry, I couldn't save that just now. Please bear with me, "
                "I'll still help you."
            )
            return None
        state = result.leads.get(tracker.sender_id) if result is not None else None
        if self.offers_human and should_offer_human(state):
            dispatcher.utter_message(text=HUMAN_OFFER)
            offer = event(
                tracker.sender_id, "human_offered", clock.now(), dedupe=latest_message_id(tracker)
            )
            with contextlib.suppress(OSError):
                await helper.record([offer])
        return state
