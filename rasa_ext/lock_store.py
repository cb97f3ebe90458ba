"""A Redis lock store whose every ticket operation is one atomic Lua script.

For the cluster profile, where several Rasa servers share one Redis: set in
``endpoints.yml``::

    lock_store:
      type: rasa_ext.lock_store.AtomicRedisLockStore
      url: ${REDIS_HOST}
      port: ${REDIS_PORT}
      db: 1
      password: ${REDIS_PASSWORD}
      key_prefix: shop
      poll_seconds: 0.02
      lease_seconds: 5

What this relies on in Rasa 3.6.21's source:

- ``rasa/core/lock_store.py``, ``_create_from_endpoint_config`` and
  ``_load_from_module_name_in_endpoint_config``: a ``type`` other than
  ``in_memory`` or ``redis`` is imported by its module path and constructed as
  ``cls(endpoint_config=endpoint_config)``; the ``EndpointConfig``
  (``rasa/utils/endpoints.py``) carries ``url`` and every other key in
  ``kwargs``, as read from YAML (``${VAR}`` values arrive as strings).
  ``rasa/core/agent.py``, ``load_agent``, creates it with ``LockStore.create``.
- ``rasa/core/utils.py``, ``number_of_sanic_workers``: ``SANIC_WORKERS`` above 1
  is honoured for any ``lock_store`` type but ``in_memory``, so this store also
  serves several Sanic workers of one Rasa server.
- ``RedisLockStore`` there changes a conversation's tickets by ``get_lock``
  (GET), a change in Python, and ``save_lock`` (SET), with nothing in between:
  in ``LockStore.issue_ticket``, ``update_lock``, ``finish_serving`` and
  ``cleanup``. Two processes interleaving those lose a ticket (both hold the
  same number and run the turn together), delete a lock someone waits on
  (``_acquire_lock`` raises ``LockError``, which the REST channel answers with
  200 and ``[]``: the message is dropped), or write back a finished ticket that
  then blocks the conversation until it expires.
- ``LockStore.lock`` (a context manager: ``issue_ticket``, ``_acquire_lock``,
  then ``cleanup`` in ``finally``) waits ``wait_time_in_seconds`` between
  attempts, 1 s by default, and its callers pass none: ``Agent.handle_message``
  (``rasa/core/agent.py``), ``MessageProcessor.handle_reminder``
  (``rasa/core/processor.py``) and the conversation endpoints in
  ``rasa/server.py`` all call ``lock_store.lock(conversation_id)``.
- ``_acquire_lock`` raises ``LockError`` once the lock is gone, i.e. once the
  waiting ticket's lifetime passed; ``issue_ticket`` turns any store error into
  ``LockError``.
- ``rasa/core/lock.py``: ``TicketLock`` serves tickets in the order they were
  issued; a ``Ticket`` has expired once ``time.time() > expires``; the lifetime
  is ``LOCK_LIFETIME`` (``rasa/core/lock_store.py``, ``_get_lock_lifetime``: the
  ``TICKET_LOCK_LIFETIME`` environment variable, else 60 s).

The same semantics here, each step one script run inside Redis: tickets are
served first in, first out per conversation; a ticket expires after its
lifetime (Redis's clock, the same for every replica), so a crashed holder
blocks no one for longer; a waiter whose own ticket expired gets ``LockError``;
the conversation's key goes when its last ticket does (and carries a Redis
expiry at its latest ticket's, so a crash leaves nothing behind). Waiting
polls every ``poll_seconds`` instead of every second.

With ``lease_seconds``, a ticket is issued for one lease and its process renews
it every quarter lease while it waits or holds the lock (one more script), up to
Rasa's lifetime: a Rasa server killed mid-turn holds its conversations for one
lease, and a living one keeps a long turn's lock. A process stalled for a whole
lease (its event loop blocked) loses the lock, which it logs.

Ticket numbers come from one counter for the whole store, so a number is never
issued twice: Rasa restarts at 0 when a conversation's lock is deleted, and a
holder whose ticket expired mid-turn would then remove a newcomer's ticket 0.
All keys of one script must live on one Redis node (no Redis Cluster).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

import redis
from rasa.core.lock import Ticket, TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, LockStore

if TYPE_CHECKING:
    from rasa.utils.endpoints import EndpointConfig

logger = logging.getLogger(__name__)

DEFAULT_POLL_SECONDS = 0.02

# Shared by the scripts. Times are Redis's, in milliseconds; a ticket is a hash
# field (its number) whose value is when it expires.
_PRELUDE = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Removes the expired tickets; returns the others as {number, expires}, in order.
local function live_tickets(key, now)
  local flat = redis.call('HGETALL', key)
  local live = {}
  for i = 1, #flat, 2 do
    local number, expires = tonumber(flat[i]), tonumber(flat[i + 1])
    if now > expires then
      redis.call('HDEL', key, flat[i])
    else
      live[#live + 1] = {number, expires}
    end
  end
  table.sort(live, function(a, b) return a[1] < b[1] end)
  return live
end

local function flatten(live)
  local out = {}
  for _, ticket in ipairs(live) do
    out[#out + 1] = ticket[1]
    out[#out + 1] = ticket[2]
  end
  return out
end
"""

