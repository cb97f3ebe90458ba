"""The Rasa server extensions keep Rasa's behaviour while removing per-turn overhead."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
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


EVENT_NAMES = [
    "user",
    "action",
    "slot",
    "entities",
    "bot",
    "followup",
    "active_loop",
    "reset_slots",
    "session_started",
    "restart",
    "rewind",
    "undo",
    "reminder",
    "form",
    "nonsense",
    "",
]
_json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=5)
)
_json = st.recursive(
    _json_leaf,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["text", "name", "value", "x"]), inner, max_size=3)
    ),
    max_leaves=8,
)
_event = st.fixed_dictionaries(
    {
        "event": st.one_of(
            st.sampled_from(EVENT_NAMES), _json_leaf, st.lists(_json_leaf, max_size=1)
        )
    },
    optional={
        "name": _json,
        "value": _json,
        "text": _json,
        "timestamp": _json,
        "metadata": _json,
        "entities": st.one_of(
            _json,
            st.lists(st.fixed_dictionaries({"entity": _json, "value": _json}), max_size=2),
        ),
        "parse_data": st.one_of(
            _json, st.fixed_dictionaries({}, optional={"intent": _json, "entities": _json})
        ),
        "policy": _json,
        "confidence": _json,
        "hide_rule_turn": _json,
    },
)
_response = st.one_of(
    _json,
    st.fixed_dictionaries(
        {},
        optional={
            "events": st.one_of(st.lists(st.one_of(_event, _json), max_size=4), _json),
            "responses": st.one_of(
                st.lists(
                    st.one_of(st.fixed_dictionaries({}, optional={"text": _json}), _json),
                    max_size=3,
                ),
                _json,
            ),
        },
    ),
)


@settings(max_examples=300, deadline=None)
@given(_response)
def test_response_check_agrees_with_the_full_schema(response: object) -> None:
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    check = rasa_ext._response_validator()
    assert check.is_valid(response) is check.full.is_valid(response)
    # The fast path never accepts what Rasa's own call (jsonschema.validate) rejects.
    if check._fast(response):
        jsonschema.validate(response, schema)


def test_response_check_fast_path_takes_the_usual_responses() -> None:
    from rasa.core.actions.action import RemoteAction

    check = rasa_ext.ResponseCheck(RemoteAction.action_response_format_spec())
    usual = {
        "events": [
            {"event": "slot", "timestamp": None, "name": "requested_slot", "value": "budget"},
            {"event": "bot", "timestamp": 1.5, "text": "What is your budget?", "data": {}},
            {"event": "followup", "timestamp": None, "name": "qualification_form"},
            {"event": "active_loop", "name": None},
        ],
        "responses": [{"text": "Hi", "buttons": []}],
    }
    assert check._fast(usual)
    assert not check._fast({"events": [{"event": "slot", "value": 1}]})  # no name
    assert not check.is_valid({"events": [{"event": "slot", "value": 1}]})
    assert not check.is_valid({"events": [{"event": "user", "text": 3}]})
    assert not check.is_valid({"events": [{"event": ["slot"]}]})


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
