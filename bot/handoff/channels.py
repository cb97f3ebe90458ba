"""Delivering one notification: signed webhook, Slack incoming webhook, or email.

Each sender takes the notification payload (built when the handoff was made)
and returns a :class:`Outcome`; it never raises for a delivery failure, so the
outbox worker records every attempt the same way.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import html
import json
import socket
from dataclasses import dataclass
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import parseaddr, parsedate_to_datetime
from typing import Any

import aiohttp
import aiosmtplib

from bot.handoff.config import Channel, Smtp
from bot.store.types import dumps

MAX_ERROR_CHARS = 500
# Body excerpt kept from a failed response: enough to tell a misconfigured receiver.
MAX_BODY_EXCERPT = 200
# A shopper's answer shown to sales; the lead page has the full text.
MAX_ANSWER_CHARS = 300
SLACK_TEXT_LIMIT = 3000


@dataclass(frozen=True)
class Outcome:
    """How one attempt went."""

    delivered: bool
    status_code: int | None = None
    error: str | None = None
    retry_after: float | None = None
    gone: bool = False


# -- Standard Webhooks ------------------------------------------------------------------


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_`` secret (the base64 after the prefix)."""
    return base64.b64decode(secret.removeprefix("whsec_"))


def sign(secrets: tuple[str, ...] | list[str], message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header: one ``v1,<base64>`` per secret, space-separated.

    Several secrets sign at once while a receiver rotates from the old to the new one.
    """
    content = f"{message_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1," + base64.b64encode(hmac.new(secret_key(s), content, hashlib.sha256).digest()).decode()
        for s in secrets
    )


def webhook_headers(
    secrets: tuple[str, ...], message_id: str, body: bytes, now: datetime
) -> dict[str, str]:
    """Headers of a signed webhook request (timestamp of this attempt)."""
    timestamp = int(now.timestamp())
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secrets, message_id, timestamp, body),
        "user-agent": "storefront-leads-handoff/1",
    }


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - now).total_seconds())


async def post_json(
    session: aiohttp.ClientSession,
    url: str,
    body: bytes,
    headers: dict[str, str],
    timeout: float,
    now: datetime,
) -> Outcome:
    """POST ``body``; 2xx delivered, 410 gone, anything else retried later."""
    try:
        async with session.post(
            url,
            data=body,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout),
            allow_redirects=False,
        ) as response:
            text = await response.text(errors="replace")
            if 200 <= response.status < 300:
                return Outcome(True, response.status)
            return Outcome(
                False,
                response.status,
                error=f"HTTP {response.status}: {text[:MAX_BODY_EXCERPT]}".strip(),
                retry_after=parse_retry_after(response.headers.get("Retry-After"), now),
                gone=response.status == 410,
            )
    except asyncio.TimeoutError:  # not the builtin TimeoutError before Python 3.11
        return Outcome(False, error=f"no response within {timeout:g} s")
    except aiohttp.ClientError as exc:
        return Outcome(False, error=f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS])


# -- message texts -----------------------------------------------------------------------


def _name(lead: dict[str, Any]) -> str:
    name = " ".join(part for part in (lead.get("first_name"), lead.get("last_name")) if part)
    return name or "Anonymous shopper"


def _answers(lead: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (
            key.replace("_", " "),
            _clip(str(answer.get("raw") or answer.get("value") or "—"), MAX_ANSWER_CHARS),
        )
        for key, answer in (lead.get("answers") or {}).items()
        if answer.get("status", "answered") == "answered"
    ]


def _headline(payload: dict[str, Any]) -> str:
    lead = payload["lead"]
    handoff = payload["handoff"]
    if payload["type"].endswith(".escalated"):
        what = "Overdue handoff"
    elif payload.get("action") == "upgraded":
        what = "Handoff upgraded"
    elif payload.get("action") == "updated":
        what = "Lead updated"
    else:
        what = "New lead for sales"
    trigger = handoff["trigger"].replace("_", " ")
    return (
        f"{what}: {_name(lead)} ({lead['stage']}, score {lead['score']}) — "
        f"{trigger}, answer by {_due(handoff)}"
    )


def _due(handoff: dict[str, Any]) -> str:
    return f"{handoff['due_at'][:16].replace('T', ' ')} UTC"


def _score(lead: dict[str, Any]) -> str:
    return f"{lead['score']} (intent {lead['intent_score']}, fit {lead['fit_score']})"


def _assignee(handoff: dict[str, Any]) -> str:
    return str(handoff.get("assigned_to") or "nobody (all reps at capacity)")


def _brief(payload: dict[str, Any]) -> list[str]:
    """The summary paragraph and the next step (absent from messages queued before they existed)."""
    return [
        text
        for text in (
            payload.get("summary"),
            f"Next step: {payload['next_step']}" if payload.get("next_step") else None,
        )
        if text
    ]


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _slack_section(text: str) -> dict[str, Any]:
    """A mrkdwn section, cut to Slack's 3,000-character limit (Slack refuses longer ones)."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text, SLACK_TEXT_LIMIT)}}


def _slack_escape(text: str) -> str:
    """Slack mrkdwn treats &, < and > as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_message(payload: dict[str, Any]) -> dict[str, Any]:
    """Slack incoming-webhook JSON: who, stage, score, top reasons, answers, what they viewed."""
    lead = payload["lead"]
    handoff = payload["handoff"]
    reasons = (
        "\n".join(
            f"• {reason['points']:+d} {_slack_escape(reason['detail'])}"
            for reason in lead["reasons"][:5]
        )
        or "• no scoring reasons yet"
    )
    answers = (
        "\n".join(
            f"• *{_slack_escape(key)}*: {_slack_escape(value)}" for key, value in _answers(lead)
        )
        or "• no answers yet"
    )
    viewed = (
        "\n".join(
            f"• {_slack_escape(item['type'].replace('_', ' '))}: "
            f"{_slack_escape(item.get('variant_id') or item.get('product_id') or '—')}"
            for item in payload.get("journey", [])[:5]
        )
        or "• nothing viewed on the storefront"
    )
    contact = (
        " · ".join(
            _slack_escape(value) for value in (lead.get("email"), lead.get("phone")) if value
        )
        or "no contact details yet"
    )
    return {
        "text": _slack_escape(_headline(payload)),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": _headline(payload)[:150]}},
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*Name*\n{_slack_escape(_name(lead))}"},
                    {"type": "mrkdwn", "text": f"*Contact*\n{contact}"},
                    {
                        "type": "mrkdwn",
                        "text": f"*Stage*\n{lead['stage']} ({lead.get('qualification') or '—'})",
                    },
                    {
                        "type": "mrkdwn",
                        "text": f"*Score*\n{_score(lead)}",
                    },
                    {
                        "type": "mrkdwn",
                        "text": f"*Assigned to*\n{_slack_escape(_assignee(handoff))}",
                    },
                    {
                        "type": "mrkdwn",
                        "text": f"*SLA*\n{handoff['sla']}, due {_due(handoff)}",
                    },
                ],
            },
            *(_slack_section(_slack_escape(text)) for text in _brief(payload)),
            _slack_section(f"*Top reasons*\n{reasons}"),
            _slack_section(f"*Answers*\n{answers}"),
            _slack_section(f"*Viewed*\n{viewed}"),
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open lead"},
                        "url": payload["lead_url"],
                        "style": "primary",
                    },
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Acknowledge"},
                        "url": payload["ack_url"],
                    },
                ],
            },
        ],
    }


def message_id_header(message_id: str, sender: str) -> str:
    """``Message-ID`` of an outbox message's email: the same on every attempt.

    An attempt whose answer was lost after the mail server took the message is sent
    again; with the same ``Message-ID`` mail clients and servers show it once.
    """
    address = parseaddr(sender)[1]
    domain = address.rsplit("@", 1)[-1] if "@" in address else ""
    return f"<{message_id}@{domain or 'localhost'}>"


def email_message(
    payload: dict[str, Any], sender: str, to: tuple[str, ...], message_id: str
) -> EmailMessage:
    """Plain-text and HTML email of a notification (shopper text escaped in the HTML)."""
    lead = payload["lead"]
    handoff = payload["handoff"]
    message = EmailMessage()
    message["Subject"] = _headline(payload)
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Message-ID"] = message_id_header(message_id, sender)
    lines = [
        _headline(payload),
        "",
        *(line for text in _brief(payload) for line in (text, "")),
        f"Name: {_name(lead)}",
        f"Email: {lead.get('email') or '—'}",
        f"Phone: {lead.get('phone') or '—'}",
        f"Stage: {lead['stage']}   Score: {_score(lead)}",
        f"Assigned to: {_assignee(handoff)}",
        f"SLA: {handoff['sla']}, answer by {handoff['due_at']}",
        "",
        "Top reasons:",
        *[f"  {r['points']:+d} {r['detail']}" for r in lead["reasons"][:5]],
        "",
        "Answers:",
        *[f"  {key}: {value}" for key, value in _answers(lead)],
        "",
        f"Lead page: {payload['lead_url']}",
        f"Acknowledge: {payload['ack_url']}",
    ]
    message.set_content("\n".join(lines))
    escaped = "".join(f"<p>{html.escape(line)}</p>" if line else "<br>" for line in lines[:-2])
    message.add_alternative(
        f"<html><body>{escaped}"
        f'<p><a href="{html.escape(payload["lead_url"])}">Open the lead</a> · '
        f'<a href="{html.escape(payload["ack_url"])}">Acknowledge</a></p></body></html>',
        subtype="html",
    )
    return message


# -- sending -----------------------------------------------------------------------------


async def deliver(
    channel: Channel,
    smtp: Smtp,
    message_id: str,
    payload: dict[str, Any],
    session: aiohttp.ClientSession,
    timeout: float,
    now: datetime,
) -> Outcome:
    """One attempt at delivering ``payload`` to ``channel``."""
    if channel.type == "webhook":
        body = dumps(payload).encode()
        headers = webhook_headers(channel.secrets, message_id, body, now)
        assert channel.url is not None
        return await post_json(session, channel.url, body, headers, timeout, now)
    if channel.type == "slack":
        body = json.dumps(slack_message(payload)).encode()
        assert channel.url is not None
        return await post_json(
            session, channel.url, body, {"content-type": "application/json"}, timeout, now
        )
    return await send_email(channel, smtp, message_id, payload, timeout)


async def send_email(
    channel: Channel, smtp: Smtp, message_id: str, payload: dict[str, Any], timeout: float
) -> Outcome:
    """Send over SMTP; a refused or failed send is retried later."""
    return await send_smtp(
        email_message(payload, smtp.sender, channel.to, message_id), smtp, timeout
    )


@functools.lru_cache(maxsize=1)
def local_hostname() -> str:
    """The name of this machine for the SMTP greeting, looked up once.

    aiosmtplib otherwise looks it up (``socket.getfqdn``, a DNS query) for every
    message it sends.
    """
    return socket.getfqdn() or "localhost"


async def send_smtp(message: EmailMessage, smtp: Smtp, timeout: float) -> Outcome:
    """Send ``message`` through the mail server of ``smtp``; a failure is an outcome, not raised."""
    hostname = await asyncio.to_thread(local_hostname)
    try:
        # aiosmtplib's timeout bounds each command; the whole attempt must end within
        # the timeout too, or a slow server could keep it going past the outbox lease.
        await asyncio.wait_for(
            aiosmtplib.send(
                message,
                hostname=smtp.host,
                port=smtp.port,
                username=smtp.username,
                password=smtp.password,
                start_tls=smtp.starttls,
                use_tls=smtp.use_tls,
                timeout=timeout,
                local_hostname=hostname,
            ),
            timeout,
        )
    except aiosmtplib.SMTPResponseException as exc:
        return Outcome(False, error=f"SMTP {exc.code}: {exc.message}"[:MAX_ERROR_CHARS])
    except asyncio.TimeoutError:  # the whole attempt (not the builtin TimeoutError on 3.10)
        return Outcome(False, error=f"no response within {timeout:g} s")
    except (aiosmtplib.SMTPException, OSError) as exc:
        return Outcome(False, error=f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS])
    return Outcome(True)
