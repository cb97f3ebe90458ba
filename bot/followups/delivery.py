"""Follow-ups in the outbox worker: releasing due plays, planning a batch now and then, sending.

:class:`FollowupSender` is an :class:`~bot.handoff.worker.OutboxExtension`: the
worker of each web app runs its duties every second and hands it the outbox
messages of kind ``followup.*``. Emails go through the handoff file's mail
server with the RFC 8058 one-click unsubscribe headers; webhook plays are
signed per the Standard Webhooks spec like handoff webhooks. Every attempt of
one message carries the same ``Message-ID`` / ``webhook-id``.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import time
from datetime import datetime
from email.generator import BytesGenerator
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import formataddr, formatdate, getaddresses, parseaddr
from typing import Any

import aiohttp
import aiosmtplib
from sqlalchemy.engine import Engine

from bot.followups.config import FollowupConfig
from bot.followups.planner import EMAIL_KIND, RELEASE_BATCH, FollowupPlanner, PlanStats
from bot.handoff.channels import (
    MAX_ERROR_CHARS,
    Outcome,
    local_hostname,
    message_id_header,
    post_json,
    webhook_headers,
)
from bot.handoff.config import Smtp
from bot.handoff.outbox import Claimed
from bot.store.db import write_transaction
from bot.store.types import dumps

logger = logging.getLogger(__name__)

KIND_PREFIX = "followup."
# Every PLAN_EVERY_SECONDS (the web app's: FOLLOWUPS_PLAN_EVERY_SECONDS) the worker plans
# batches of leads for up to PLAN_SECONDS, going on from where the last round stopped;
# after the last lead it starts over.
PLAN_EVERY_SECONDS = 10.0
PLAN_SECONDS = 1.0
# Headers are folded only past SMTP's line limit: the unsubscribe link stays on its line.
UNFOLDED = compat32.clone(max_line_length=998)
# A duty round releases batches of due follow-ups for at most this long (a backlog
# is worked off over several rounds, while the sends of the earlier ones go on).
RELEASE_SECONDS = 0.5


def email_message(payload: dict[str, Any], message_id: str) -> Message:
    """The follow-up email: plain-text and HTML parts, and the one-click unsubscribe headers.

    Built with the standard library's MIME classes (several times cheaper to
    build and flatten than ``EmailMessage``); ``Message-ID`` is the outbox
    message's id, the same on every attempt.
    """
    name, address = parseaddr(payload["sender"])
    message = MIMEMultipart("alternative")
    message["Subject"] = Header(payload["subject"], "utf-8").encode()
    message["From"] = formataddr((name, address), charset="utf-8")
    message["To"] = payload["to"]
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = message_id_header(message_id, payload["sender"])
    # RFC 8058: mail clients show "Unsubscribe" and POST to the link with this body.
    message["List-Unsubscribe"] = f"<{payload['unsubscribe_url']}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.attach(MIMEText(payload["text"], "plain", "utf-8"))
    message.attach(MIMEText(payload["html"], "html", "utf-8"))
    return message


class SmtpConnections:
    """Open connections to the mail server, each sending one message at a time.

    A follow-up run sends many messages to one server: reusing a connection
    saves the connect, greeting and goodbye of every message. A connection the
    server closed while idle is replaced and the message sent again on a new
    one; any other failure closes the connection and is the attempt's outcome.
    """

    def __init__(self, smtp: Smtp, keep: int = 32) -> None:
        self.smtp = smtp
        self.keep = keep
        self._idle: list[aiosmtplib.SMTP] = []

    async def send(self, message: Message, timeout: float) -> Outcome:
        """Send ``message``; a refused or failed send is an outcome, never raised."""
        sender = parseaddr(str(message["From"]))[1]
        recipients = [address for _, address in getaddresses([str(message["To"])])]
        with io.BytesIO() as out:
            BytesGenerator(out, policy=UNFOLDED.clone(linesep="\r\n")).flatten(message)
            data = out.getvalue()
        for reused in (True, False):
            client = self._idle.pop() if reused and self._idle else None
            if reused and client is None:
                continue
            try:
                if client is None:
                    client = await self._connect(timeout)
                await asyncio.wait_for(client.sendmail(sender, recipients, data), timeout)
            except aiosmtplib.SMTPServerDisconnected as exc:
                if reused:
                    continue  # closed by the server while idle: once more, on a new one
                return Outcome(False, error=f"SMTPServerDisconnected: {exc}"[:MAX_ERROR_CHARS])
            except aiosmtplib.SMTPResponseException as exc:
                await self._close(client)
                return Outcome(False, error=f"SMTP {exc.code}: {exc.message}"[:MAX_ERROR_CHARS])
            except asyncio.TimeoutError:  # not the builtin TimeoutError on Python 3.10
                await self._close(client)
                return Outcome(False, error=f"no response within {timeout:g} s")
            except (aiosmtplib.SMTPException, OSError) as exc:
                await self._close(client)
                return Outcome(False, error=f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS])
            if len(self._idle) < self.keep:
                self._idle.append(client)
            else:
                await self._close(client)
            return Outcome(True)
        return Outcome(False, error="the mail server closed the connection")  # pragma: no cover

    async def _connect(self, timeout: float) -> aiosmtplib.SMTP:
        client = aiosmtplib.SMTP(
            hostname=self.smtp.host,
            port=self.smtp.port,
            username=self.smtp.username,
            password=self.smtp.password,
            start_tls=self.smtp.starttls,
            use_tls=self.smtp.use_tls,
            timeout=timeout,
            local_hostname=await asyncio.to_thread(local_hostname),
        )
        await asyncio.wait_for(client.connect(), timeout)
        return client

    @staticmethod
    async def _close(client: aiosmtplib.SMTP | None) -> None:
        if client is not None:
            client.close()

    async def close(self) -> None:
        """Say goodbye on every idle connection."""
        idle, self._idle = self._idle, []
        for client in idle:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError, asyncio.TimeoutError):
                await asyncio.wait_for(client.quit(), 2)


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
        self.connections = SmtpConnections(smtp)

    @property
    def config(self) -> FollowupConfig:
        """The follow-up configuration."""
        return self.planner.config

    def handles(self, kind: str) -> bool:
        """Outbox messages of kind ``followup.*``."""
        return kind.startswith(KIND_PREFIX)

    def duties(self, now: datetime) -> bool:
        """Plan the next batches of leads (now and then), then release what is due."""
        if self.plan_every is not None and time.monotonic() - self._last_plan >= self.plan_every:
            self._last_plan = time.monotonic()
            until = self._last_plan + PLAN_SECONDS
            # Batches until the time is up or the pass over the leads ends (cursor back to None).
            while self.plan_next_batch(now).last_id is not None and time.monotonic() < until:
                pass
        queued = 0
        until = time.monotonic() + RELEASE_SECONDS
        while True:
            # One short transaction per batch: storefront writes interleave on SQLite.
            with write_transaction(self.engine) as connection:
                released = self.planner.release_due(connection, now, RELEASE_BATCH)
            queued += released.queued
            handled = released.queued + released.stopped + released.postponed
            if handled < RELEASE_BATCH or time.monotonic() >= until:
                return queued > 0

    def plan_next_batch(self, now: datetime) -> PlanStats:
        """Plan one batch of leads after the last one planned (from the start after the end)."""
        stats = self.planner.plan_next(self.engine, now, after=self._cursor)
        self._cursor = stats.last_id
        return stats

    async def close(self) -> None:
        """Close the connections to the mail server."""
        await self.connections.close()

    async def deliver(
        self, message: Claimed, session: aiohttp.ClientSession, timeout: float, now: datetime
    ) -> Outcome:
        """One attempt: the email through SMTP, or the signed webhook of the play's channel."""
        payload = message.payload
        if message.kind == EMAIL_KIND:
            return await self.connections.send(email_message(payload, message.message_id), timeout)
        channel = self.config.channels.get(message.channel)
        if channel is None or channel.url is None:
            return Outcome(
                False, error=f"follow-up channel {message.channel!r} is no longer configured"
            )
        body = dumps(payload).encode()
        headers = webhook_headers(channel.secrets, message.message_id, body, now)
        return await post_json(session, channel.url, body, headers, timeout, now)
