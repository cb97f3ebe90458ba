"""Follow-ups end to end: shoppers chat, fill a cart and leave it; the web app mails them, once.

Runs the real processes (Rasa, actions, web app) with a follow-up file whose only
play is cart recovery after the cart was left for a minute (the shortest the file
accepts), no quiet hours, and a handoff file whose ``smtp`` is a receiver in this
test process (loopback). The web app plans every second
(``FOLLOWUPS_PLAN_EVERY_SECONDS``).

Four shoppers chat at once, then report their cart the way the tracking snippet
does: one keeps it (and gets the email), one declined consent in the chat, one
unsubscribes and one buys before the minute is up. The keeper's cart is reported
last, so once the keeper's email is in, the others' carts had been left long
enough too; "nothing was sent" is then proven after a planning round that started
later still (a probe lead's email arrives), never by sleeping.
"""

from __future__ import annotations

import os
import secrets
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from typing import Any

import pytest
import requests

from bot.catalog import load_catalog
from bot.catalog.delivery import delivery_estimate
from bot.devstack import DevStack
from bot.flows import Flow
from bot.followups.content import money
from bot.followups.links import unsubscribe_token
from bot.followups.planner import followups_of
from bot.settings import PROJECT_ROOT, Settings
from bot.store.db import create_db_engine
from tests.e2e.conftest import Chat, settle_spool
from tests.followups.shop import Inbox, free_port, parts, smtp_server
from tests.handoff.always_open import always_open_team

pytestmark = pytest.mark.e2e

MODEL = PROJECT_ROOT / "models" / "current.tar.gz"
SESSION_SECRET = secrets.token_urlsafe(32)
# The keeper's email follows the cart by the play's minute plus a planning round.
WAIT_SECONDS = 90.0
CART_LEFT = timedelta(minutes=1)
FOLLOWUPS = """
sender: Atelier Nord <hello@shop.example>
plays:
  - name: cart_recovery
    when: {left: {event: add_to_cart, for: 1m}}
    delay: 0s
    channel: email
    template: cart_recovery
    priority: 1
frequency_cap: {messages: 2, days: 7}
holdout: {share: 0, seed: e2e}
stop_on: [purchase, reply, handoff]
"""
# Sales are always open and hear only of shoppers asking for a person (nobody here):
# no handoff mail goes to the receiver, and no handoff stops a play.
HANDOFF = (
    """
slas:
  immediate: {respond_within_minutes: 15}
"""
    + always_open_team()
    + """triggers:
  - {name: human_requested, when: {event: human_requested}, sla: immediate, team: sales}
delivery:
  timeout: 2s
  retry_schedule: [0s, 1s, 2s, 5s]
  jitter: 0
smtp:
  host: 127.0.0.1
  port: {port}
  sender: leads@shop.example
"""
)


@dataclass
class Shopper:
    """One shopper: their chat, the item they ask for, and their lead once the chat is over."""

    chat: Chat
    variant: str  # what they ask for in the chat
    name: str
    consents: bool
    lead: dict[str, Any] = field(default_factory=dict)  # GET /api/v2/leads, after the chat

    @property
    def email(self) -> str:
        return f"{self.chat.sender}@example.com"


@pytest.fixture(scope="module")
def inbox() -> Iterator[tuple[int, Inbox]]:
    port = free_port()
    with smtp_server(port) as received:
        yield port, received


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, inbox: tuple[int, Inbox]) -> Iterator[DevStack]:
    if not MODEL.exists():
        pytest.fail(f"no trained model at {MODEL}: run `make train` first", pytrace=False)
    base = tmp_path_factory.mktemp("followups-e2e")
    followups = base / "followups.yml"
    followups.write_text(FOLLOWUPS, encoding="utf-8")
    handoff = base / "handoff.yml"
    handoff.write_text(HANDOFF.replace("{port}", str(inbox[0])), encoding="utf-8")
    environ = {
        **os.environ,
        "FOLLOWUPS_CONFIG": str(followups),
        "HANDOFF_CONFIG": str(handoff),
        "FOLLOWUPS_PLAN_EVERY_SECONDS": "1",
        "SESSION_SECRET": SESSION_SECRET,
    }
    for name in ("SMTP_HOST", "SMTP_PORT", "HANDOFF_EMAIL_TO", "HANDOFF_WEBHOOK_URL"):
        environ.pop(name, None)  # the files above say where mail goes, and only there
    with DevStack.in_folder(PROJECT_ROOT, base, model=MODEL, environ=environ) as running:
        yield running


