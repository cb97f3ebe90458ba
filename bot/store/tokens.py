"""API tokens with scopes, managed with ``python -m bot tokens``.

A token is shown once, when it is created; the store keeps only its SHA-256
hash (tokens are 256-bit random, so a plain hash is enough to make a leaked
database useless for calling the API). Revoked tokens stay listed.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine

from bot import clock
from bot.store.db import write_transaction
from bot.store.ids import new_lead_id
from bot.store.models import ApiToken

EVENTS_WRITE = "events:write"
LEADS_READ = "leads:read"
LEADS_WRITE = "leads:write"
ADMIN = "admin"
SCOPES = (EVENTS_WRITE, LEADS_READ, LEADS_WRITE, ADMIN)
# What a token embedded in shop pages may do; such tokens are public.
STOREFRONT_SCOPES = frozenset({EVENTS_WRITE})
TOKEN_PREFIX = "lq_"  # noqa: S105 (a marker, not a secret)
MAX_NAME_CHARS = 80
# last_used_at is written at most this often per token: a busy storefront
# token would otherwise turn every read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)

_TOKENS = ApiToken.__table__


def hash_token(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    """Who is calling: a token's name and what it may do."""

    name: str
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        """Whether this caller has ``scope`` (``admin`` has every scope)."""
        return scope in self.scopes or ADMIN in self.scopes


class TokenStore:
    """Create, list, revoke and look up API tokens."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create(
        self, name: str, scopes: list[str], *, now: datetime | None = None
    ) -> tuple[str, dict[str, Any]]:
        """A new token (shown only now) and its listing; ``ValueError`` for bad input."""
        name = name.strip()
        if not 1 <= len(name) <= MAX_NAME_CHARS:
            raise ValueError(f"name: expected 1 to {MAX_NAME_CHARS} characters")
        unknown = sorted(set(scopes) - set(SCOPES))
        if unknown or not scopes:
            raise ValueError(
                f"scopes: expected one or more of {', '.join(SCOPES)}"
                + (f"; unknown: {', '.join(unknown)}" if unknown else "")
            )
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = {
            "id": new_lead_id(),
            "name": name,
            "token_hash": hash_token(token),
            "prefix": token[:10],
            "scopes": sorted(set(scopes)),
            "created_at": now or clock.now(),
        }
        with write_transaction(self._engine) as connection:
            taken = connection.execute(
                select(_TOKENS.c.id).where(_TOKENS.c.name == name)
            ).one_or_none()
            if taken is not None:
                raise ValueError(f"name: a token named {name!r} already exists")
            connection.execute(insert(_TOKENS).values(**row))
        return token, self._view(row)

    def list(self) -> list[dict[str, Any]]:
        """Every token, oldest first, without secrets."""
        with self._engine.connect() as connection:
            rows = connection.execute(select(_TOKENS).order_by(_TOKENS.c.created_at)).all()
        return [self._view(dict(row._mapping)) for row in rows]

    def revoke(self, name_or_id: str, *, now: datetime | None = None) -> dict[str, Any]:
        """Revoke a token by name or id; ``LookupError`` if there is none."""
        with write_transaction(self._engine) as connection:
            row = connection.execute(
                select(_TOKENS).where((_TOKENS.c.name == name_or_id) | (_TOKENS.c.id == name_or_id))
            ).one_or_none()
            if row is None:
                raise LookupError(f"no token named {name_or_id!r}")
            if row.revoked_at is None:
                connection.execute(
                    update(_TOKENS)
                    .where(_TOKENS.c.id == row.id)
                    .values(revoked_at=now or clock.now())
                )
            found = connection.execute(select(_TOKENS).where(_TOKENS.c.id == row.id)).one()
        return self._view(dict(found._mapping))

    def authenticate(self, token: str, *, now: datetime | None = None) -> Principal | None:
        """The caller a presented token stands for, or ``None`` (unknown or revoked)."""
        if not token.startswith(TOKEN_PREFIX):
            return None
        now = now or clock.now()
        with self._engine.connect() as connection:
            row = connection.execute(
                select(
                    _TOKENS.c.id, _TOKENS.c.name, _TOKENS.c.scopes, _TOKENS.c.last_used_at
                ).where(_TOKENS.c.token_hash == hash_token(token), _TOKENS.c.revoked_at.is_(None))
            ).one_or_none()
        if row is None:
            return None
        if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
            with write_transaction(self._engine) as connection:
                connection.execute(
                    update(_TOKENS).where(_TOKENS.c.id == row.id).values(last_used_at=now)
                )
        return Principal(name=f"token:{row.name}", scopes=frozenset(row.scopes))

    @staticmethod
    def _view(row: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": row["id"],
            "name": row["name"],
            "prefix": row["prefix"],
            "scopes": list(row["scopes"]),
            "created_at": _iso(row.get("created_at")),
            "last_used_at": _iso(row.get("last_used_at")),
            "revoked_at": _iso(row.get("revoked_at")),
        }


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else None
