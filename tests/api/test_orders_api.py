"""Order webhook (``POST /api/v2/orders``) and purchase events over HTTP, on the real app.

Requests are signed with the handoff channel's own Standard Webhooks signer, the
scheme a shop platform uses. What is stored runs on SQLite and PostgreSQL;
requests refused before anything is stored run on SQLite only.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from bot.handoff.channels import webhook_headers
from bot.settings import Settings
from bot.store.db import create_db_engine
from bot.store.models import Handoff, Lead, Order
from bot.web import create_app
from bot.web.api import build_spec
from tests.api.test_lead_pages import SESSION_COOKIE
from tests.store.test_sales_desk import Story, handoff_settings, tell_story

TOKEN = "sales-token-123"
SHOP_TOKEN = "storefront-token-456"
SECRET = "whsec_" + base64.b64encode(b"s" * 32).decode()
OLD_SECRET = "whsec_" + base64.b64encode(b"o" * 32).decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"x" * 32).decode()
ORDERS = "/api/v2/orders"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _order(**changes: Any) -> dict[str, Any]:
    order: dict[str, Any] = {
        "order_id": "1001",
        "source": "shopify",
        "value": "129.90",
        "currency": "EUR",
        "ordered_at": (_now() - timedelta(minutes=3)).isoformat(),
        "product_id": "hoodie-classic",
        "variant_id": "hoodie-classic-blue-m",
        "sku": "HC-BLU-M",
        "quantity": 1,
        "session_id": "s-story",
    }
    order.update(changes)
    return {name: value for name, value in order.items() if value is not None}


def _signed(
    body: bytes, *, secrets: tuple[str, ...] = (SECRET,), at: datetime | None = None
) -> dict[str, str]:
    return webhook_headers(secrets, "msg_test", body, at or _now())


@dataclass
class Shop:
    client: TestClient
    engine: Engine
    story: Story

    async def post(
        self, order: dict[str, Any], headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, Any]]:
        body = json.dumps(order).encode()
        response = await self.client.post(
            ORDERS, data=body, headers=_signed(body) if headers is None else headers
        )
        return response.status, await response.json()

    def count(self, table: Any) -> int:
        with self.engine.connect() as connection:
            return int(
                connection.execute(select(func.count()).select_from(table.__table__)).scalar_one()
            )

    def lead(self) -> Any:
        with self.engine.connect() as connection:
            return connection.execute(
                select(Lead.__table__).where(Lead.id == self.story.lead_id)
            ).one()

    def handoff(self) -> Any:
        with self.engine.connect() as connection:
            return connection.execute(
                select(Handoff.__table__).where(Handoff.id == self.story.handoff_id)
            ).one()


def _settings(database_url: str, tmp_path: Path, **changes: Any) -> Settings:
    return replace(
        handoff_settings(),
        database_url=database_url,
        leads_api_token=TOKEN,
        storefront_token=SHOP_TOKEN,
        spool_dir=tmp_path / "spool",
        **{"order_webhook_secrets": (OLD_SECRET, SECRET), **changes},
    )


async def _shop(database_url: str, tmp_path: Path, **changes: Any) -> AsyncIterator[Shop]:
    settings = _settings(database_url, tmp_path, **changes)
    engine = create_db_engine(database_url)
    story = tell_story(engine, settings, _now(), deliver=False)
    try:
        async with TestClient(TestServer(create_app(settings))) as client:
            yield Shop(client, engine, story)
    finally:
        engine.dispose()


@pytest.fixture
async def shop(database_url: str, tmp_path: Path) -> AsyncIterator[Shop]:
    async for built in _shop(database_url, tmp_path):
        yield built


@pytest.fixture
async def sqlite_shop(migrated_sqlite_url: str, tmp_path: Path) -> AsyncIterator[Shop]:
    async for built in _shop(migrated_sqlite_url, tmp_path):
        yield built


# --- the webhook -------------------------------------------------------------------------------


async def test_a_signed_order_makes_the_lead_won_and_closes_its_handoff(shop: Shop) -> None:
    status, body = await shop.post(_order())
    assert status == 201, body
    assert body["lead_id"] == shop.story.lead_id
    assert (body["matched"], body["matched_by"], body["duplicate"]) == (True, "session_id", False)
    assert (body["status"], body["revenue"], body["revenue_currency"]) == ("Won", 129.9, "EUR")
    assert body["closed_handoffs"] == [shop.story.handoff_id]
    assert body["order"]["variant_id"] == "hoodie-classic-blue-m"
    lead = shop.lead()
    assert (lead.status, Decimal(lead.revenue)) == ("Won", Decimal("129.90"))
    assert lead.converted_at is not None
    assert (shop.handoff().status, shop.handoff().outcome) == ("closed", "won")


async def test_a_replayed_order_answers_the_stored_result_without_counting_twice(
    shop: Shop,
) -> None:
    order = _order()
    first_status, first = await shop.post(order)
    again_status, again = await shop.post(order)
    assert (first_status, again_status) == (201, 200)
    assert again["duplicate"] is True
    assert again["order"] == first["order"]
    assert again["revenue"] == 129.9
    assert shop.count(Order) == 1


async def test_an_order_id_reused_with_another_value_is_409_naming_the_field(shop: Shop) -> None:
    assert (await shop.post(_order()))[0] == 201
    status, body = await shop.post(_order(value="99.00"))
    assert status == 409
    assert body["error"]["field"] == "value"
    assert (
        "order '1001' of source 'shopify' is already stored with value" in body["error"]["message"]
    )
    assert shop.count(Order) == 1


async def test_an_order_of_no_known_lead_is_kept_unattributed(shop: Shop) -> None:
    status, body = await shop.post(_order(session_id="s-never-seen", email="who@example.com"))
    assert status == 202
    assert (body["matched"], body["lead_id"], body["status"]) == (False, None, None)
    assert "kept, unattributed" in body["message"]
    assert shop.count(Order) == 1
    assert shop.lead().status == "New"


async def test_an_order_in_a_currency_without_a_rate_is_422(sqlite_shop: Shop) -> None:
    # bot/catalog/rates.yml has no rate for the Mongolian tögrög.
    status, body = await sqlite_shop.post(_order(currency="MNT", value="10000"))
    assert status == 422
    assert body["error"]["field"] == "currency"
    assert "MNT" in body["error"]["message"]
    assert sqlite_shop.count(Order) == 0


# --- signatures --------------------------------------------------------------------------------


@pytest.mark.parametrize("header", ["webhook-id", "webhook-timestamp", "webhook-signature"])
async def test_a_missing_signature_header_is_401_naming_it(sqlite_shop: Shop, header: str) -> None:
    order = _order()
    body = json.dumps(order).encode()
    headers = {name: value for name, value in _signed(body).items() if name != header}
    status, answer = await sqlite_shop.post(order, headers)
    assert status == 401
    assert answer["error"]["field"] == header
    assert answer["error"]["message"].startswith(f"{header}: missing")
    assert sqlite_shop.count(Order) == 0


@pytest.mark.parametrize(
    ("signed_at", "why"),
    [
        (timedelta(minutes=-6), "a replay of a captured request"),
        (timedelta(minutes=6), "a clock running ahead"),
    ],
)
async def test_a_timestamp_out_of_tolerance_is_401(
    sqlite_shop: Shop, signed_at: timedelta, why: str
) -> None:
    order = _order()
    body = json.dumps(order).encode()
    status, answer = await sqlite_shop.post(order, _signed(body, at=_now() + signed_at))
    assert status == 401, why
    assert answer["error"]["field"] == "webhook-timestamp"
    assert "at most 300 s" in answer["error"]["message"]


async def test_a_wrong_signature_is_401(sqlite_shop: Shop) -> None:
    order = _order()
    body = json.dumps(order).encode()
    status, answer = await sqlite_shop.post(order, _signed(body, secrets=(OTHER_SECRET,)))
    assert status == 401
    assert answer["error"]["field"] == "webhook-signature"
    assert sqlite_shop.count(Order) == 0


async def test_a_body_changed_after_signing_is_401(sqlite_shop: Shop) -> None:
    order = _order()
    signed = _signed(json.dumps(order).encode())
    status, answer = await sqlite_shop.post({**order, "value": "0.01"}, signed)
    assert status == 401
    assert answer["error"]["field"] == "webhook-signature"


async def test_the_old_secret_still_works_while_rotating(sqlite_shop: Shop) -> None:
    order = _order()
    body = json.dumps(order).encode()
    status, _ = await sqlite_shop.post(order, _signed(body, secrets=(OLD_SECRET,)))
    assert status == 201


async def test_without_secrets_the_webhook_is_switched_off(
    migrated_sqlite_url: str, tmp_path: Path
) -> None:
    async for shop in _shop(migrated_sqlite_url, tmp_path, order_webhook_secrets=()):
        status, body = await shop.post(_order())
        assert status == 404
        assert "ORDER_WEBHOOK_SECRETS" in body["error"]["message"]
        assert shop.count(Order) == 0


def test_a_malformed_secret_stops_the_settings_naming_the_variable() -> None:
    with pytest.raises(ValueError, match="ORDER_WEBHOOK_SECRETS: secret 2 is not 'whsec_'"):
        Settings.from_env({"ORDER_WEBHOOK_SECRETS": f"{SECRET} whsec_short"})
    assert (
        Settings.from_env({"ORDER_WEBHOOK_SECRETS": f"{OLD_SECRET} {SECRET}"})
        .masked()["order_webhook_secrets"]
        .startswith("('wh…")
    )


# --- fields ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"order_id": None}, "order_id"),  # required
        ({"value": None}, "value"),  # required
        ({"value": "abc"}, "value"),  # not a number
        ({"value": -5}, "value"),  # negative
        ({"value": "1.23456"}, "value"),  # more decimals than money has
        ({"currency": "EURO"}, "currency"),  # not a code
        ({"currency": "XYZ"}, "currency"),  # not ISO 4217
        ({"ordered_at": "2026-03-02 10:00"}, "ordered_at"),  # no time zone
        ({"ordered_at": "yesterday"}, "ordered_at"),  # not a time
        ({"quantity": 0}, "quantity"),  # nothing bought
        ({"quantity": "2"}, "quantity"),  # a string
        ({"source": "Shopify Plus"}, "source"),  # not a label
        ({"session_id": ""}, "session_id"),  # empty
        ({"email": "not-an-address"}, "email"),  # no @
        ({"sku": "x" * 121}, "sku"),  # longer than the column
        ({"customer": {"id": 7}}, "customer"),  # unknown field
    ],
)
async def test_a_bad_field_is_400_naming_it(
    sqlite_shop: Shop, change: dict[str, Any], field: str
) -> None:
    order = _order()
    for name, value in change.items():
        if value is None:
            order.pop(name)
        else:
            order[name] = value
    status, body = await sqlite_shop.post(order)
    assert status == 400, body
    assert body["error"]["field"] == field
    assert field in body["error"]["message"]
    assert sqlite_shop.count(Order) == 0


async def test_a_body_that_is_not_an_object_is_400(sqlite_shop: Shop) -> None:
    body = b"[1, 2]"
    response = await sqlite_shop.client.post(ORDERS, data=body, headers=_signed(body))
    assert response.status == 400
    assert "one order" in (await response.json())["error"]["message"]


async def test_a_body_over_64_kb_is_413(sqlite_shop: Shop) -> None:
    body = json.dumps(_order(padding="x" * 70_000)).encode()
    response = await sqlite_shop.client.post(ORDERS, data=body, headers=_signed(body))
    assert response.status == 413


# --- purchase events ---------------------------------------------------------------------------


def _purchase_event(event_id: str, **properties: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "session_id": "s-story",
        "type": "purchase",
        "ts": (_now() - timedelta(minutes=1)).isoformat(),
        "product_id": "hoodie-classic",
        "variant_id": "hoodie-classic-blue-m",
        "value": 129.9,
        "properties": properties,
    }


async def _post_events(shop: Shop, *events: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = await shop.client.post(
        "/api/v2/events",
        json={"events": list(events)},
        headers={"Authorization": f"Bearer {SHOP_TOKEN}"},
    )
    return response.status, await response.json()


async def test_a_purchase_event_makes_the_lead_won(shop: Shop) -> None:
    status, body = await _post_events(shop, _purchase_event("buy-1", order_id="W-1"))
    assert (status, body) == (202, {"accepted": 1, "duplicates": 0})
    lead = shop.lead()
    assert (lead.status, Decimal(lead.revenue), lead.revenue_currency) == (
        "Won",
        Decimal("129.9"),
        "EUR",
    )
    assert (shop.handoff().status, shop.handoff().outcome) == ("closed", "won")
    # The shop's confirmation page reloaded: the same event, still one order.
    assert (await _post_events(shop, _purchase_event("buy-1", order_id="W-1")))[0] == 202
    assert shop.count(Order) == 1


@pytest.mark.parametrize(
    ("properties", "field"),
    [
        ({"currency": "euros"}, "properties.currency"),
        ({"currency": "MNT"}, "properties.currency"),  # no exchange rate to EUR
        ({"quantity": 0}, "properties.quantity"),
        ({"order_id": ""}, "properties.order_id"),
        ({"order_source": "My Shop"}, "properties.order_source"),
    ],
)
async def test_a_bad_purchase_is_refused_naming_the_field_and_the_rest_is_kept(
    sqlite_shop: Shop, properties: dict[str, Any], field: str
) -> None:
    view = {**_purchase_event("view-1"), "type": "product_view", "properties": {}}
    status, body = await _post_events(sqlite_shop, view, _purchase_event("buy-1", **properties))
    assert status == 400
    assert (body["error"]["accepted"], body["error"]["rejected"]) == (1, 1)
    [error] = body["error"]["errors"]
    assert (error["index"], error["event_id"], error["field"]) == (1, "buy-1", field)
    assert sqlite_shop.count(Order) == 0
    assert sqlite_shop.lead().status == "New"


async def test_a_purchase_reusing_an_order_id_with_another_value_is_refused(shop: Shop) -> None:
    assert (await _post_events(shop, _purchase_event("buy-1", order_id="W-1")))[0] == 202
    other = {**_purchase_event("buy-2", order_id="W-1"), "value": 5}
    status, body = await _post_events(shop, other)
    assert status == 400
    [error] = body["error"]["errors"]
    assert (error["event_id"], error["field"]) == ("buy-2", "value")
    assert Decimal(shop.lead().revenue) == Decimal("129.9")


# --- the lead's JSON --------------------------------------------------------------------------


def _lead_schema() -> dict[str, Any]:
    """The Lead schema of the OpenAPI document, with its references resolvable."""
    return {"components": build_spec()["components"], "$ref": "#/components/schemas/Lead"}


async def test_the_lead_json_holds_its_purchases_per_currency(shop: Shop) -> None:
    lead_url = f"/api/v2/leads/{shop.story.lead_id}"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    before = await (await shop.client.get(lead_url, headers=auth)).json()
    assert before["purchases"] == {
        "order_count": 0,
        "revenue": None,
        "revenue_currency": None,
        "revenue_by_currency": {},
        "orders": [],
    }
    ordered = _now() - timedelta(minutes=30)
    assert (await shop.post(_order(ordered_at=ordered.isoformat())))[0] == 201
    # 50 USD at the shop's rate of 0.92 EUR is 46 EUR; the storefront reports this one.
    dollars = {**_purchase_event("buy-usd", order_id="W-7", currency="USD"), "value": 50}
    assert (await _post_events(shop, dollars))[0] == 202

    response = await shop.client.get(lead_url, headers=auth)
    assert response.status == 200
    lead = await response.json()
    purchases = lead["purchases"]
    assert (purchases["order_count"], purchases["revenue"], purchases["revenue_currency"]) == (
        2,
        175.9,
        "EUR",
    )
    assert purchases["revenue_by_currency"] == {"EUR": 129.9, "USD": 50}
    assert [
        (o["order_id"], o["source"], o["value"], o["currency"], o["variant_id"])
        for o in purchases["orders"]
    ] == [
        ("W-7", "storefront", 50, "USD", "hoodie-classic-blue-m"),
        ("1001", "shopify", 129.9, "EUR", "hoodie-classic-blue-m"),
    ]
    assert datetime.fromisoformat(purchases["orders"][1]["ordered_at"]) == ordered
    assert lead["status"] == "Won"
    jsonschema.validate(lead, _lead_schema())
    # Additive: a listed lead has every other field (lists leave purchases out).
    listed = await (await shop.client.get("/api/v2/leads", headers=auth)).json()
    [item] = [item for item in listed["items"] if item["id"] == shop.story.lead_id]
    assert set(lead) - {"purchases"} == set(item)


async def test_a_merged_lead_answers_both_leads_purchases(shop: Shop) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    created = await shop.client.post(
        "/api/v2/leads",
        json={"first_name": "Ada", "last_name": "Lovelace", "email": "ada.l@example.org"},
        headers=auth,
    )
    twin_id = (await created.json())["id"]
    twin_order = _order(order_id="2002", value="20", session_id=None, lead_id=twin_id)
    for order in (_order(), twin_order):
        assert (await shop.post(order))[0] == 201

    response = await shop.client.post(
        f"/api/v2/leads/{shop.story.lead_id}/merge", json={"duplicate_id": twin_id}, headers=auth
    )
    assert response.status == 200
    purchases = (await response.json())["purchases"]
    assert (purchases["order_count"], purchases["revenue"]) == (2, 149.9)
    assert purchases["revenue_by_currency"] == {"EUR": 149.9}
    with shop.engine.connect() as connection:
        owners = connection.execute(select(Order.lead_id)).scalars().all()
    assert owners == [shop.story.lead_id] * 2


# --- the lead page -----------------------------------------------------------------------------


async def test_the_lead_page_shows_the_orders_and_the_won_revenue(sqlite_shop: Shop) -> None:
    assert (await sqlite_shop.post(_order(value="1299.50")))[0] == 201
    response = await sqlite_shop.client.post(
        "/login", data={"token": TOKEN, "name": "Camille", "next": "/leads"}, allow_redirects=False
    )
    assert SESSION_COOKIE in response.cookies
    page = await (await sqlite_shop.client.get(f"/leads/{sqlite_shop.story.lead_id}")).text()
    assert "Orders: Won 1,299.50 EUR" in page
    assert "1 order, paid 1,299.50 EUR." in page
    assert "1001" in page and "shopify" in page
    # The catalogue's name of the variant, not its id.
    assert "Classic Hoodie" in page