def _qualify(shopper: Shopper) -> None:
    """Answer every question; consent (and contact details) or a polite no."""
    script: list[tuple[str, str | None]] = [
        ("hi", "timeline"),
        ("sometime next month", "variant"),
        (shopper.variant, "location"),
        ("Lyon", "budget"),
        ("around 300 euros", "contact_consent"),
    ]
    if shopper.consents:
        script += [
            ("yes", "contact_name"),
            (shopper.name, "contact_details"),
            (shopper.email, None),
        ]
    else:
        script += [("No, thanks", None)]
    for said, next_question in script:
        texts = shopper.chat.say(said)
        assert shopper.chat.asked(texts) == next_question, (
            f"after {said!r} the bot should ask {next_question!r}\n{shopper.chat}"
        )


def _report_cart(stack: DevStack, shopper: Shopper) -> None:
    """``add_to_cart`` for the variant the shopper chose, as the tracking snippet sends it."""
    variant_id = shopper.lead["answers"]["variant"]["value"]
    product, variant = load_catalog(Settings().catalog_path).variant(variant_id) or (None, None)
    assert product is not None and variant is not None, variant_id
    now = datetime.now(timezone.utc)
    response = stack.post_events(
        [
            {
                "event_id": f"add_to_cart-{secrets.token_hex(6)}",
                "session_id": shopper.chat.sender,
                "type": "add_to_cart",
                "ts": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "product_id": product.id,
                "variant_id": variant.id,
                "value": float(variant.price),
                "properties": {"quantity": 1},
            }
        ]
    )
    assert response.status_code == 202, response.text


def _http() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # loopback only, whatever proxy the environment names
    return session


def _mail_to(inbox: Inbox, address: str) -> list[EmailMessage]:
    return [message for message in inbox.messages if message["To"] == address]


def _wait_for_mail(inbox: Inbox, address: str) -> list[EmailMessage]:
    deadline = time.monotonic() + WAIT_SECONDS
    while not _mail_to(inbox, address):
        assert time.monotonic() < deadline, f"no email to {address} within {WAIT_SECONDS:.0f} s"
        time.sleep(0.2)
    return _mail_to(inbox, address)


def _planned_after_now(stack: DevStack, inbox: Inbox) -> str:
    """Return once a planning round that read the leads after this call has sent its email.

    The probe is a shopper who gave consent on the shop's web form and whose cart,
    reported now, was filled more than the play's minute ago: due at once, so it is
    planned by the first round to read it and mailed right after. Rounds read every
    lead (a handful here), so that round also read every lead written before this
    call. Returns the probe's address.
    """
    session = f"probe-{uuid.uuid4()}"
    address = f"{session}@example.com"
    response = stack.post_events(
        [
            {
                "event_id": f"{session}-cart",
                "session_id": session,
                "type": "add_to_cart",
                "ts": (datetime.now(timezone.utc) - 2 * CART_LEFT).isoformat(),
                "product_id": "hoodie-classic",
                "variant_id": "hoodie-classic-blue-m",
            }
        ]
    )
    assert response.status_code == 202, response.text
    response = _http().post(
        f"{stack.web_url}/api/create-lead",
        json={
            "first_name": "Probe",
            "last_name": "Shopper",
            "email": address,
            "consent": "yes",
            "session_id": session,
        },
        timeout=10,
    )
    assert response.status_code == 201, response.text
    _wait_for_mail(inbox, address)
    return address


@pytest.fixture(scope="module")
def shoppers(stack: DevStack, flow: Flow) -> dict[str, Shopper]:
    """Four shoppers chat at once, then report their carts (the keeper's last)."""
    cast = {
        "keeper": Shopper(Chat(stack, flow), "the black hoodie in XL", "Jane", consents=True),
        "declined": Shopper(Chat(stack, flow), "the blue hoodie in M", "Ann", consents=False),
        "unsubscribed": Shopper(Chat(stack, flow), "the blue hoodie in M", "Max", consents=True),
        "bought": Shopper(Chat(stack, flow), "the blue hoodie in M", "Lea", consents=True),
    }
    with ThreadPoolExecutor(max_workers=len(cast)) as pool:
        list(pool.map(_qualify, cast.values()))
    settle_spool(stack)
    for shopper in cast.values():
        shopper.lead = shopper.chat.lead()

    for role in ("declined", "unsubscribed", "bought"):
        _report_cart(stack, cast[role])
    # Unsubscribed with one click (RFC 8058), as a mail client posts the signed link.
    token = unsubscribe_token(SESSION_SECRET.encode(), cast["unsubscribed"].lead["id"])
    response = _http().post(
        f"{stack.web_url}/u/{token}",
        data={"List-Unsubscribe": "One-Click"},
        timeout=10,
    )
    assert response.status_code == 200 and "You are unsubscribed" in response.text
    # Bought within the minute: the order confirmation page reports the purchase.
    buyer = cast["bought"]
    response = stack.post_events(
        [
            {
                "event_id": f"purchase-{buyer.chat.sender}",
                "session_id": buyer.chat.sender,
                "type": "purchase",
                "ts": datetime.now(timezone.utc).isoformat(),
                "value": 59.0,
                "properties": {"order_id": f"order-{uuid.uuid4().hex[:8]}"},
            }
        ]
    )
    assert response.status_code == 202, response.text
    _report_cart(stack, cast["keeper"])
    return cast


