"""The Rasa server extensions keep Rasa's behaviour while removing per-turn overhead."""

from __future__ import annotations

from pathlib import Path

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


def test_sqlite_connections_use_wal(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'tracker.db'}")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
    engine.dispose()