# KEYS: lock, counter. ARGV: lifetime in ms. Returns the new ticket's number.
_ISSUE = """
local now = now_ms()
local live = live_tickets(KEYS[1], now)
local number = redis.call('INCR', KEYS[2])
local expires = now + tonumber(ARGV[1])
redis.call('HSET', KEYS[1], string.format('%d', number), string.format('%d', expires))
local latest = expires
for _, ticket in ipairs(live) do
  if ticket[2] > latest then latest = ticket[2] end
end
redis.call('PEXPIREAT', KEYS[1], string.format('%d', latest + 1))
return number
"""

# KEYS: lock. ARGV: ticket. Returns {tickets ahead of it, or -1 if it is gone,
# then the live tickets as number, expires, ...}.
_CHECK = """
local live = live_tickets(KEYS[1], now_ms())
local ticket = tonumber(ARGV[1])
for position, held in ipairs(live) do
  if held[1] == ticket then
    local out = flatten(live)
    table.insert(out, 1, position - 1)
    return out
  end
end
return {-1}
"""

# KEYS: lock. ARGV: ticket. Returns how many live tickets remain.
_RELEASE = """
redis.call('HDEL', KEYS[1], ARGV[1])
local live = live_tickets(KEYS[1], now_ms())
if #live == 0 then redis.call('DEL', KEYS[1]) end
return #live
"""

# KEYS: lock. ARGV: ticket, lease in ms. Moves a live ticket's expiry to now + lease;
# returns 1, or 0 if the ticket is gone (expired or removed).
_RENEW = """
local now = now_ms()
local expires = redis.call('HGET', KEYS[1], ARGV[1])
if not expires or now > tonumber(expires) then return 0 end
local renewed = now + tonumber(ARGV[2])
redis.call('HSET', KEYS[1], ARGV[1], string.format('%d', renewed))
if redis.call('PTTL', KEYS[1]) < renewed - now then
  redis.call('PEXPIREAT', KEYS[1], string.format('%d', renewed + 1))
end
return 1
"""

# KEYS: lock. Returns the live tickets as number, expires, ...
_READ = """
return flatten(live_tickets(KEYS[1], now_ms()))
"""

# KEYS: lock. ARGV: number, expires, ... Replaces the lock's tickets.
_SAVE = """
redis.call('DEL', KEYS[1])
local latest = nil
for i = 1, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  local expires = tonumber(ARGV[i + 1])
  if latest == nil or expires > latest then latest = expires end
end
if latest ~= nil then redis.call('PEXPIREAT', KEYS[1], string.format('%d', latest + 1)) end
return #ARGV / 2
"""


