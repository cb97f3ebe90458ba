"""What happened to a lead, as plain data: the writes of the chat and the storefront.

Actions and the web app describe what happened as commands; the lead service
(:class:`bot.leads.service.LeadService`) applies them. Commands are JSON
round-trippable so that a write that could not reach the database can be
spooled to disk and replayed later, and every command carries an idempotency
key so a replay never writes twice.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from bot.store.types import dumps, restore_decimals


@dataclass(frozen=True)
class RecordAnswer:
    """A shopper's answer to question ``key`` (``status`` is ``answered`` or ``unknown``)."""

    session_id: str
    answer_id: str
    key: str
    raw: str
    value: Any
    status: str
    answered_at: datetime


@dataclass(frozen=True)
class RecordEvent:
    """A chat-behaviour or storefront event."""

    session_id: str
    event_id: str
    type: str
    ts: datetime
    source: str = "chat"
    product_id: str | None = None
    variant_id: str | None = None
    value: Decimal | None = None
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class UpdateContact:
    """Contact details the shopper agreed to share; ``None`` fields stay unchanged."""

    session_id: str
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    consent_text: str | None = None
    consent_at: datetime | None = None


Command = RecordAnswer | RecordEvent | UpdateContact
COMMAND_TYPES: dict[str, type] = {
    cls.__name__: cls for cls in (RecordAnswer, RecordEvent, UpdateContact)
}
_DATETIME_FIELDS = {"answered_at", "ts", "consent_at"}


def encode(command: Command) -> str:
    """One JSON line describing ``command``."""
    data = asdict(command)
    if isinstance(command, RecordEvent) and command.value is not None:
        data["value"] = str(command.value)
    return dumps({"command": type(command).__name__, "data": data})


def decode(line: str) -> Command:
    """Inverse of :func:`encode`."""
    return from_payload(json.loads(line))


def from_payload(payload: dict[str, Any]) -> Command:
    """Rebuild a command from its decoded JSON object."""
    cls = COMMAND_TYPES[payload["command"]]
    data = payload["data"]
    for name in _DATETIME_FIELDS & data.keys():
        if data[name] is not None:
            data[name] = datetime.fromisoformat(data[name])
    if cls is RecordEvent and data.get("value") is not None:
        data["value"] = Decimal(data["value"])
    if cls is RecordAnswer:
        data["value"] = restore_decimals(data["value"])
    command: Command = cls(**data)
    return command
