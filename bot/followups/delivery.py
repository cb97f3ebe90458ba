"""Follow-ups in the outbox worker: releasing due plays, planning a batch now and then, sending.

:class:`FollowupSender` is an :class:`~bot.handoff.worker.OutboxExtension`: the
worker of each web app runs its duties every second and hands it the outbox
messages of kind ``followup.*``. Emails go through the handoff file's mail
server with the RFC 8058 one-click unsubscribe headers; webhook plays are
signed per the Standard Webhooks spec like handoff webhooks. Every attempt of
one message carries the same ``Message-ID`` / ``webhook-id``.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from email.message import EmailMessage
from email.utils import make_msgid, parseaddr
from typing import Any

import aiohttp
from sqlalchemy.engine import Engine

from bot.followups.config import FollowupConfig
from bot.followups.planner import EMAIL_KIND, FollowupPlanner, PlanStats
from bot.handoff.channels import Outcome, post_json, send_smtp, webhook_headers
from bot.handoff.config import Smtp
from bot.handoff.outbox import Claimed
from bot.store.db import write_transaction
from bot.store.types import dumps

logger = logging.getLogger(__name__)

KIND_PREFIX = "followup."
# The worker plans one batch of leads this often; a full pass over the leads
# takes (leads / batch) such rounds, then starts over from the first lead.
PLAN_EVERY_SECONDS = 10.0


def email_message(payload: dict[str, Any], message_id: str) -> EmailMessage:
    """The follow-up email: plain-text and HTML parts, and the one-click unsubscribe headers."""
    message = EmailMessage()
    message["Subject"] = payload["subject"]
    message["From"] = payload["sender"]
    message["To"] = payload["to"]
    domain = parseaddr(payload["sender"])[1].rsplit("@", 1)[-1] or "localhost"
    message["Message-ID"] = make_msgid(idstring=message_id, domain=domain)
    # RFC 8058: mail clients show "Unsubscribe" and POST to the link with this body.
    message["List-Unsubscribe"] = f"<{payload['unsubscribe_url']}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(payload["text"])
    message.add_alternative(payload["html"], subtype="html")
    return message


class FollowupSender:
    """Plans, releases and sends follow-ups from inside the outbox worker.

    ``plan_every``: seconds between planning rounds (one batch of leads each);
    ``None`` leaves planning to ``python -m bot followups plan``.
    """

    def __init__(
        self,
        engine: Engine,
        planner: FollowupPlanner,
        smtp: Smtp,
        *,
        plan_every: float | None = PLAN_EVERY_SECONDS,
    ) -> None:
        self.engine = engine
        self.planner = planner
        self.smtp = smtp
        self.plan_every = plan_every
        self._cursor: str | None = None
        self._last_plan = float("-inf")

    @property
    def config(self) -> FollowupConfig:
        """The follow-up configuration."""
        return self.planner.config

    def handles(self, kind: str) -> bool:
        """Outbox messages of kind ``followup.*``."""
        return kind.startswith(KIND_PREFIX)

    def duties(self, now: datetime) -> bool:
        """Plan the next batch of leads (now and then), then release what is due."""
        if self.plan_every is not None and time.monotonic() - self._last_plan >= self.plan_every:
            self._last_plan = time.monotonic()
            self.plan_next_batch(now)
        with write_transaction(self.engine) as connection:
            released = self.planner.release_due(connection, now)
        return released.queued > 0

    def plan_next_batch(self, now: datetime) -> PlanStats:
        """Plan one batch of leads after the last one planned (from the start after the end)."""
        with write_transaction(self.engine) as connection:
            stats = self.planner.plan_batch(connection, now, after=self._cursor)
        self._cursor = stats.last_id
        return stats

    async def deliver(
        self, message: Claimed, session: aiohttp.ClientSession, timeout: float, now: datetime
    ) -> Outcome:
        """One attempt: the email through SMTP, or the signed webhook of the play's channel."""
        payload = message.payload
        if message.kind == EMAIL_KIND:
            return await send_smtp(email_message(payload, message.message_id), self.smtp, timeout)
        channel = self.config.channels.get(message.channel)
        if channel is None or channel.url is None:
            return Outcome(
                False, error=f"follow-up channel {message.channel!r} is no longer configured"
            )
        body = dumps(payload).encode()
        headers = webhook_headers(channel.secrets, message.message_id, body, now)
        return await post_json(session, channel.url, body, headers, timeout, now)
