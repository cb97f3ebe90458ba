"""The Rasa server extensions keep Rasa's behaviour while removing per-turn overhead."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from jsonschema import ValidationError
from sqlalchemy import create_engine, text

import rasa_ext


@pytest.fixture(scope="module", autouse=True)
def installed() -> None:
    rasa_ext.install()


def test_valid_action_responses_pass_and_invalid_ones_fail_as_before() -> None:
    from rasa.core.actions.action import RemoteAction

    action = RemoteAction("validate_qualification_form", None)
    ok = {
        "events": [{"event": "slot", "name": "budget", "value": {"amount": 300}}],
        "responses": [],
    }
    assert action._validate_action_result(ok) is True
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        action._validate_action_result({"events": [{"event": 42}], "responses": "nope"})


async def test_action_server_session_is_reused_and_stays_open() -> None:
    from rasa.utils.endpoints import EndpointConfig

    endpoint = EndpointConfig("http://127.0.0.1:5055/webhook")
    async with endpoint.session() as first:
        pass
    async with endpoint.session() as second:
        pass
    assert first is second
    assert not first.closed
    other = EndpointConfig("http://127.0.0.1:6000/webhook")
    async with other.session() as third:
        assert third is not first
    await first.close()
    await third.close()


async def test_the_client_closes_idle_action_server_connections_before_the_server_does() -> None:
    # A request on a connection the server is closing gets no reply (the shopper
    # sees nothing): the client must give idle connections up first, against our
    # action server and against `rasa run actions` with Sanic's default.
    from rasa.utils.endpoints import EndpointConfig
    from sanic.config import DEFAULT_CONFIG

    from actions.server import ACTION_SERVER_KEEPALIVE_SECONDS, create_app

    async with EndpointConfig("http://127.0.0.1:5055/webhook").session() as session:
        connector = session.connector
        assert isinstance(connector, aiohttp.TCPConnector)
        keepalive = connector._keepalive_timeout
    await session.close()
    assert keepalive < DEFAULT_CONFIG["KEEP_ALIVE_TIMEOUT"] < ACTION_SERVER_KEEPALIVE_SECONDS
    assert create_app("a-token").config.KEEP_ALIVE_TIMEOUT == ACTION_SERVER_KEEPALIVE_SECONDS


def test_sqlite_connections_use_wal(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'tracker.db'}")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
    engine.dispose()
