"""Sessions of the lead pages, kept server-side so they can be ended.

A signed-in browser holds a random 256-bit value in its cookie; the store keeps
only its SHA-256 hash (like API tokens), the name given at sign-in and the
hash of the token that signed in. A session counts while it is neither ended
(signed out) nor expired; whether its token still holds is the caller's check,
with :attr:`SessionRecord.scopes` for tokens of the token store.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.engine import Engine

from bot.store.db import write_transaction
from bot.store.models import ApiToken, SalesSession

_SESSIONS = SalesSession.__table__
_TOKENS = ApiToken.__table__


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class SessionRecord:
    """A live session: who, the hash of its token, and that token's scopes if it is stored."""

    name: str
    token_hash: str
    # None unless the token is an unrevoked one of the token store.
    scopes: frozenset[str] | None


class SalesSessions:
    """Open, find and end lead-page sessions."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def open(self, *, name: str, token_hash: str, now: datetime, lifetime: timedelta) -> str:
        """A new session's cookie value (shown only now); expired sessions are forgotten."""
        value = secrets.token_urlsafe(32)
        with write_transaction(self._engine) as connection:
            connection.execute(delete(_SESSIONS).where(_SESSIONS.c.expires_at <= now))
            connection.execute(
                insert(_SESSIONS).values(
                    id=_hash(value),
                    name=name,
                    token_hash=token_hash,
                    created_at=now,
                    expires_at=now + lifetime,
                )
            )
        return value

    def find(self, value: str, now: datetime) -> SessionRecord | None:
        """The live session of cookie value ``value``, or ``None``."""
        query = (
            select(_SESSIONS.c.name, _SESSIONS.c.token_hash, _TOKENS.c.scopes)
            .select_from(
                _SESSIONS.outerjoin(
                    _TOKENS,
                    and_(
                        _TOKENS.c.token_hash == _SESSIONS.c.token_hash,
                        _TOKENS.c.revoked_at.is_(None),
                    ),
                )
            )
            .where(
                _SESSIONS.c.id == _hash(value),
                _SESSIONS.c.ended_at.is_(None),
                _SESSIONS.c.expires_at > now,
            )
        )
        with self._engine.connect() as connection:
            row = connection.execute(query).one_or_none()
        if row is None:
            return None
        scopes = frozenset(row.scopes) if row.scopes is not None else None
        return SessionRecord(name=row.name, token_hash=row.token_hash, scopes=scopes)

    def end(self, value: str, now: datetime) -> None:
        """Sign out: the session of cookie value ``value`` no longer counts."""
        with write_transaction(self._engine) as connection:
            connection.execute(
                update(_SESSIONS)
                .where(_SESSIONS.c.id == _hash(value), _SESSIONS.c.ended_at.is_(None))
                .values(ended_at=now)
            )
