"""What the follow-up tests drive: lead store, planner, outbox worker, a local SMTP receiver."""

from __future__ import annotations

import contextlib
import email
import socket
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiosmtpd.controller import Controller
from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.catalog import DEMO_CATALOG, load_catalog
from bot.catalog.rates import load_rates
from bot.followups.config import FollowupConfig, load_followup_config
from bot.followups.delivery import FollowupSender
from bot.followups.planner import FollowupPlanner
from bot.handoff.config import Delivery, HandoffConfig, Smtp, load_handoff_config
from bot.handoff.worker import OutboxWorker
from bot.leads import LeadService
from bot.leads.commands import Command, RecordAnswer, RecordEvent, UpdateContact
from bot.scoring import scorer_for
from bot.settings import Settings
from bot.store.db import write_transaction
from bot.store.models import Followup, Lead
from tests.handoff import HANDOFF_CONFIG
from tests.scoring import SCORING_CONFIG

FOLLOWUPS_CONFIG = Path(__file__).with_name("followups.yml")
KEY = b"test-signing-key"
PUBLIC_URL = "http://leads.test"
PARIS = ZoneInfo("Europe/Paris")
# A Wednesday, 10:00 in Paris: outside the quiet hours (21:00-08:00).
T0 = datetime(2027, 3, 10, 9, 0, tzinfo=timezone.utc)
HOODIE = "hoodie-classic"
BLUE_M = "hoodie-classic-blue-m"  # 59.00 EUR, 12 in stock, 3 days' delivery, ships to the EU
CONSENT = "Yes, you may email me about my order."
FAST = Delivery(timeout_seconds=2, retry_schedule=(0, 5, 30), jitter=0, concurrency=8)


def free_port() -> int:
    """A TCP port nobody listens on (right now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Inbox:
    """aiosmtpd handler keeping every message it accepted."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    @property
    def messages(self) -> list[EmailMessage]:
        return [
            email.message_from_bytes(envelope.content, policy=policy.default)  # type: ignore[misc]
            for envelope in self.envelopes
        ]


@contextlib.contextmanager
def smtp_server(port: int) -> Iterator[Inbox]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


def parts(message: EmailMessage) -> tuple[str, str]:
    """The plain-text and HTML parts of a follow-up email."""
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    return (
        str(text.get_content()).replace("\r\n", "\n"),
        str(html.get_content()).replace("\r\n", "\n"),
    )


class Clock:
    """The test's time, moved only when told."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Stack:
    """The lead store with follow-ups switched on, mail going to ``smtp_port``."""

    engine: Engine
    smtp_port: int
    config: FollowupConfig = field(default_factory=lambda: load_followup_config(FOLLOWUPS_CONFIG))
    clock: Clock = field(default_factory=Clock)

    def __post_init__(self) -> None:
        settings = Settings(scoring_config_path=SCORING_CONFIG)
        self.planner = FollowupPlanner(
            self.config,
            catalog=load_catalog(DEMO_CATALOG),
            rates=load_rates(settings.rates_path),
            currency="EUR",
            signing_key=KEY,
            public_url=PUBLIC_URL,
            shop_zone=PARIS,
        )
        self.service = LeadService(self.engine, scorer_for(settings))
        handoffs = load_handoff_config(HANDOFF_CONFIG)
        self.handoffs: HandoffConfig = replace(
            handoffs,
            delivery=FAST,
            smtp=Smtp(host="127.0.0.1", port=self.smtp_port, sender="leads@shop.example"),
        )

    def sender(self) -> FollowupSender:
        return FollowupSender(self.engine, self.planner, self.handoffs.smtp, plan_every=0)

    def worker(self) -> OutboxWorker:
        """A fresh worker (as after a restart): plans, releases and delivers at the clock's time."""
        return OutboxWorker(
            self.engine, self.handoffs, None, clock=self.clock, extensions=(self.sender(),)
        )

    async def run(self) -> int:
        """One worker pass until nothing is due; how many messages it delivered."""
        return await self.worker().run_until_idle(timeout=10)

    def plan_and_release(self) -> None:
        """Plan every consenting lead and queue the due follow-ups, at the clock's time."""
        with write_transaction(self.engine) as connection:
            self.planner.plan_batch(connection, self.clock.now, after=None)
            self.planner.release_due(connection, self.clock.now)

    def apply(self, *commands: Command) -> None:
        self.service.apply(list(commands), now=self.clock.now)

    def shopper(
        self,
        *,
        consent: bool = True,
        country: str = "FR",
        steps: Sequence[str] = ("add_to_cart",),
        variant: str = BLUE_M,
        first_name: str = "Alice",
        answers: Sequence[tuple[str, str, Any]] = (),
    ) -> str:
        """A shopper who chatted (location, maybe consent) and took ``steps`` now; the lead id."""
        session = f"s-{uuid.uuid4().hex[:12]}"
        now = self.clock.now
        commands: list[Command] = [
            RecordAnswer(
                session_id=session,
                answer_id=f"{session}-location",
                key="location",
                raw=country,
                value={"country": country, "region": None, "serviceable": True},
                status="answered",
                answered_at=now,
            ),
            *(
                RecordAnswer(
                    session_id=session,
                    answer_id=f"{session}-{key}",
                    key=key,
                    raw=raw,
                    value=value,
                    status="answered",
                    answered_at=now,
                )
                for key, raw, value in answers
            ),
            *(
                RecordEvent(
                    session_id=session,
                    event_id=f"{session}-{step}",
                    type=step,
                    ts=now,
                    source="storefront",
                    product_id=HOODIE,
                    variant_id=variant,
                )
                for step in steps
            ),
        ]
        if consent:
            commands.append(
                UpdateContact(
                    session_id=session,
                    first_name=first_name,
                    email=f"{session}@example.com",
                    consent_text=CONSENT,
                    consent_at=now,
                )
            )
        else:
            commands.append(
                UpdateContact(session_id=session, first_name=first_name, email=f"{session}@x.io")
            )
        self.apply(*commands)
        with self.engine.connect() as connection:
            return str(
                connection.execute(
                    select(Lead.__table__.c.id).where(Lead.__table__.c.session_id == session)
                ).scalar_one()
            )

    def followups(self, lead_id: str) -> list[Any]:
        table = Followup.__table__
        with self.engine.connect() as connection:
            return list(
                connection.execute(
                    select(table).where(table.c.lead_id == lead_id).order_by(table.c.priority)
                ).all()
            )
