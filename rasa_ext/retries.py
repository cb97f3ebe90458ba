"""A chat message sent again with the same ``message_id`` is answered again, not run twice.

The widget gives each message an id and sends it again with the same id when a
request fails (a Rasa server killed mid-turn, a proxy timeout, a dropped
connection). The first attempt may have been stored whole before the failure, or
not at all, and the client cannot tell which:

- **Stored whole.** Rasa 3.6 saves a turn's events once, at the end of
  ``MessageProcessor.handle_message`` (``save_tracker`` after the prediction
  loop), and ``SQLTrackerStore.save`` adds them in one transaction: a turn is in
  the tracker completely or not at all. If the tracker already holds a user
  message with this id, the retry is answered with the bot messages that followed
  it, in order, through the same output channel calls Rasa used
  (``OutputChannel.send_response(sender, BotUttered.message())`` as in
  ``MessageProcessor._send_bot_messages``), and nothing runs or is saved.
- **Not stored.** The turn runs again with the same message id. The lead store's
  writes of a turn are keyed by it (answers ``<message_id>:<key>``, transcript
  lines ``user:<message_id>`` and ``<message_id>:<position>``), so what the
  actions stored during the lost attempt is not stored twice.

The check runs inside the conversation's lock (``Agent.handle_message`` takes
``lock_store.lock(sender_id)`` around ``MessageProcessor.handle_message``), so
two copies of one message sent at once also run once. Only messages whose id
the client chose are checked (:class:`ClientMessage`); Rasa's own ids are new
UUIDs that cannot be in the tracker yet.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.processor import MessageProcessor
from rasa.shared.core.events import BotUttered, Event, UserUttered

logger = logging.getLogger(__name__)

_installed = False


class ClientMessage(UserMessage):
    """A user message whose ``message_id`` the client chose (and may send again)."""


def answered(events: Sequence[Event], message_id: str) -> list[BotUttered] | None:
    """The bot messages that answered user message ``message_id``; None if it is not stored.

    A stored message answered by no bot message gives an empty list.
    """
    replies: list[BotUttered] | None = None
    for event in events:
        if isinstance(event, UserUttered):
            if replies is not None:
                break
            if event.message_id == message_id:
                replies = []
        elif replies is not None and isinstance(event, BotUttered):
            replies.append(event)
    return replies


def install() -> None:
    """Answer a client's repeated message from the tracker instead of running it again."""
    global _installed
    if _installed:
        return
    original = MessageProcessor.handle_message

    async def handle_message(
        self: MessageProcessor, message: UserMessage
    ) -> list[dict[str, Any]] | None:
        if isinstance(message, ClientMessage) and message.message_id:
            tracker = await self.get_tracker(message.sender_id)
            replies = answered(tracker.events, message.message_id)
            if replies is not None:
                logger.info("message sent again: answered from the conversation, not run")
                channel = message.output_channel
                for reply in replies:
                    await channel.send_response(message.sender_id, reply.message())
                # What Rasa's handle_message returns: the collected replies, if collected.
                if isinstance(channel, CollectingOutputChannel):
                    return channel.messages
                return None
        result: list[dict[str, Any]] | None = await original(self, message)
        return result

    MessageProcessor.handle_message = handle_message
    _installed = True
