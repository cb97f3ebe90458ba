"""Storefront events API: validation of every field, batches, limits, idempotency, scoring, auth.

Pure validation cases run on SQLite only (a rejected event never reaches the
database); everything that stores something runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bench.databases import drop_database
from bot.leads import LeadService
from bot.leads.commands import RecordAnswer
from bot.scoring import STOREFRONT_EVENT_TYPES
from bot.settings import Settings
from bot.store.db import create_db_engine
from bot.store.migrate import upgrade
from bot.web import create_app
from tests.handoff import HANDOFF_CONFIG
from tests.scoring import SCORING_CONFIG

TOKEN = "sales-token-123"
SHOP_TOKEN = "storefront-token-456"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SHOP_AUTH = {"Authorization": f"Bearer {SHOP_TOKEN}"}
JSON_HEADERS = {**AUTH, "Content-Type": "application/json"}
EVENTS = "/api/v2/events"
MAX_BODY = 1 << 20
IN_STOCK_VARIANT = "hoodie-classic-blue-m"  # stock 12 in bot/catalog/demo.yml
ALLOWED_FIELDS = "event_id, product_id, properties, session_id, ts, type, value, variant_id"


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _ago(**delta: float) -> str:
    return _iso(datetime.now(timezone.utc) - timedelta(**delta))


def _ahead(**delta: float) -> str:
    return _iso(datetime.now(timezone.utc) + timedelta(**delta))


def _event(
    event_id: str, session_id: str = "shop-1", kind: str = "product_view", **extra: Any
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": event_id,
        "session_id": session_id,
        "type": kind,
        "ts": _ago(minutes=1),
    }
    event.update(extra)
    return event


def _settings(database_url: str, tmp_path: Path) -> Settings:
    """The web app's settings, scoring and handing off with the tests' own files."""
    return replace(
        Settings(scoring_config_path=SCORING_CONFIG, handoff_config_path=HANDOFF_CONFIG),
        database_url=database_url,
        leads_api_token=TOKEN,
        storefront_token=SHOP_TOKEN,
        spool_dir=tmp_path / "spool",
    )


@pytest.fixture
async def client(database_url: str, tmp_path: Path) -> AsyncIterator[TestClient]:
    """The web app on a migrated database of each kind."""
    async with TestClient(TestServer(create_app(_settings(database_url, tmp_path)))) as test:
        yield test


@pytest.fixture
async def sqlite_client(migrated_sqlite_url: str, tmp_path: Path) -> AsyncIterator[TestClient]:
    """The web app on SQLite, for requests rejected before anything is stored."""
    settings = _settings(migrated_sqlite_url, tmp_path)
    async with TestClient(TestServer(create_app(settings))) as test:
        yield test


@pytest.fixture
def repository(database_url: str) -> Iterator[LeadService]:
    engine = create_db_engine(database_url)
    yield LeadService(engine)
    engine.dispose()


async def _post(
    client: TestClient, body: Any, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    response = await client.post(EVENTS, json=body, headers=AUTH if headers is None else headers)
    return response.status, await response.json()


async def _post_raw(client: TestClient, data: Any) -> tuple[int, dict[str, Any]]:
    response = await client.post(EVENTS, data=data, headers=JSON_HEADERS)
    return response.status, await response.json()


async def _lead(client: TestClient, session_id: str) -> dict[str, Any] | None:
    response = await client.get("/api/v2/leads", params={"session_id": session_id}, headers=AUTH)
    assert response.status == 200
    items = (await response.json())["items"]
    assert len(items) <= 1
    return items[0] if items else None


async def _storefront_events(client: TestClient, session_id: str) -> list[dict[str, Any]]:
    lead = await _lead(client, session_id)
    if lead is None:
        return []
    response = await client.get(f"/api/v2/leads/{lead['id']}/events", headers=AUTH)
    assert response.status == 200
    return [item for item in (await response.json())["items"] if item["source"] == "storefront"]


async def _score(client: TestClient, lead_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/v2/leads/{lead_id}/score", headers=AUTH)
    assert response.status == 200
    body: dict[str, Any] = await response.json()
    return body


def _without(event: dict[str, Any], name: str) -> dict[str, Any]:
    return {key: value for key, value in event.items() if key != name}


# --- one invalid field -------------------------------------------------------------------

BASE = {
    "event_id": "bad-1",
    "session_id": "sess-bad",
    "type": "product_view",
    "product_id": "hoodie-classic",
}


def _base(**changes: Any) -> Callable[[], dict[str, Any]]:
    # Built at request time so that relative timestamps are relative to "now".
    def build() -> dict[str, Any]:
        event = {**BASE, "ts": _ago(minutes=1)}
        event.update(changes)
        return event

    return build


def _missing(name: str) -> Callable[[], dict[str, Any]]:
    return lambda: _without({**BASE, "ts": _ago(minutes=1)}, name)


INVALID_EVENTS = [
    pytest.param(_missing("event_id"), "event_id", "event_id is required", id="no-event_id"),
    pytest.param(_missing("session_id"), "session_id", "session_id is required", id="no-session"),
    pytest.param(_missing("type"), "type", "type is required", id="no-type"),
    pytest.param(_missing("ts"), "ts", "ts is required", id="no-ts"),
    pytest.param(_base(session_id=None), "session_id", "session_id is required", id="null-session"),
    pytest.param(_base(event_id=123), "event_id", "must be a non-empty string", id="int-event_id"),
    pytest.param(_base(event_id=""), "event_id", "must be a non-empty string", id="empty-id"),
    pytest.param(_base(event_id="   "), "event_id", "must be a non-empty string", id="blank-id"),
    pytest.param(_base(session_id=["s"]), "session_id", "non-empty string", id="list-session"),
    pytest.param(_base(product_id=5), "product_id", "non-empty string", id="int-product"),
    pytest.param(_base(variant_id={"id": 1}), "variant_id", "non-empty string", id="obj-variant"),
    pytest.param(
        _base(event_id="e" * 161),
        "event_id",
        "event_id must be at most 160 characters, got 161",
        id="long-event_id",
    ),
    pytest.param(
        _base(session_id="s" * 129),
        "session_id",
        "session_id must be at most 128 characters, got 129",
        id="long-session",
    ),
    pytest.param(
        _base(product_id="p" * 121),
        "product_id",
        "product_id must be at most 120 characters, got 121",
        id="long-product",
    ),
    pytest.param(
        _base(variant_id="v" * 121),
        "variant_id",
        "variant_id must be at most 120 characters, got 121",
        id="long-variant",
    ),
    # One session-id rule for chat, events and forms (bot.sessionids).
    pytest.param(
        _base(session_id="lead-0a1b2c"), "session_id", "reserved for leads", id="staff-session"
    ),
    pytest.param(
        _base(session_id="sess\nforged log line"),
        "session_id",
        "without control characters",
        id="control-session",
    ),
    pytest.param(_base(type="checkout"), "type", "unknown type 'checkout'", id="unknown-type"),
    pytest.param(_base(type="PAGE_VIEW"), "type", "unknown type 'PAGE_VIEW'", id="type-case"),
    pytest.param(_base(type=7), "type", "unknown type 7", id="int-type"),
    pytest.param(_base(ts="2026-11-23T10:15:00"), "ts", "has no time zone", id="naive-ts"),
    pytest.param(_base(ts="2026-11-23"), "ts", "has no time zone", id="date-only-ts"),
    pytest.param(_base(ts="yesterday"), "ts", "is not an ISO 8601 time", id="words-ts"),
    pytest.param(_base(ts="2026-13-40T10:15:00Z"), "ts", "is not an ISO 8601", id="bad-date-ts"),
    pytest.param(_base(ts=""), "ts", "is not an ISO 8601 time", id="empty-ts"),
    pytest.param(_base(ts=1732356900), "ts", "must be an ISO 8601 string", id="epoch-ts"),
    pytest.param(_base(ts=None), "ts", "must be an ISO 8601 string", id="null-ts"),
    pytest.param(lambda: {**BASE, "ts": _ahead(minutes=6)}, "ts", "in the future", id="ts+6min"),
    pytest.param(_base(ts="1999-12-31T23:59:59Z"), "ts", "before 2000-01-01", id="ts-1999"),
    pytest.param(
        _base(ts="2000-01-01T00:30:00+01:00"), "ts", "before 2000-01-01", id="ts-1999-offset"
    ),
    pytest.param(_base(value=-1), "value", "between 0 and 1,000,000,000", id="negative-value"),
    pytest.param(_base(value="-0.01"), "value", "between 0 and 1,000,000,000", id="neg-string"),
    pytest.param(_base(value=math.nan), "value", "between 0 and 1,000,000,000", id="nan-value"),
    pytest.param(_base(value="NaN"), "value", "between 0 and 1,000,000,000", id="nan-string"),
    pytest.param(_base(value=math.inf), "value", "between 0 and 1,000,000,000", id="inf-value"),
    pytest.param(_base(value="1e10"), "value", "between 0 and 1,000,000,000", id="huge-string"),
    pytest.param(
        _base(value=1_000_000_000.01), "value", "between 0 and 1,000,000,000", id="over-1e9"
    ),
    pytest.param(_base(value=10**30), "value", "between 0 and 1,000,000,000", id="huge-int"),
    pytest.param(_base(value=True), "value", "value must be a number", id="true-value"),
    pytest.param(_base(value=False), "value", "value must be a number", id="false-value"),
    pytest.param(_base(value=[1]), "value", "value must be a number", id="list-value"),
    pytest.param(_base(value={"amount": 1}), "value", "value must be a number", id="obj-value"),
    pytest.param(_base(value="59,90"), "value", "is not a number", id="comma-value"),
    pytest.param(_base(value=""), "value", "is not a number", id="empty-value"),
    pytest.param(_base(properties=[]), "properties", "must be a JSON object", id="list-props"),
    pytest.param(_base(properties="x=1"), "properties", "must be a JSON object", id="str-props"),
    pytest.param(_base(properties=3), "properties", "must be a JSON object", id="int-props"),
    pytest.param(
        _base(properties={"k": "x" * 4089}),  # compact JSON is 4097 characters
        "properties",
        "at most 4096 characters",
        id="props-4097",
    ),
    pytest.param(
        _base(colour="blue"),
        "colour",
        f"unknown field(s) colour; allowed: {ALLOWED_FIELDS}",
        id="unknown-field",
    ),
    pytest.param(
        _base(zeta=1, alpha=2), "alpha", "unknown field(s) alpha, zeta", id="two-unknown-fields"
    ),
    pytest.param(_base(eventId="x"), "eventId", "unknown field(s) eventId", id="camel-case-field"),
]


@pytest.mark.parametrize(("build", "field", "fragment"), INVALID_EVENTS)
async def test_invalid_event_is_400_naming_field(
    sqlite_client: TestClient, build: Callable[[], dict[str, Any]], field: str, fragment: str
) -> None:
    event = build()
    status, body = await _post(sqlite_client, event)
    assert status == 400, body
    error = body["error"]
    assert error["status"] == 400
    assert error["message"] == "1 of 1 event(s) rejected; the other 0 were processed"
    assert (error["accepted"], error["duplicates"], error["rejected"]) == (0, 0, 1)
    [item] = error["errors"]
    expected_id = event.get("event_id") if isinstance(event.get("event_id"), str) else None
    assert item["index"] == 0
    assert item["event_id"] == expected_id
    assert item["field"] == field
    assert fragment in item["message"]
    # Nothing was stored: the session has no lead.
    assert await _lead(sqlite_client, "sess-bad") is None


async def test_unknown_type_lists_every_known_type(sqlite_client: TestClient) -> None:
    status, body = await _post(sqlite_client, _event("t-1", kind="wishlist_add"))
    assert status == 400
    message = body["error"]["errors"][0]["message"]
    assert message.startswith("unknown type 'wishlist_add'; known types: ")
    listed = message.split("known types: ", 1)[1].split(", ")
    assert listed == list(STOREFRONT_EVENT_TYPES)
    assert set(listed) == {
        "page_view",
        "product_view",
        "variant_select",
        "compare",
        "add_to_cart",
        "shipping_check",
        "checkout_start",
        "payment_info",
        "purchase",
        "email_click",
    }


@pytest.mark.parametrize("kind", STOREFRONT_EVENT_TYPES)
async def test_every_known_type_is_accepted(sqlite_client: TestClient, kind: str) -> None:
    status, body = await _post(sqlite_client, _event(f"k-{kind}", "types", kind))
    assert (status, body) == (202, {"accepted": 1, "duplicates": 0})
    assert [item["type"] for item in await _storefront_events(sqlite_client, "types")] == [kind]


# --- accepted edge values -------------------------------------------------------------------


ACCEPTED_EDGES = [
    pytest.param(
        lambda: {"ts": _ahead(minutes=4)},
        lambda e: (
            datetime.fromisoformat(e["ts"]) > datetime.now(timezone.utc) + timedelta(minutes=3)
        ),
        id="ts+4min",
    ),
    pytest.param(
        lambda: {"ts": "2026-01-05T11:15:00+01:00"},
        lambda e: e["ts"] == "2026-01-05T10:15:00+00:00",
        id="offset-ts-stored-utc",
    ),
    pytest.param(
        lambda: {"ts": "2026-01-05T10:15:00.250z"},
        lambda e: e["ts"] == "2026-01-05T10:15:00.250000+00:00",
        id="lowercase-z-ms",
    ),
    pytest.param(
        lambda: {"ts": "2000-01-01T00:00:00Z"},
        lambda e: e["ts"] == "2000-01-01T00:00:00+00:00",
        id="ts-exactly-2000",
    ),
    pytest.param(
        lambda: {"ts": "1999-12-31T23:30:00-01:00"},
        lambda e: e["ts"] == "2000-01-01T00:30:00+00:00",
        id="ts-1999-local-is-2000-utc",
    ),
    pytest.param(lambda: {"value": 0}, lambda e: e["value"] == 0, id="value-0"),
    pytest.param(
        lambda: {"value": 1_000_000_000}, lambda e: e["value"] == 1e9, id="value-exactly-1e9"
    ),
    pytest.param(lambda: {"value": " 12.5 "}, lambda e: e["value"] == 12.5, id="padded-string"),
    pytest.param(
        lambda: {"event_id": "e" * 160, "product_id": "p" * 120, "variant_id": "v" * 120},
        lambda e: len(e["event_id"]) == 160 and len(e["variant_id"]) == 120,
        id="ids-at-limits",
    ),
    pytest.param(
        lambda: {"properties": {"k": "x" * 4088}},  # compact JSON is exactly 4096 characters
        lambda e: len(e["properties"]["k"]) == 4088,
        id="props-4096",
    ),
    pytest.param(
        lambda: {"product_id": None, "variant_id": None, "value": None, "properties": None},
        lambda e: e["product_id"] is None and e["value"] is None and e["properties"] == {},
        id="explicit-nulls",
    ),
    pytest.param(
        lambda: {"properties": {"q": "café ✓", "n": [1, {"x": None}]}},
        lambda e: e["properties"] == {"q": "café ✓", "n": [1, {"x": None}]},
        id="nested-unicode-props",
    ),
]


@pytest.mark.parametrize(("changes", "check"), ACCEPTED_EDGES)
async def test_edge_values_are_accepted_and_stored(
    client: TestClient,
    changes: Callable[[], dict[str, Any]],
    check: Callable[[dict[str, Any]], bool],
) -> None:
    event = {**_event("edge-1", "edge-session"), **changes()}
    status, body = await _post(client, event)
    assert (status, body) == (202, {"accepted": 1, "duplicates": 0})
    [stored] = await _storefront_events(client, "edge-session")
    assert stored["event_id"] == event["event_id"]
    assert check(stored), stored


async def test_numeric_string_values_are_stored_as_exact_decimals(
    client: TestClient, repository: LeadService
) -> None:
    raws = ["59.90", "0.10", "1000000000", "0.000001", "1234.5000", "0"]
    batch = [
        _event(f"v-{i}", "value-session", "add_to_cart", value=raw) for i, raw in enumerate(raws)
    ]
    assert await _post(client, {"events": batch}) == (202, {"accepted": 6, "duplicates": 0})
    lead = repository.get_lead_by_session("value-session")
    assert lead is not None
    stored = {e["event_id"]: e["value"] for e in repository.events(lead["id"])}
    for i, raw in enumerate(raws):
        value = stored[f"v-{i}"]
        assert isinstance(value, Decimal)
        assert str(value) == raw  # exact digits, trailing zeros kept
    # The API renders them as JSON numbers of the same value.
    api = {e["event_id"]: e["value"] for e in await _storefront_events(client, "value-session")}
    assert api["v-0"] == 59.9 and api["v-2"] == 1_000_000_000 and api["v-4"] == 1234.5


async def test_float_value_is_stored_exactly_as_written(
    client: TestClient, repository: LeadService
) -> None:
    status, _ = await _post(client, _event("f-1", "float-session", "purchase", value=59.9))
    assert status == 202
    lead = repository.get_lead_by_session("float-session")
    assert lead is not None
    [stored] = [e for e in repository.events(lead["id"]) if e["source"] == "storefront"]
    assert stored["value"] == Decimal("59.9")  # not 59.89999999999999857891452847979962825775


# --- batches ---------------------------------------------------------------------------------


async def test_mixed_batch_stores_good_events_and_reports_each_bad_one(client: TestClient) -> None:
    batch = [
        _event("m-0", "mixed"),
        _without(_event("m-1", "mixed"), "ts"),
        _event("m-2", "mixed", "add_to_cart", variant_id=IN_STOCK_VARIANT, value="59.00"),
        _event("m-3", "mixed", "wishlist"),
        "not an event",
        _event("m-5", "mixed", value=-3),
        _event("m-6", "mixed", "page_view"),
        {**_event("m-7", "mixed"), "extra": True},
    ]
    status, body = await _post(client, {"events": batch})
    assert status == 400
    error = body["error"]
    assert error["message"] == "5 of 8 event(s) rejected; the other 3 were processed"
    assert (error["accepted"], error["duplicates"], error["rejected"]) == (3, 0, 5)
    assert [(e["index"], e["event_id"], e["field"]) for e in error["errors"]] == [
        (1, "m-1", "ts"),
        (3, "m-3", "type"),
        (4, None, "(event)"),
        (5, "m-5", "value"),
        (7, "m-7", "extra"),
    ]
    assert error["errors"][2]["message"] == "each event must be a JSON object"
    stored = await _storefront_events(client, "mixed")
    assert sorted(e["event_id"] for e in stored) == ["m-0", "m-2", "m-6"]
    cart = next(e for e in stored if e["event_id"] == "m-2")
    assert cart["variant_id"] == IN_STOCK_VARIANT and cart["value"] == 59


async def test_mixed_batch_counts_duplicates_of_earlier_requests(client: TestClient) -> None:
    assert (await _post(client, _event("d-0", "dup-mixed")))[0] == 202
    status, body = await _post(
        client,
        {"events": [_event("d-0", "dup-mixed"), _event("d-1", "dup-mixed"), _event("", "x")]},
    )
    assert status == 400
    error = body["error"]
    assert (error["accepted"], error["duplicates"], error["rejected"]) == (1, 1, 1)
    assert error["errors"][0]["index"] == 2
    assert sorted(e["event_id"] for e in await _storefront_events(client, "dup-mixed")) == [
        "d-0",
        "d-1",
    ]


async def test_batch_of_500_is_accepted(client: TestClient) -> None:
    batch = [_event(f"b500-{i}", f"s500-{i % 7}", "page_view") for i in range(500)]
    status, body = await _post(client, {"events": batch})
    assert (status, body) == (202, {"accepted": 500, "duplicates": 0})
    stored = await _storefront_events(client, "s500-0")
    assert len(stored) == len(range(0, 500, 7))


async def test_batch_of_501_is_400_and_nothing_stored(sqlite_client: TestClient) -> None:
    batch = [_event(f"b501-{i}", "s501", "page_view") for i in range(501)]
    status, body = await _post(sqlite_client, {"events": batch})
    assert status == 400
    assert body["error"]["message"] == "at most 500 events per request, got 501; split the batch"
    assert "accepted" not in body["error"]
    assert await _lead(sqlite_client, "s501") is None


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        pytest.param(b'{"events": []}', "'events' is empty; send at least one event", id="empty"),
        pytest.param(b"not json", "body must be JSON", id="not-json"),
        pytest.param(b"", "body must be JSON", id="empty-body"),
        pytest.param(b'{"event_id": "x",', "body must be JSON", id="truncated"),
        pytest.param(b"\xff\xfe{}", "body must be JSON", id="not-utf8"),
        pytest.param(
            b'[{"event_id": "a1", "session_id": "top", "type": "page_view", '
            b'"ts": "2026-01-01T00:00:00Z"}]',
            'body must be one event object or {"events": [...]}',
            id="top-level-array",
        ),
        pytest.param(b'"page_view"', "body must be one event object", id="top-level-string"),
        pytest.param(b"42", "body must be one event object", id="top-level-number"),
        pytest.param(b"null", "body must be one event object", id="top-level-null"),
        pytest.param(
            b'{"events": [{"event_id": "a1", "session_id": "top", "type": "page_view", '
            b'"ts": "2026-01-01T00:00:00Z"}], "extra": 1}',
            "unknown top-level field(s) extra next to 'events'",
            id="events-plus-extra",
        ),
        pytest.param(b'{"events": {"event_id": "a1"}}', "'events' must be a list", id="obj-events"),
        pytest.param(b'{"events": null}', "'events' must be a list", id="null-events"),
        pytest.param(b'{"events": "a1"}', "'events' must be a list", id="str-events"),
    ],
)
async def test_bad_request_shape_is_400_and_nothing_stored(
    sqlite_client: TestClient, data: bytes, fragment: str
) -> None:
    status, body = await _post_raw(sqlite_client, data)
    assert status == 400, body
    assert fragment in body["error"]["message"]
    assert "errors" not in body["error"]
    assert await _lead(sqlite_client, "top") is None


async def test_deeply_nested_json_is_400_not_500(sqlite_client: TestClient) -> None:
    # 200 kB, well under the size limit, but deeper than the JSON decoder's recursion limit.
    status, body = await _post_raw(sqlite_client, b"[" * 100_000 + b"]" * 100_000)
    assert status == 400, body
    assert "body must be JSON" in body["error"]["message"]


def _big_batch(session_id: str) -> bytes:
    # 500 individually valid events, ~1.1 MB in total.
    batch = [
        _event(f"big-{i}", session_id, "page_view", properties={"note": "x" * 2100})
        for i in range(500)
    ]
    data = json.dumps({"events": batch}).encode()
    assert len(data) > MAX_BODY
    return data


async def test_body_over_1mb_with_content_length_is_413(sqlite_client: TestClient) -> None:
    data = _big_batch("big-cl")
    status, body = await _post_raw(sqlite_client, data)
    assert status == 413
    message = body["error"]["message"]
    assert f"at most 1 MB ({MAX_BODY} bytes)" in message
    assert f"got {len(data)} bytes" in message
    assert await _lead(sqlite_client, "big-cl") is None


async def test_chunked_body_over_1mb_is_413(sqlite_client: TestClient) -> None:
    data = _big_batch("big-chunked")

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(data), 64 * 1024):
            yield data[start : start + 64 * 1024]

    response = await sqlite_client.post(EVENTS, data=chunks(), headers=JSON_HEADERS)
    assert response.request_info.headers.get("Transfer-Encoding") == "chunked"
    assert response.status == 413
    assert f"at most 1 MB ({MAX_BODY} bytes)" in (await response.json())["error"]["message"]
    assert await _lead(sqlite_client, "big-chunked") is None


def _padded_event_body(size: int) -> bytes:
    # A valid single event padded with trailing JSON whitespace to exactly ``size`` bytes.
    data = json.dumps(_event("pad-1", "padded", "page_view")).encode()
    return data + b" " * (size - len(data))


async def test_body_of_exactly_1mb_is_accepted(sqlite_client: TestClient) -> None:
    # The limit is "at most 1 MB (1048576 bytes)": a body of exactly that size is allowed.
    status, body = await _post_raw(sqlite_client, _padded_event_body(MAX_BODY))
    assert status == 202, body
    assert body == {"accepted": 1, "duplicates": 0}


async def test_body_of_1mb_plus_one_byte_is_413(sqlite_client: TestClient) -> None:
    status, body = await _post_raw(sqlite_client, _padded_event_body(MAX_BODY + 1))
    assert status == 413
    assert f"got {MAX_BODY + 1} bytes" in body["error"]["message"]


# --- idempotency -----------------------------------------------------------------------------


async def test_same_batch_twice_is_all_duplicates_and_score_unchanged(client: TestClient) -> None:
    batch = {
        "events": [
            _event("i-1", "idem", "product_view", product_id="hoodie-classic"),
            _event("i-2", "idem", "add_to_cart", variant_id=IN_STOCK_VARIANT, value="59"),
            _event("i-3", "idem", "shipping_check", properties={"country": "FR"}),
        ]
    }
    assert await _post(client, batch) == (202, {"accepted": 3, "duplicates": 0})
    lead = await _lead(client, "idem")
    assert lead is not None and lead["score"] > 0
    before = await _score(client, lead["id"])

    assert await _post(client, batch) == (202, {"accepted": 0, "duplicates": 3})
    again = await _lead(client, "idem")
    assert again is not None
    assert again["id"] == lead["id"]
    assert (again["score"], again["stage"], again["reasons"]) == (
        lead["score"],
        lead["stage"],
        lead["reasons"],
    )
    after = await _score(client, lead["id"])
    assert after["snapshots"] == before["snapshots"]
    assert after["stage_transitions"] == before["stage_transitions"]
    assert sorted(e["event_id"] for e in await _storefront_events(client, "idem")) == [
        "i-1",
        "i-2",
        "i-3",
    ]


async def test_duplicate_event_id_within_one_batch_counts_as_duplicate(
    client: TestClient,
) -> None:
    batch = {
        "events": [
            _event("w-1", "within", "add_to_cart", variant_id=IN_STOCK_VARIANT),
            _event("w-2", "within", "page_view"),
            _event("w-1", "within", "add_to_cart", variant_id=IN_STOCK_VARIANT),
        ]
    }
    assert await _post(client, batch) == (202, {"accepted": 2, "duplicates": 1})
    stored = await _storefront_events(client, "within")
    assert sorted(e["event_id"] for e in stored) == ["w-1", "w-2"]
    lead = await _lead(client, "within")
    assert lead is not None
    cart = next(r for r in lead["reasons"] if r["rule"] == "intent.add_to_cart")
    assert cart["points"] == 12  # one cart add, not two


async def test_resent_event_id_with_other_content_keeps_the_first(client: TestClient) -> None:
    assert (await _post(client, _event("o-1", "other", "page_view")))[0] == 202
    assert await _post(client, _event("o-1", "other", "payment_info")) == (
        202,
        {"accepted": 0, "duplicates": 1},
    )
    [stored] = await _storefront_events(client, "other")
    assert stored["type"] == "page_view"


async def test_single_event_object_is_accepted(client: TestClient) -> None:
    status, body = await _post(client, _event("one-1", "single", "variant_select"))
    assert (status, body) == (202, {"accepted": 1, "duplicates": 0})
    [stored] = await _storefront_events(client, "single")
    assert (stored["event_id"], stored["type"], stored["source"]) == (
        "one-1",
        "variant_select",
        "storefront",
    )


# --- leads and scoring -----------------------------------------------------------------------


async def test_events_create_anonymous_lead_for_session(client: TestClient) -> None:
    session = f"anon-{uuid.uuid4().hex}"
    assert await _lead(client, session) is None
    status, _ = await _post(
        client, _event("a-1", session, "product_view", product_id="tee-organic")
    )
    assert status == 202
    lead = await _lead(client, session)
    assert lead is not None
    assert lead["session_id"] == session
    assert (lead["first_name"], lead["email"], lead["phone"]) == (None, None, None)
    assert lead["score"] > 0
    assert lead["stage"] == "cold"
    assert lead["intent_score"] + lead["fit_score"] == lead["score"]
    assert [r["rule"] for r in lead["reasons"]] == ["intent.product_view"]
    single = await client.get(f"/api/v2/leads/{lead['id']}", headers=AUTH)
    assert (await single.json())["session_id"] == session


async def test_one_batch_for_two_sessions_makes_two_leads(client: TestClient) -> None:
    batch = {"events": [_event("2s-1", "left", "page_view"), _event("2s-2", "right", "compare")]}
    assert await _post(client, batch) == (202, {"accepted": 2, "duplicates": 0})
    left, right = await _lead(client, "left"), await _lead(client, "right")
    assert left is not None and right is not None
    assert left["id"] != right["id"]
    assert [e["event_id"] for e in await _storefront_events(client, "right")] == ["2s-2"]


async def test_events_attach_to_existing_chat_lead(
    client: TestClient, repository: LeadService
) -> None:
    repository.apply(
        [
            RecordAnswer(
                session_id="chat-1",
                answer_id="m1:timeline",
                key="timeline",
                raw="this week",
                value={"days": 5},
                status="answered",
                answered_at=datetime.now(timezone.utc),
            )
        ]
    )
    chat_lead = await _lead(client, "chat-1")
    assert chat_lead is not None
    assert (await _post(client, _event("c-1", "chat-1", "add_to_cart")))[0] == 202
    lead = await _lead(client, "chat-1")
    assert lead is not None
    assert lead["id"] == chat_lead["id"]
    assert lead["answers"]["timeline"]["raw"] == "this week"
    assert {r["rule"] for r in lead["reasons"]} >= {"intent.add_to_cart", "fit.timeline"}


async def test_cart_then_checkout_of_in_stock_variant_scores_warm(client: TestClient) -> None:
    session = "journey"
    cart = _event("j-1", session, "add_to_cart", ts=_ago(minutes=3), value="59.00")
    cart.update(product_id="hoodie-classic", variant_id=IN_STOCK_VARIANT)
    assert await _post(client, cart) == (202, {"accepted": 1, "duplicates": 0})
    after_cart = await _lead(client, session)
    assert after_cart is not None
    assert after_cart["stage"] == "cold"

    checkout = _event(
        "j-2", session, "checkout_start", ts=_ago(minutes=1), variant_id=IN_STOCK_VARIANT
    )
    assert await _post(client, checkout) == (202, {"accepted": 1, "duplicates": 0})
    lead = await _lead(client, session)
    assert lead is not None
    rules = {reason["rule"]: reason for reason in lead["reasons"]}
    assert {"intent.checkout_start", "intent.add_to_cart", "fit.variant"} <= rules.keys()
    assert rules["intent.checkout_start"]["points"] == 30
    assert rules["fit.variant"]["points"] == 10
    assert "in stock" in rules["fit.variant"]["detail"]
    assert lead["stage"] == "warm"
    assert lead["score"] == sum(reason["points"] for reason in lead["reasons"])
    assert lead["score"] > after_cart["score"]

    score = await _score(client, lead["id"])
    assert (score["lead_id"], score["score"], score["stage"]) == (lead["id"], lead["score"], "warm")
    assert score["reasons"] == lead["reasons"]
    assert [s["stage"] for s in score["snapshots"]] == ["cold", "warm"]
    assert [s["score"] for s in score["snapshots"]] == [after_cart["score"], lead["score"]]
    assert "storefront add_to_cart" in score["snapshots"][0]["cause"]
    [transition] = score["stage_transitions"]
    assert (transition["from"], transition["to"]) == ("cold", "warm")
    assert transition["score"] == lead["score"]
    assert "storefront checkout_start" in transition["cause"]

    response = await client.get(f"/api/v2/leads/{lead['id']}/events", headers=AUTH)
    kinds = [(e["type"], e["source"]) for e in (await response.json())["items"]]
    assert ("stage_changed", "system") in kinds
    assert kinds.count(("checkout_start", "storefront")) == 1


# --- auth ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-token"),
        pytest.param({"Authorization": "Bearer wrong"}, id="wrong-token"),
        pytest.param({"Authorization": f"Basic {TOKEN}"}, id="basic-scheme"),
        pytest.param({"Authorization": "Bearer "}, id="empty-bearer"),
        pytest.param({"Authorization": f"Bearer {SHOP_TOKEN}x"}, id="token-prefix"),
    ],
)
async def test_events_without_valid_token_are_401(
    sqlite_client: TestClient, headers: dict[str, str]
) -> None:
    response = await sqlite_client.post(
        EVENTS, json=_event("auth-1", "auth-session"), headers=headers
    )
    assert response.status == 401
    assert "bearer token" in (await response.json())["error"]["message"]
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="leads"'
    assert await _lead(sqlite_client, "auth-session") is None


async def test_storefront_token_writes_events_but_cannot_read_leads(client: TestClient) -> None:
    status, body = await _post(client, _event("sf-1", "shopfront"), SHOP_AUTH)
    assert (status, body) == (202, {"accepted": 1, "duplicates": 0})
    lead = await _lead(client, "shopfront")
    assert lead is not None

    for path in (
        "/api/v2/leads",
        f"/api/v2/leads/{lead['id']}",
        f"/api/v2/leads/{lead['id']}/events",
        f"/api/v2/leads/{lead['id']}/score",
    ):
        response = await client.get(path, headers=SHOP_AUTH)
        assert response.status == 403, path
        message = (await response.json())["error"]["message"]
        assert "'leads:read' scope" in message
        assert f"GET {path}" in message


async def test_sales_token_can_post_events_too(client: TestClient) -> None:
    assert await _post(client, _event("sales-1", "sales"), AUTH) == (
        202,
        {"accepted": 1, "duplicates": 0},
    )
    assert [e["event_id"] for e in await _storefront_events(client, "sales")] == ["sales-1"]


# --- database unavailable --------------------------------------------------------------------


@dataclass
class Outage:
    """A database URL that cannot be opened until ``bring_up()`` is called."""

    url: str
    bring_up: Callable[[], None]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def outage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Outage]:
    if request.param == "sqlite":
        # A directory where the database file should be: SQLite cannot open it.
        path = tmp_path / "down" / "leads.db"
        path.mkdir(parents=True)
        url = f"sqlite:///{path}"

        def bring_up_sqlite() -> None:
            path.rmdir()
            upgrade(url)

        yield Outage(url, bring_up_sqlite)
        return
    admin_url: str = request.getfixturevalue("postgres_admin_url")
    # A database that does not exist yet: every connection attempt fails.
    name = f"leads_down_{uuid.uuid4().hex[:12]}"
    admin = create_db_engine(admin_url, isolation_level="AUTOCOMMIT")
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)

    def bring_up_postgres() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        upgrade(url)

    try:
        yield Outage(url, bring_up_postgres)
    finally:
        drop_database(admin, name)
        admin.dispose()


async def test_database_down_is_503_and_retry_with_same_ids_succeeds(
    outage: Outage, tmp_path: Path
) -> None:
    batch = {
        "events": [
            _event("down-1", "outage", "product_view"),
            _event("down-2", "outage", "add_to_cart", variant_id=IN_STOCK_VARIANT),
            _event("down-3", "outage-2", "page_view"),
        ]
    }
    async with TestClient(TestServer(create_app(_settings(outage.url, tmp_path)))) as client:
        status, body = await _post(client, batch)
        assert status == 503
        assert "retry with the same event_ids" in body["error"]["message"]
        assert "accepted" not in body["error"]  # nothing acknowledged
        response = await client.post(EVENTS, json=batch, headers=AUTH)
        assert response.status == 503
        assert response.headers["Retry-After"] == "5"

        # A batch with a bad event is still a 503 (not a 400 claiming "processed").
        mixed = {"events": [*batch["events"], _event("down-bad", "outage", "nope")]}
        status, body = await _post(client, mixed)
        assert status == 503

        # The app itself stays up.
        assert (await client.get("/healthz")).status == 200

        outage.bring_up()
        assert await _post(client, batch) == (202, {"accepted": 3, "duplicates": 0})
        assert await _post(client, batch) == (202, {"accepted": 0, "duplicates": 3})
        stored = await _storefront_events(client, "outage")
        assert sorted(e["event_id"] for e in stored) == ["down-1", "down-2"]
        lead = await _lead(client, "outage")
        assert lead is not None and lead["score"] > 0


# --- input that must never be a 5xx ------------------------------------------------------------
#
# Each of these is "bad input" in some way the validator does not yet name. The
# contract is: 202 (stored faithfully) or a 400 naming the field, and the other
# event of the batch is stored either way. Never a 500, and never a 503 -- a 503
# tells the storefront to retry the same batch forever.

ODD_BUT_JSON = [
    pytest.param({"type": []}, "type", id="type-list"),
    pytest.param({"type": {"name": "page_view"}}, "type", id="type-object"),
    pytest.param({"ts": "0001-01-01T00:00:00+01:00"}, "ts", id="ts-year-1-with-offset"),
    pytest.param({"ts": "9999-12-31T23:30:00-01:00"}, "ts", id="ts-year-9999-with-offset"),
    pytest.param({"event_id": "nul\x00id"}, "event_id", id="nul-in-event_id"),
    pytest.param({"session_id": "nul\x00session"}, "session_id", id="nul-in-session"),
    pytest.param({"properties": {"note": "a\x00b"}}, "properties", id="nul-in-properties"),
    pytest.param({"properties": {"ratio": math.nan}}, "properties", id="nan-in-properties"),
    pytest.param(
        {"value": "0.1000000000000000000000000000000000000000000"}, "value", id="value-45-chars"
    ),
    pytest.param({"value": "123456789.12345678901234567890123456789"}, "value", id="value-digits"),
]


def _check_never_5xx(
    status: int, body: dict[str, Any], stored_ids: list[str], field: str, good_id: str
) -> None:
    assert status in (202, 400), body
    assert good_id in stored_ids, "the valid event of the batch was not stored"
    if status == 400:
        [error] = body["error"]["errors"]
        assert (error["index"], error["field"]) == (1, field)
        assert body["error"]["accepted"] == 1


@pytest.mark.parametrize(("changes", "field"), ODD_BUT_JSON)
async def test_odd_values_are_never_5xx(
    client: TestClient, changes: dict[str, Any], field: str
) -> None:
    good = _event("odd-good", "odd", "page_view")
    odd = {**_event("odd-1", "odd", "page_view"), **changes}
    status, body = await _post(client, {"events": [good, odd]})
    stored = [e["event_id"] for e in await _storefront_events(client, "odd")]
    _check_never_5xx(status, body, stored, field, "odd-good")
    if status == 202 and odd["session_id"] == "odd":
        assert odd["event_id"] in stored


@pytest.mark.parametrize(
    ("escaped", "field"),
    [
        pytest.param('"event_id": "lone\\ud800"', "event_id", id="surrogate-event_id"),
        pytest.param('"product_id": "\\udfff"', "product_id", id="surrogate-product"),
        pytest.param('"properties": {"k": "\\ud83d"}', "properties", id="surrogate-properties"),
    ],
)
async def test_lone_surrogates_are_400_not_500(
    client: TestClient, escaped: str, field: str
) -> None:
    # A lone UTF-16 surrogate is valid JSON text but cannot be stored as UTF-8.
    good = json.dumps(_event("sur-good", "surrogate", "page_view"))
    odd = _without(_event("sur-1", "surrogate", "page_view"), field)
    odd_json = json.dumps(odd)[:-1] + ", " + escaped + "}"
    data = f'{{"events": [{good}, {odd_json}]}}'.encode()
    status, body = await _post_raw(client, data)
    stored = [e["event_id"] for e in await _storefront_events(client, "surrogate")]
    assert status == 400, body
    _check_never_5xx(status, body, stored, field, "sur-good")


@pytest.mark.parametrize(
    "ts",
    [
        pytest.param("2026-01-05T10:15:00.5Z", id="1-digit-fraction"),
        pytest.param("2026-01-05T10:15:00.12Z", id="2-digit-fraction-go-rfc3339nano"),
        pytest.param("2026-01-05T10:15:00.123456789Z", id="9-digit-fraction-java-instant"),
    ],
)
async def test_rfc3339_fractional_seconds_are_accepted(sqlite_client: TestClient, ts: str) -> None:
    # Valid ISO 8601 / RFC 3339 times as Go (RFC3339Nano) and Java (Instant) format them.
    status, body = await _post(sqlite_client, _event("frac-1", "frac", "page_view", ts=ts))
    assert status == 202, body
    [stored] = await _storefront_events(sqlite_client, "frac")
    assert stored["ts"].startswith("2026-01-05T10:15:00.")


# --- property-based: random JSON never gives a 5xx ---------------------------------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
KNOWN_FIELDS = ["event_id", "session_id", "type", "ts", "product_id", "variant_id", "value"]


@st.composite
def _events(draw: st.DrawFn) -> Any:
    """A valid event with some fields replaced by random JSON, or any random JSON value."""
    if draw(st.integers(0, 3)) == 0:
        return draw(JSON_VALUES)
    event: dict[str, Any] = {
        "event_id": f"h-{draw(st.integers(0, 10**9))}",
        "session_id": draw(st.sampled_from(["hypo-1", "hypo-2"])),
        "type": draw(st.sampled_from(STOREFRONT_EVENT_TYPES)),
        "ts": "2026-01-05T10:15:00Z",
    }
    for name in [*KNOWN_FIELDS, "properties"]:
        if draw(st.integers(0, 4)) == 0:
            event[name] = draw(JSON_VALUES)
    if draw(st.integers(0, 9)) == 0:
        event[draw(st.text(min_size=1, max_size=8))] = draw(JSON_VALUES)
    return event


BODIES = _events() | st.fixed_dictionaries({"events": st.lists(_events(), min_size=1, max_size=5)})


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=BODIES)
async def test_random_json_is_202_or_400(client: TestClient, body: Any) -> None:
    status, answer = await _post(client, body)
    assert status in (202, 400), (status, answer)
    if status == 202:
        assert answer["accepted"] + answer["duplicates"] >= 1
    else:
        assert answer["error"]["status"] == 400
