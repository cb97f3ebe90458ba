"""The REST channel (``/webhooks/rest/webhook``) on a real Sanic server on loopback.

Every malformed body gets a 400 naming the field (Rasa 3.6 answered 500, or
took any JSON value as a sender id), a message longer than the limit gets a
polite reply without reaching Rasa, and a turn whose conversation store failed
gets a 503 while other conversations go on.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from rasa.core.channels.channel import UserMessage
from sanic import Sanic

from bot.settings import PROJECT_ROOT
from rasa_ext.channels import RestInput, SocketIOInput
from rasa_ext.hardening import ConversationUnavailable
from rasa_ext.limits import MAX_MESSAGE_CHARS, TOO_LONG_REPLY
from tests.rasa_ext.conftest import LOOPBACK, free_port, serving


class Bot:
    """Stands in for Rasa's agent: echoes each message, or fails as told."""

    def __init__(self) -> None:
        self.received: list[UserMessage] = []
        self.failure: Exception | None = None

    async def on_new_message(self, message: UserMessage) -> None:
        self.received.append(message)
        assert message.output_channel is not None
        await message.output_channel.send_text_message(message.sender_id, "first reply")
        if self.failure is not None:
            raise self.failure
        await message.output_channel.send_text_message(message.sender_id, f"echo {message.text}")


@asynccontextmanager
async def webhook() -> AsyncIterator[tuple[Bot, aiohttp.ClientSession, str]]:
    """The bot, an HTTP client and the webhook's URL."""
    bot, channel, port = Bot(), RestInput(), free_port()
    app = Sanic(f"rest_{port}")
    # Where Rasa's channel.register mounts it (route "/webhooks/" + url_prefix()).
    app.blueprint(
        channel.blueprint(bot.on_new_message), url_prefix=f"/webhooks/{channel.url_prefix()}"
    )
    async with serving(app, port), aiohttp.ClientSession() as http:
        yield bot, http, f"http://{LOOPBACK}:{port}/webhooks/rest/webhook"


async def _post(http: aiohttp.ClientSession, url: str, body: Any) -> tuple[int, Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with http.post(url, data=data) as answer:
        return answer.status, await answer.json()


async def test_a_message_is_answered_as_by_rasa() -> None:
    async with webhook() as (bot, http, url):
        body = {"sender": "shop-1", "message": "hi", "metadata": {"page_type": "cart"}}
        status, replies = await _post(http, url, body)
        assert status == 200
        assert replies == [
            {"recipient_id": "shop-1", "text": "first reply"},
            {"recipient_id": "shop-1", "text": "echo hi"},
        ]
        (message,) = bot.received
        assert message.metadata == {"page_type": "cart"} and message.input_channel == "rest"
        async with http.get(url.removesuffix("webhook")) as health:
            assert await health.json() == {"status": "ok"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"[]", "body"),
        (b"null", "body"),
        ({"message": "hi"}, "sender"),
        ({"sender": "\ud800", "message": "hi"}, "sender"),
        ({"sender": "shop-1", "message": 7}, "message"),
        ({"sender": "shop-1", "message": "hi", "metadata": [1]}, "metadata"),
    ],
)
async def test_a_malformed_body_is_a_400_naming_the_field(body: Any, field: str) -> None:
    async with webhook() as (bot, http, url):
        status, answer = await _post(http, url, body)
        assert status == 400
        assert answer["error"]["field"] == field and answer["error"]["status"] == 400
        assert bot.received == []


async def test_a_long_message_gets_a_polite_reply_without_reaching_rasa() -> None:
    async with webhook() as (bot, http, url):
        body = {"sender": "shop-1", "message": "x" * (MAX_MESSAGE_CHARS + 1)}
        status, replies = await _post(http, url, body)
        assert (status, replies) == (200, [{"recipient_id": "shop-1", "text": TOO_LONG_REPLY}])
        assert bot.received == []
        status, replies = await _post(http, url, {**body, "message": "x" * MAX_MESSAGE_CHARS})
        assert status == 200 and len(bot.received) == 1


async def test_a_failed_conversation_store_is_a_503_for_that_turn() -> None:
    async with webhook() as (bot, http, url):
        bot.failure = ConversationUnavailable("the tracker store failed")
        status, answer = await _post(http, url, {"sender": "shop-1", "message": "hi"})
        assert status == 503 and answer["error"]["status"] == 503
        # Any other failure: the replies so far, as Rasa's channel answers.
        bot.failure = RuntimeError("an action failed")
        status, replies = await _post(http, url, {"sender": "shop-2", "message": "hi"})
        assert (status, replies) == (200, [{"recipient_id": "shop-2", "text": "first reply"}])


def test_credentials_name_the_checked_channels() -> None:
    from rasa.core.run import create_http_input_channels

    channels = create_http_input_channels(None, str(Path(PROJECT_ROOT) / "credentials.yml"))
    assert {type(channel) for channel in channels} == {RestInput, SocketIOInput}
    (rest,) = [channel for channel in channels if isinstance(channel, RestInput)]
    # /webhooks/rest/webhook: the URL the widget and the README use.
    assert rest.url_prefix() == "rest"