@dataclass(frozen=True)
class RedisLockSettings:
    """Where the lock store's Redis is and how to wait; the keys of ``lock_store`` in endpoints."""

    host: str = "localhost"
    port: int = 6379
    db: int = 1
    username: str | None = None
    password: str | None = None
    use_ssl: bool = False
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    ssl_ca_certs: str | None = None
    # Alphanumeric, as Rasa's RedisLockStore wants it; keys are "<prefix>:atomiclock:<id>".
    key_prefix: str | None = None
    socket_timeout: float = 10.0
    poll_seconds: float = DEFAULT_POLL_SECONDS
    # With a lease, a ticket lives lease_seconds and its process renews it every quarter
    # of that while it waits or holds the lock (up to Rasa's lock lifetime): a replica
    # killed mid-turn blocks its conversations for one lease, not a whole lifetime.
    lease_seconds: float | None = None

    @classmethod
    def parse(cls, values: dict[str, Any]) -> RedisLockSettings:
        """Settings from YAML values (``${VAR}`` ones are strings); unknown keys are an error."""
        known = {field.name for field in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown lock_store settings: {', '.join(unknown)}")
        present = {key: value for key, value in values.items() if value not in (None, "")}
        for key in ("port", "db"):
            if key in present:
                present[key] = int(present[key])
        for key in ("socket_timeout", "poll_seconds", "lease_seconds"):
            if key in present:
                present[key] = float(present[key])
        if "use_ssl" in present and isinstance(present["use_ssl"], str):
            present["use_ssl"] = present["use_ssl"].strip().lower() in ("1", "true", "yes")
        settings = cls(**present)
        if settings.poll_seconds <= 0:
            raise ValueError("lock_store poll_seconds must be more than 0")
        if settings.lease_seconds is not None and settings.lease_seconds < 0.1:
            raise ValueError("lock_store lease_seconds must be at least 0.1")
        if settings.key_prefix is not None and not str(settings.key_prefix).isalnum():
            raise ValueError(f"lock_store key_prefix must be alphanumeric: {settings.key_prefix!r}")
        return settings


def _tickets(flat: Sequence[Any]) -> deque[Ticket]:
    return deque(Ticket(int(flat[i]), int(flat[i + 1]) / 1000) for i in range(0, len(flat), 2))


class AtomicRedisLockStore(LockStore):
    """Rasa's ticket lock on Redis, safe for several Rasa processes sharing one conversation."""

    def __init__(self, endpoint_config: EndpointConfig | None = None, **options: Any) -> None:
        """Connect as ``endpoint_config`` says (Rasa's way), or as ``options`` (keys of settings).

        ``options`` win over the endpoint's values.
        """
        values: dict[str, Any] = {}
        if endpoint_config is not None:
            values = {"host": endpoint_config.url, **endpoint_config.kwargs}
        settings = RedisLockSettings.parse({**values, **options})
        self.settings = settings
        self.poll_seconds = settings.poll_seconds
        self.lease_seconds = settings.lease_seconds
        self.red = redis.StrictRedis(
            host=settings.host,
            port=settings.port,
            db=settings.db,
            username=settings.username,
            password=settings.password,
            ssl=settings.use_ssl,
            ssl_certfile=settings.ssl_certfile,
            ssl_keyfile=settings.ssl_keyfile,
            ssl_ca_certs=settings.ssl_ca_certs,
            socket_timeout=settings.socket_timeout,
        )
        base = f"{settings.key_prefix}:" if settings.key_prefix else ""
        self.key_prefix = f"{base}atomiclock:"
        # No lock key has this name: theirs go on with ":".
        self.counter_key = f"{base}atomiclock-counter"
        self._issue = self.red.register_script(_PRELUDE + _ISSUE)
        self._check = self.red.register_script(_PRELUDE + _CHECK)
        self._release = self.red.register_script(_PRELUDE + _RELEASE)
        self._read = self.red.register_script(_PRELUDE + _READ)
        self._renew = self.red.register_script(_PRELUDE + _RENEW)
        self._save = self.red.register_script(_SAVE)
        super().__init__()

    def _key(self, conversation_id: str) -> str:
        return self.key_prefix + conversation_id

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        """Queue a ticket living ``lock_lifetime`` seconds; its number (LockError on failure)."""
        try:
            number = self._issue(
                keys=[self._key(conversation_id), self.counter_key],
                args=[max(1, round(lock_lifetime * 1000))],
            )
        except Exception as error:
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error
        return int(number)

    @asynccontextmanager
    async def lock(
        self,
        conversation_id: str,
        lock_lifetime: float = LOCK_LIFETIME,
        wait_time_in_seconds: float | None = None,
    ) -> AsyncIterator[TicketLock]:
        """Hold ``conversation_id``'s lock for the block, waiting in line for it first.

        Checks every ``wait_time_in_seconds`` (default: ``poll_seconds``); LockError
        once this ticket's lifetime passes before its turn comes.
        """
        poll = self.poll_seconds if wait_time_in_seconds is None else wait_time_in_seconds
        lease = self.lease_seconds
        if lease is None or lease >= lock_lifetime:
            ticket = self.issue_ticket(conversation_id, lock_lifetime)
            try:
                yield await self._acquire_lock(conversation_id, ticket, poll)
            finally:
                self.cleanup(conversation_id, ticket)
            return
        ticket = self.issue_ticket(conversation_id, lease)
        renewing = asyncio.create_task(
            self._keep_renewing(conversation_id, ticket, lease, lock_lifetime)
        )
        try:
            yield await self._acquire_lock(conversation_id, ticket, poll)
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
            self.cleanup(conversation_id, ticket)

    async def _keep_renewing(
        self, conversation_id: str, ticket: int, lease: float, lifetime: float
    ) -> None:
        """Renew ``ticket`` every quarter lease until cancelled or ``lifetime`` has passed."""
        loop = asyncio.get_running_loop()
        until = loop.time() + lifetime - lease
        while loop.time() < until:
            await asyncio.sleep(lease / 4)
            try:
                renewed = self.renew(conversation_id, ticket, lease)
            except redis.RedisError as error:
                # The next renewal may get through; the lease covers three misses.
                logger.warning("could not renew a conversation lock: %s", error)
                continue
            if not renewed:
                logger.warning(
                    "a conversation lock expired while held (the process was stalled "
                    "for more than %.1f s)",
                    lease,
                )
                return

    def renew(self, conversation_id: str, ticket: int, lease: float) -> bool:
        """Move a live ``ticket``'s expiry to ``lease`` seconds from now; False if it is gone."""
        return bool(
            self._renew(
                keys=[self._key(conversation_id)], args=[ticket, max(1, round(lease * 1000))]
            )
        )

    async def _acquire_lock(
        self, conversation_id: str, ticket: int, wait_time_in_seconds: float
    ) -> TicketLock:
        while True:
            reply = self._check(keys=[self._key(conversation_id)], args=[ticket])
            ahead = int(reply[0])
            if ahead == 0:
                return TicketLock(conversation_id, _tickets(reply[1:]))
            if ahead < 0:
                raise LockError(f"Could not acquire lock for conversation_id '{conversation_id}'.")
            await asyncio.sleep(wait_time_in_seconds)

    def get_lock(self, conversation_id: str) -> TicketLock | None:
        """The conversation's live tickets, or None if it has none."""
        flat = self._read(keys=[self._key(conversation_id)])
        return TicketLock(conversation_id, _tickets(flat)) if flat else None

    def delete_lock(self, conversation_id: str) -> None:
        """Drop all of the conversation's tickets."""
        self._log_deletion(conversation_id, bool(self.red.delete(self._key(conversation_id))))

    def save_lock(self, lock: TicketLock) -> None:
        """Replace the conversation's tickets with ``lock``'s, in one step.

        Their expiry times are this machine's clock, the others' Redis's.
        """
        args: list[int] = []
        for ticket in lock.tickets:
            args += [ticket.number, round(ticket.expires * 1000)]
        self._save(keys=[self._key(lock.conversation_id)], args=args)

    def update_lock(self, conversation_id: str) -> None:
        """Remove the conversation's expired tickets."""
        self._read(keys=[self._key(conversation_id)])

    def is_someone_waiting(self, conversation_id: str) -> bool:
        """Whether the conversation has a live ticket."""
        return bool(self._read(keys=[self._key(conversation_id)]))

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        """Remove ticket ``ticket_number`` (and the lock with its last ticket)."""
        self._release(keys=[self._key(conversation_id)], args=[ticket_number])

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Remove the ticket, and the lock if no one else holds one, in one step."""
        self.finish_serving(conversation_id, ticket_number)
