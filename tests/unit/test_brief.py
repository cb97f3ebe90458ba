"""The brief: one paragraph about a lead and the next step, from plain lead data."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.catalog import DEMO_CATALOG, Catalog, load_catalog
from bot.handoff.brief import local_time, next_step, sla_label, summary
from bot.handoff.config import Sla

PARIS = ZoneInfo("Europe/Paris")
# Monday 7 December 2026, 10:00 UTC: 11:00 in Paris.
NOW = datetime(2026, 12, 7, 10, 0, tzinfo=timezone.utc)
IMMEDIATE = Sla("immediate", 15, False, 0)
HOUR = Sla("within_1h", 60, False, 1)
SAME_DAY = Sla("same_business_day", None, True, 2)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(DEMO_CATALOG)


def answer(value: Any, raw: str = "said", at: datetime = NOW) -> dict[str, Any]:
    return {"raw": raw, "value": value, "status": "answered", "answered_at": at.isoformat()}


def jane(**changes: Any) -> dict[str, Any]:
    """Jane: named, reachable, wants the black XL hoodie in 3 days in Nantes, 150 EUR budget."""
    lead: dict[str, Any] = {
        "first_name": "Jane",
        "last_name": "Doe",
        "company": None,
        "email": "jane@example.com",
        "phone": "+33612345678",
        "answers": {
            "variant": answer("hoodie-classic-black-xl"),
            "timeline": answer({"days": 3}, at=NOW - timedelta(hours=1)),
            "location": answer({"country": "FR", "region": "Nantes", "serviceable": True}),
            "budget": answer({"max": Decimal("150"), "currency": "EUR"}),
        },
    }
    lead.update(changes)
    return lead


SHOP = [
    {"type": "product_view", "product_id": "hoodie-classic", "ts": "2026-12-07T09:40:00+00:00"},
    {
        "type": "add_to_cart",
        "product_id": "hoodie-classic",
        "variant_id": "hoodie-classic-black-xl",
        "ts": "2026-12-07T09:45:00+00:00",
    },
    {"type": "human_requested", "ts": "2026-12-07T09:50:00+00:00"},
]
CHAT = [
    {"sender": "user", "text": "Does it  run small?"},
    {"sender": "bot", "text": "It runs true to size. Anything else?"},
    {"sender": "user", "text": "ok"},
]


def test_summary_reads_every_fact_by_name_with_the_catalogue(catalog: Catalog) -> None:
    text = summary(jane(), events=SHOP, messages=CHAT, catalog=catalog, zone=PARIS)
    assert text == (
        "Jane Doe, reachable by email and phone, wants Classic Hoodie — black, XL at 64 EUR,"
        " 2 in stock, to buy in 3 days (Thu 10 Dec 2026), delivered to Nantes, France"
        " (we deliver there, about 3 days)."
        " Budget up to 150 EUR against a price of 64 EUR: within budget."
        " On the shop they viewed Classic Hoodie and added to the cart Classic Hoodie — black, XL,"
        " last on Mon 7 Dec 2026, 10:45 CET."
        " In the chat they asked “Does it run small?” and asked for a person."
    )


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        # A budget under the price says by how much.
        (
            {"budget": answer({"amount": Decimal("50"), "currency": "EUR"})},
            "Budget about 50 EUR against a price of 64 EUR: 14 EUR over.",
        ),
        # A range; a budget in another currency is not compared.
        (
            {"budget": answer({"min": 100, "max": 200, "currency": "USD"})},
            "Budget 100 USD to 200 USD against a price of 64 EUR (another currency).",
        ),
        # A place the shop does not serve (the catalogue decides when the answer does not).
        (
            {"location": answer({"country": "US", "region": "Ohio"})},
            "delivered to Ohio, United States (we do not deliver there)",
        ),
        # Just browsing, and an uncertain date.
        ({"timeline": answer({"browsing": True})}, "just browsing"),
        ({"timeline": answer({"days": 1, "uncertain": True})}, "to buy maybe tomorrow (Tue 8"),
        # Out of stock shows.
        ({"variant": answer("hoodie-classic-blue-l")}, "blue, L at 59 EUR, out of stock"),
    ],
)
def test_summary_phrases_each_answer(
    catalog: Catalog, changes: dict[str, Any], expected: str
) -> None:
    lead = jane()
    lead["answers"].update(changes)
    assert expected in summary(lead, catalog=catalog, zone=PARIS)


def test_summary_of_an_anonymous_shopper_says_what_is_missing(catalog: Catalog) -> None:
    text = summary({"answers": {}}, catalog=catalog)
    assert text == (
        "An anonymous shopper (no contact details yet) has not named a product yet. No chat yet."
    )
    # Only what they looked at: the product from its lowest price; answers skipped do not count.
    viewed = summary(
        {"answers": {"budget": {**answer({"amount": 5, "currency": "EUR"}), "status": "skipped"}}},
        events=SHOP[:1],
        messages=[{"sender": "user", "text": "hello"}],
        catalog=catalog,
    )
    assert "looked at Classic Hoodie (from 59 EUR)" in viewed
    assert "Budget" not in viewed
    assert viewed.endswith("In the chat they sent 1 message(s), no question.")


def test_summary_without_a_catalogue_names_the_ids() -> None:
    text = summary(jane(), events=SHOP)
    assert "has not named a product yet" in text
    assert "added to the cart hoodie-classic-black-xl" in text


@pytest.mark.parametrize(
    ("lead", "handoff", "expected"),
    [
        # A phone: call, before the due time today in the team's zone.
        (
            jane(),
            {"trigger": "human_requested", "sla": "immediate", "due_at": "2026-12-07T10:15:00Z"},
            "Call Jane Doe before 11:15 CET (SLA 15 min): Jane asked for a person.",
        ),
        # E-mail only, due tomorrow.
        (
            jane(phone=None),
            {"trigger": "became_hot", "sla": "within_1h", "due_at": "2026-12-08T08:30:00Z"},
            "Email Jane Doe before Tue 8 Dec 09:30 CET (SLA 1 h): Jane became a hot lead.",
        ),
        # Overdue, and nobody to call yet.
        (
            {"answers": {}},
            {"trigger": "cart_add", "sla": "same_business_day", "due_at": "2026-12-07T09:00:00Z"},
            "Reach an anonymous shopper now, overdue since 10:00 CET (SLA same business day):"
            " the shopper added to the cart. No contact details yet: the bot asks for them,"
            " and an update follows.",
        ),
        # A trigger of the team's own file reads as its name.
        (
            jane(),
            {"trigger": "vip_visit", "sla": "immediate", "due_at": "2026-12-07T10:15:00Z"},
            "Call Jane Doe before 11:15 CET (SLA 15 min): Jane vip visit.",
        ),
        # Closed: nothing to do.
        (
            jane(),
            {"trigger": "cart_add", "status": "closed", "due_at": "2026-12-07T10:15:00Z"},
            "Nothing due: the handoff of Jane Doe is closed.",
        ),
    ],
)
def test_next_step_follows_the_trigger_and_the_sla(
    lead: dict[str, Any], handoff: dict[str, Any], expected: str
) -> None:
    slas = {"immediate": IMMEDIATE, "within_1h": HOUR, "same_business_day": SAME_DAY}
    sla = slas.get(str(handoff.get("sla")))
    assert next_step(lead, handoff, sla=sla, zone=PARIS, now=NOW) == expected


def test_next_step_without_the_sla_names_it() -> None:
    handoff = {"trigger": "cart_add", "sla": "gold", "due_at": "2026-12-07T10:15:00+00:00"}
    assert "(SLA gold)" in next_step(jane(), handoff, now=NOW)


@pytest.mark.parametrize(
    ("sla", "label"),
    [(IMMEDIATE, "SLA 15 min"), (HOUR, "SLA 1 h"), (SAME_DAY, "SLA same business day")],
)
def test_sla_label(sla: Sla, label: str) -> None:
    assert sla_label(sla) == label


def test_local_time_is_in_the_teams_zone_with_summer_time() -> None:
    july = datetime(2026, 7, 6, 12, 0, tzinfo=timezone.utc)
    assert local_time(july, PARIS, july) == "14:00 CEST"
    assert local_time(july, ZoneInfo("UTC"), july - timedelta(days=1)) == "Mon 6 Jul 12:00 UTC"


# Stored answers come from the parsers, but a brief is written inside the lead write:
# whatever an answer or event holds, writing it must not fail that write.
JSONISH = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.decimals(allow_nan=True, allow_infinity=True)
    | st.sampled_from(["FR", "US", "Nantes", "EUR", "hoodie-classic-black-xl", "", "NaN", "1e999"])
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    *("days", "browsing", "uncertain", "country", "region", "area", "serviceable"),
                    *("amount", "min", "max", "currency"),
                ]
            ),
            inner,
            max_size=5,
        )
    ),
    max_leaves=8,
)
KEYS = ["variant", "timeline", "location", "budget", "contact"]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        # A date past the calendar's end.
        ("timeline", {"days": 10**12}),
        # Amounts that are no money.
        ("budget", {"amount": Decimal("NaN"), "currency": "EUR"}),
        ("budget", {"amount": Decimal("Infinity"), "currency": "EUR"}),
        ("budget", {"amount": "1e999999999", "currency": "EUR"}),
        ("budget", {"max": [1], "currency": "EUR"}),
        # Places of the wrong shape.
        ("location", {"country": "FR", "area": 5, "region": ["Nantes"]}),
        ("location", {"country": ["FR"]}),
        ("variant", ["hoodie-classic-black-xl"]),
    ],
)
def test_summary_of_values_no_parser_makes_leaves_them_out(
    catalog: Catalog, key: str, value: Any
) -> None:
    lead = jane()
    lead["answers"][key] = answer(value)
    assert summary(lead, catalog=catalog, zone=PARIS).startswith("Jane Doe")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=st.dictionaries(st.sampled_from(KEYS), JSONISH, max_size=5),
    ids=st.lists(
        st.sampled_from([None, "hoodie-classic", "hoodie-classic-blue-l", "x"]), max_size=4
    ),
)
def test_summary_and_next_step_never_raise(values: dict[str, Any], ids: list[Any]) -> None:
    catalog = load_catalog(DEMO_CATALOG)
    lead = {"first_name": "Jane", "answers": {key: answer(value) for key, value in values.items()}}
    events = [
        {"type": "add_to_cart", "product_id": i, "variant_id": i, "ts": NOW.isoformat()}
        for i in ids
    ]
    assert summary(lead, events=events, catalog=catalog, zone=PARIS)
    handoff = {"trigger": "cart_add", "sla": "x", "due_at": NOW.isoformat()}
    assert next_step(lead, handoff, zone=PARIS, now=NOW)