@pytest.fixture(scope="module")
def after_the_keepers_email(
    stack: DevStack, inbox: tuple[int, Inbox], shoppers: dict[str, Shopper]
) -> str:
    """Waits for the keeper's email, then for a later planning round; the probe's address."""
    _wait_for_mail(inbox[1], shoppers["keeper"].email)
    return _planned_after_now(stack, inbox[1])


def _followups(stack: DevStack, lead_id: str) -> list[dict[str, Any]]:
    """The lead's follow-ups as its lead page lists them."""
    engine = create_db_engine(stack.database_url)
    try:
        with engine.connect() as connection:
            return followups_of(connection, lead_id)
    finally:
        engine.dispose()


def test_a_left_cart_gets_one_email_with_the_chosen_variant_price_and_delivery(
    stack: DevStack,
    inbox: tuple[int, Inbox],
    shoppers: dict[str, Shopper],
    after_the_keepers_email: str,
) -> None:
    keeper = shoppers["keeper"]
    assert keeper.lead["consent"]["given_at"], keeper.lead
    received = inbox[1]
    # Planning rounds went on after the email (the probe's was sent): still this one.
    [message] = _mail_to(received, keeper.email)
    variant_id = keeper.lead["answers"]["variant"]["value"]
    assert variant_id == "hoodie-classic-black-xl", keeper.lead["answers"]["variant"]
    product, variant = load_catalog(Settings().catalog_path).variant(variant_id) or (None, None)
    assert product is not None and variant is not None
    label = product.variant_label(variant)
    place = keeper.lead["answers"]["location"]["value"]
    estimate = delivery_estimate(
        product, place["country"], place["region"], datetime.now(timezone.utc)
    )
    assert estimate.ships and estimate.place == "Lyon, France", estimate

    assert message["Subject"] == f"Your {label} is still waiting"
    assert message["From"] == "Atelier Nord <hello@shop.example>"
    text, html = parts(message)
    assert f"Hello {keeper.name}," in text
    assert f"You left {label} in your cart. It is {money(variant.price, variant.currency)}" in (
        text
    )
    assert f"Delivery to {estimate.place}: about {estimate.days} days (around " in text
    assert label in html and money(variant.price, variant.currency) in html
    unsubscribe = (
        f"{stack.web_url}/u/{unsubscribe_token(SESSION_SECRET.encode(), keeper.lead['id'])}"
    )
    assert message["List-Unsubscribe"] == f"<{unsubscribe}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert unsubscribe in text

    [followup] = _followups(stack, keeper.lead["id"])
    assert (followup["play"], followup["state"]) == ("cart_recovery", "sent"), followup
    # Nothing but the keeper's and the probe's emails (no handoff mail, no other shopper).
    addresses = sorted(str(message["To"]) for message in received.messages)
    assert addresses == sorted([keeper.email, after_the_keepers_email]), addresses


def test_a_shopper_who_declined_consent_in_the_chat_gets_nothing(
    stack: DevStack,
    inbox: tuple[int, Inbox],
    shoppers: dict[str, Shopper],
    after_the_keepers_email: str,
) -> None:
    declined = shoppers["declined"]
    assert declined.lead["consent"]["given_at"] is None and declined.lead["email"] is None
    # Its cart was left before the keeper's, and a round planned after the keeper's email.
    assert _followups(stack, declined.lead["id"]) == []
    mailed = {str(message["To"]) for message in inbox[1].messages}
    assert mailed <= {shoppers["keeper"].email, after_the_keepers_email}, mailed


@pytest.mark.parametrize(
    ("role", "opted_out"),
    [
        ("unsubscribed", True),  # one click on the signed link revoked the consent
        ("bought", False),  # a purchase after the cart: nothing was left behind
    ],
)
def test_a_shopper_who_unsubscribed_or_bought_in_time_gets_nothing(
    stack: DevStack,
    inbox: tuple[int, Inbox],
    shoppers: dict[str, Shopper],
    after_the_keepers_email: str,
    role: str,
    opted_out: bool,
) -> None:
    shopper = shoppers[role]
    assert shopper.lead["consent"]["given_at"], shopper.lead
    assert _mail_to(inbox[1], shopper.email) == []
    assert _followups(stack, shopper.lead["id"]) == []
    lead = stack.api_get(f"/api/v2/leads/{shopper.lead['id']}")
    assert bool(lead["opted_out_at"]) is opted_out, lead
