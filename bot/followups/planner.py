"""Planning follow-ups in batches, and releasing due ones into the outbox.

Planning (``python -m bot followups plan``, and the outbox worker a batch at a
time) walks the consenting leads by id (keyset pagination), reads each batch's
signals in a handful of set-based queries, and writes one ``followups`` row per
play that became due: ``planned`` with its send time, or ``held_out`` for the
seeded control group. Each play is planned once per lead (a unique key), so
planners running at once, or again, plan nothing twice.

Releasing (the outbox worker, every second) claims planned rows that are due
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL, as the handoff timers) and, in the
same transaction, checks the stop rules, the frequency cap and the shopper's
quiet hours, renders the message with today's catalogue and queues it in the
outbox. The outbox then delivers it once (its lease and message id), retried
on failure: a crash before the commit leaves the row planned, after it the
message is queued; either way it is sent once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, bindparam, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql import Select

from bot.answers.budget import Budget
from bot.catalog import Catalog
from bot.catalog.rates import RateTable
from bot.followups.config import EMAIL, FollowupConfig, Play
from bot.followups.content import Recipient, build_context
from bot.followups.links import Links
from bot.followups.plays import LeadSignals, due_plays
from bot.followups.render import Rendered, render
from bot.followups.zones import country_zone
from bot.store.db import write_transaction
from bot.store.models import (
    Answer,
    Followup,
    Handoff,
    Lead,
    LeadEvent,
    Order,
    OutboxMessage,
)

_LEADS = Lead.__table__
_ANSWERS = Answer.__table__
_EVENTS = LeadEvent.__table__
_HANDOFFS = Handoff.__table__
_FOLLOWUPS = Followup.__table__
_OUTBOX = OutboxMessage.__table__
_ORDERS = Order.__table__

PLAN_BATCH = 2000
# Small: a batch is rendered inside its write transaction (SQLite has one writer).
RELEASE_BATCH = 50
# Outbox priority of follow-ups: after every handoff notification (priorities 0-99).
OUTBOX_PRIORITY = 100
EMAIL_KIND = "followup.email"
WEBHOOK_KIND = "followup.webhook"
# Storefront steps the rules read, and the ones that name the variant picked.
STEP_EVENTS = ("add_to_cart", "checkout_start", "purchase")
VARIANT_EVENTS = ("variant_select", "add_to_cart", "checkout_start")
SIGNAL_ANSWERS = ("timeline", "budget", "variant")
CLOSED_STATUSES = ("Won", "Lost")
_SHOP_EVENTS = tuple(dict.fromkeys((*STEP_EVENTS, *VARIANT_EVENTS)))


@dataclass
class PlanStats:
    """What planning did."""

    leads: int = 0
    planned: int = 0
    held_out: int = 0
    last_id: str | None = None


@dataclass
class ReleaseStats:
    """What a release pass did."""

    queued: int = 0
    stopped: int = 0
    postponed: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Clicked:
    """A click recorded on a follow-up's link: the how-manieth, and whose session."""

    followup_id: str
    play: str
    session_id: str
    clicks: int


class FollowupPlanner:
    """Plans plays for consenting leads and releases due ones into the outbox."""

    def __init__(
        self,
        config: FollowupConfig,
        *,
        catalog: Catalog,
        rates: RateTable,
        currency: str,
        signing_key: bytes,
        public_url: str,
        shop_zone: ZoneInfo,
    ) -> None:
        self.config = config
        self.catalog = catalog
        self.rates = rates
        self.currency = currency
        self.signing_key = signing_key
        self.public_url = public_url.rstrip("/")
        self.shop_url = config.shop_url or self.public_url
        self.shop_zone = shop_zone

    # -- planning --------------------------------------------------------------------

    def plan_all(
        self,
        engine: Engine,
        now: datetime,
        batch: int = PLAN_BATCH,
        limit: int | None = None,
        *,
        id_range: tuple[str, str | None] = ("", None),
        progress: Callable[[int], None] | None = None,
    ) -> PlanStats:
        """Plan every consenting lead, a batch per transaction; ``limit`` caps the leads read.

        ``id_range`` = [low, high) lets several processes share the leads;
        ``progress`` hears how many leads each batch read.
        """
        total = PlanStats()
        low, high = id_range
        after: str | None = low or None
        while limit is None or total.leads < limit:
            size = batch if limit is None else min(batch, limit - total.leads)
            stats = self.plan_next(engine, now, after=after, before=high, limit=size)
            if progress is not None and stats.leads:
                progress(stats.leads)
            total.leads += stats.leads
            total.planned += stats.planned
            total.held_out += stats.held_out
            if stats.last_id is None:
                break
            after = total.last_id = stats.last_id
        return total

    def plan_next(
        self,
        engine: Engine,
        now: datetime,
        *,
        after: str | None,
        before: str | None = None,
        limit: int = PLAN_BATCH,
    ) -> PlanStats:
        """:meth:`plan_batch`, reading outside the write transaction (kept to the insert).

        On SQLite the writer is shared with every storefront write: holding it only
        for the insert keeps planning from delaying them. A lead written meanwhile is
        planned by what was read; a play planned meanwhile by another worker is
        skipped by the insert.
        """
        with engine.connect() as connection:
            stats, rows = self._due_rows(connection, now, after=after, before=before, limit=limit)
        if rows:
            with write_transaction(engine) as connection:
                self._insert(connection, rows)
        return stats

    def plan_batch(
        self, connection: Connection, now: datetime, *, after: str | None, limit: int = PLAN_BATCH
    ) -> PlanStats:
        """Plan the ``limit`` consenting leads after id ``after``; ``last_id``: where to go on."""
        stats, rows = self._due_rows(connection, now, after=after, limit=limit)
        self._insert(connection, rows)
        return stats

    def _due_rows(
        self,
        connection: Connection,
        now: datetime,
        *,
        after: str | None,
        limit: int,
        before: str | None = None,
    ) -> tuple[PlanStats, list[dict[str, Any]]]:
        """The batch's leads (ids after ``after``, below ``before``) and the rows to insert."""
        query = (
            select(
                _LEADS.c.id,
                _LEADS.c.stage,
                _LEADS.c.score,
                _LEADS.c.created_at,
                _LEADS.c.stage_changed_at,
            )
            .where(*_reachable())
            .order_by(_LEADS.c.id)
            .limit(limit)
        )
        if after is not None:
            query = query.where(_LEADS.c.id > after)
        if before is not None:
            query = query.where(_LEADS.c.id < before)
        leads = connection.execute(query).all()
        stats = PlanStats(leads=len(leads), last_id=leads[-1].id if leads else None)
        if not leads:
            return stats, []
        batch = _Batch(after, leads[-1].id)
        signals = self._signals(connection, leads, batch)
        planned: dict[str, set[str]] = {}
        for row in connection.execute(
            batch.of(select(_FOLLOWUPS.c.lead_id, _FOLLOWUPS.c.play), _FOLLOWUPS.c.lead_id)
        ):
            planned.setdefault(row.lead_id, set()).add(row.play)
        rows: list[dict[str, Any]] = []
        for lead_signals in signals:
            for due in due_plays(
                self.config,
                lead_signals,
                now,
                catalog=self.catalog,
                currency=self.currency,
                rates=self.rates,
                planned=frozenset(planned.get(lead_signals.lead_id, ())),
            ):
                rows.append(
                    {
                        "id": uuid.uuid4().hex,
                        "lead_id": lead_signals.lead_id,
                        "play": due.play.name,
                        "status": "held_out" if due.held_out else "planned",
                        "channel": due.play.channel,
                        "template": due.play.template,
                        "priority": due.play.priority,
                        "signal_at": due.signal_at,
                        "due_at": due.due_at,
                        "planned_at": now,
                        "clicks": 0,
                    }
                )
        stats.held_out = sum(1 for row in rows if row["status"] == "held_out")
        stats.planned = len(rows) - stats.held_out
        return stats, rows

    @staticmethod
    def _insert(connection: Connection, rows: list[dict[str, Any]]) -> None:
        """Insert planned rows; a play another planner planned meanwhile is left as it is."""
        if not rows:
            return
        dialect_insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
        connection.execute(
            dialect_insert(_FOLLOWUPS).on_conflict_do_nothing(index_elements=["lead_id", "play"]),
            rows,
        )

    def _signals(
        self, connection: Connection, leads: Sequence[Any], batch: _Batch
    ) -> list[LeadSignals]:
        """Each lead's signals, read for the whole batch at once."""
        steps, picked = _shop_steps(connection, batch)
        answers: dict[str, dict[str, Any]] = {}
        for row in connection.execute(
            batch.of(
                select(
                    _ANSWERS.c.lead_id, _ANSWERS.c.key, _ANSWERS.c.value, _ANSWERS.c.answered_at
                ).where(
                    _ANSWERS.c.key.in_(SIGNAL_ANSWERS),
                    _ANSWERS.c.superseded_at.is_(None),
                    _ANSWERS.c.status == "answered",
                ),
                _ANSWERS.c.lead_id,
            )
        ):
            answers.setdefault(row.lead_id, {})[row.key] = row
        overdue = dict(
            connection.execute(
                batch.of(
                    select(_HANDOFFS.c.lead_id, func.min(_HANDOFFS.c.due_at))
                    .where(_HANDOFFS.c.status == "open")
                    .group_by(_HANDOFFS.c.lead_id),
                    _HANDOFFS.c.lead_id,
                )
            ).all()
        )
        found: list[LeadSignals] = []
        for lead in leads:
            given = answers.get(lead.id, {})
            variant_id, variant_at = _chosen_variant(given.get("variant"), picked.get(lead.id))
            timeline = given.get("timeline")
            budget = given.get("budget")
            found.append(
                LeadSignals(
                    lead_id=lead.id,
                    stage=lead.stage,
                    score=lead.score,
                    since=lead.stage_changed_at or lead.created_at,
                    steps=steps.get(lead.id, {}),
                    variant_id=variant_id,
                    variant_at=variant_at,
                    timeline_days=_timeline_days(timeline.value) if timeline else None,
                    timeline_at=timeline.answered_at if timeline else None,
                    budget=Budget.of(budget.value) if budget else None,
                    budget_at=budget.answered_at if budget else None,
                    handoff_due_at=overdue.get(lead.id),
                )
            )
        return found

    @staticmethod
    def _picked_variants(connection: Connection, ids: list[str]) -> dict[str, tuple[str, datetime]]:
        """Each lead's latest variant picked on the shop (select, cart, checkout)."""
        latest = (
            select(_EVENTS.c.lead_id, func.max(_EVENTS.c.ts).label("ts"))
            .where(
                _EVENTS.c.lead_id.in_(ids),
                _EVENTS.c.type.in_(VARIANT_EVENTS),
                _EVENTS.c.variant_id.is_not(None),
            )
            .group_by(_EVENTS.c.lead_id)
            .subquery()
        )
        picked: dict[str, tuple[str, datetime]] = {}
        for row in connection.execute(
            select(_EVENTS.c.lead_id, _EVENTS.c.variant_id, _EVENTS.c.ts)
            .join(
                latest,
                and_(latest.c.lead_id == _EVENTS.c.lead_id, latest.c.ts == _EVENTS.c.ts),
            )
            .where(_EVENTS.c.type.in_(VARIANT_EVENTS), _EVENTS.c.variant_id.is_not(None))
            .order_by(_EVENTS.c.id)
        ):
            picked[row.lead_id] = (row.variant_id, row.ts)
        return picked

    # -- releasing -------------------------------------------------------------------

    def release_due(
        self, connection: Connection, now: datetime, limit: int = RELEASE_BATCH
    ) -> ReleaseStats:
        """Queue due follow-ups in the outbox, or stop or postpone them; see the module doc.

        What the rules read is loaded for the whole batch in a few queries.
        """
        stats = ReleaseStats()
        query = (
            select(_FOLLOWUPS)
            .where(_FOLLOWUPS.c.status == "planned", _FOLLOWUPS.c.due_at <= now)
            .order_by(_FOLLOWUPS.c.due_at, _FOLLOWUPS.c.priority, _FOLLOWUPS.c.id)
            .limit(limit)
        )
        if connection.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        due = connection.execute(query).all()
        if not due:
            return stats
        lead_ids = sorted({row.lead_id for row in due})
        cap = self.config.frequency_cap
        sent: dict[str, list[datetime]] = {}
        for row in connection.execute(
            select(_FOLLOWUPS.c.lead_id, _FOLLOWUPS.c.queued_at).where(
                _FOLLOWUPS.c.lead_id.in_(lead_ids),
                _FOLLOWUPS.c.status == "queued",
                _FOLLOWUPS.c.queued_at > now - timedelta(days=cap.days),
            )
        ):
            sent.setdefault(row.lead_id, []).append(row.queued_at)
        reasons = self.stop_reasons(connection, due)
        recipients = self.recipients(connection, lead_ids)
        stopped: dict[str, list[str]] = {}
        postponed: list[dict[str, Any]] = []
        outbox: list[dict[str, Any]] = []
        for followup in due:
            reason = reasons.get(followup.id)
            if reason is not None:
                stopped.setdefault(reason, []).append(followup.id)
                stats.reasons[reason] = stats.reasons.get(reason, 0) + 1
                continue
            play = self.config.play(followup.play)  # a play gone from the file is a stop reason
            recent = sorted(sent.get(followup.lead_id, []))
            recipient = recipients[followup.lead_id]
            later = (
                recent[-cap.messages] + timedelta(days=cap.days)
                if len(recent) >= cap.messages
                else self.quiet_until(recipient, now)
            )
            if later is not None:
                postponed.append({"b_id": followup.id, "b_due": later})
                continue
            outbox.append(self._message(followup, play, recipient, now))
            sent.setdefault(followup.lead_id, []).append(now)
        for reason, ids in stopped.items():
            stats.stopped += self._stop(connection, ids, reason, now)
        if postponed:
            connection.execute(
                update(_FOLLOWUPS)
                .where(_FOLLOWUPS.c.id == bindparam("b_id"))
                .values(due_at=bindparam("b_due")),
                postponed,
            )
            stats.postponed = len(postponed)
        # Each row is taken only if it is still planned: on SQLite, where nothing is
        # locked while reading, another process may have queued it meanwhile; the first
        # UPDATE takes the write lock, so the second one sees what the first committed.
        taken = [
            message
            for message in outbox
            if connection.execute(
                update(_FOLLOWUPS)
                .where(_FOLLOWUPS.c.id == message["followup_id"], _FOLLOWUPS.c.status == "planned")
                .values(status="queued", queued_at=now)
            ).rowcount
            == 1
        ]
        if taken:
            connection.execute(insert(_OUTBOX), taken)
            stats.queued = len(taken)
        return stats

    def stop_reasons(self, connection: Connection, due: Sequence[Any]) -> dict[str, str]:
        """Why each of the due follow-ups must not be sent (absent: it may be)."""
        lead_ids = sorted({row.lead_id for row in due})
        leads = {
            row.id: row
            for row in connection.execute(
                select(
                    _LEADS.c.id,
                    _LEADS.c.consent_at,
                    _LEADS.c.opted_out_at,
                    _LEADS.c.merged_into,
                    _LEADS.c.status,
                    _LEADS.c.email,
                ).where(_LEADS.c.id.in_(lead_ids))
            )
        }
        since = min(row.signal_at for row in due)
        bought: dict[str, datetime] = {}
        for query in (
            select(_EVENTS.c.lead_id, func.max(_EVENTS.c.ts))
            .where(
                _EVENTS.c.lead_id.in_(lead_ids),
                _EVENTS.c.type == "purchase",
                _EVENTS.c.ts >= since,
            )
            .group_by(_EVENTS.c.lead_id),
            select(_ORDERS.c.lead_id, func.max(_ORDERS.c.ordered_at))
            .where(_ORDERS.c.lead_id.in_(lead_ids), _ORDERS.c.ordered_at >= since)
            .group_by(_ORDERS.c.lead_id),
        ):
            for lead_id, at in connection.execute(query):
                bought[lead_id] = max(at, bought.get(lead_id, at))
        replied: dict[str, datetime] = {}
        for row in connection.execute(
            select(_EVENTS.c.lead_id, _EVENTS.c.ts, _EVENTS.c.properties).where(
                _EVENTS.c.lead_id.in_(lead_ids),
                _EVENTS.c.type == "chat_message",
                _EVENTS.c.ts > min(r.planned_at for r in due),
            )
        ):
            if (row.properties or {}).get("sender", "user") == "user":
                replied[row.lead_id] = max(row.ts, replied.get(row.lead_id, row.ts))
        handoffs: dict[str, list[Any]] = {}
        for row in connection.execute(
            select(_HANDOFFS.c.lead_id, _HANDOFFS.c.created_at, _HANDOFFS.c.status).where(
                _HANDOFFS.c.lead_id.in_(lead_ids)
            )
        ):
            handoffs.setdefault(row.lead_id, []).append(row)
        reasons: dict[str, str] = {}
        for followup in due:
            reason = self._stop_reason(
                followup,
                leads[followup.lead_id],
                bought.get(followup.lead_id),
                replied.get(followup.lead_id),
                handoffs.get(followup.lead_id, []),
            )
            if reason is not None:
                reasons[followup.id] = reason
        return reasons

    def _stop_reason(
        self,
        followup: Any,
        lead: Any,
        bought_at: datetime | None,
        replied_at: datetime | None,
        handoffs: list[Any],
    ) -> str | None:
        if lead.opted_out_at is not None:
            return "unsubscribed"
        if lead.consent_at is None:
            return "no consent"
        if lead.merged_into is not None:
            return "merged into another lead"
        try:
            play = self.config.play(followup.play)
        except KeyError:
            return "play removed from the follow-up configuration"
        if play.channel == EMAIL and not lead.email:
            return "no email address"
        if lead.status == "Lost":
            return "lead marked Lost"
        stop_on = self.config.stop_on
        if "purchase" in stop_on and (
            lead.status == "Won" or (bought_at is not None and bought_at >= followup.signal_at)
        ):
            return "purchase"
        if "reply" in stop_on and replied_at is not None and replied_at > followup.planned_at:
            return "shopper replied in the chat"
        if play.when.handoff_past_sla:
            if not any(h.status == "open" for h in handoffs):
                return "sales answered the handoff"
        elif "handoff" in stop_on and any(h.created_at > followup.planned_at for h in handoffs):
            return "handed to sales"
        return None

    def zone_of(self, recipient: Recipient) -> ZoneInfo:
        """The shopper's time zone: their country's main zone, else the shop's."""
        return country_zone(recipient.country) or self.shop_zone

    def quiet_until(self, recipient: Recipient, now: datetime) -> datetime | None:
        """When the shopper's quiet hours end, if ``now`` is inside them (``None`` otherwise)."""
        quiet = self.config.quiet_hours
        if quiet is None:
            return None
        zone = self.zone_of(recipient)
        local = now.astimezone(zone)
        if not quiet.contains(local.time()):
            return None
        end = local.replace(
            hour=quiet.end.hour, minute=quiet.end.minute, second=0, microsecond=0, tzinfo=None
        )
        if end.time() <= local.time().replace(tzinfo=None):
            end += timedelta(days=1)
        # Wall time to UTC through the zone (a DST gap moves it forward, fold=0).
        return end.replace(tzinfo=zone).astimezone(now.tzinfo)

    @staticmethod
    def _stop(connection: Connection, ids: Iterable[str], reason: str, now: datetime) -> int:
        result = connection.execute(
            update(_FOLLOWUPS)
            .where(_FOLLOWUPS.c.id.in_(list(ids)), _FOLLOWUPS.c.status == "planned")
            .values(status="stopped", stopped_at=now, stop_reason=reason)
        )
        return int(result.rowcount)

    def _message(
        self, followup: Any, play: Play, recipient: Recipient, now: datetime
    ) -> dict[str, Any]:
        """The outbox row carrying ``followup``'s message, rendered now."""
        rendered = self.render(recipient, play, followup.id, now)
        links = self.links(followup.id)
        payload: dict[str, Any] = {
            "type": EMAIL_KIND if play.channel == EMAIL else WEBHOOK_KIND,
            "followup_id": followup.id,
            "play": play.name,
            "lead": {"id": recipient.lead_id},
            "subject": rendered.subject,
            "text": rendered.text,
            "unsubscribe_url": links.unsubscribe(recipient.lead_id),
            "timestamp": now.isoformat(),
        }
        if play.channel == EMAIL:
            payload.update(to=recipient.email, sender=self.config.sender, html=rendered.html)
        else:
            payload["lead"].update(
                first_name=recipient.first_name, email=recipient.email, phone=recipient.phone
            )
        return {
            "message_id": f"msg_{uuid.uuid4().hex}",
            "handoff_id": None,
            "followup_id": followup.id,
            "channel": play.channel,
            "kind": payload["type"],
            "priority": OUTBOX_PRIORITY + play.priority,
            "payload": payload,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }

    # -- rendering -------------------------------------------------------------------

    def links(self, followup_id: str) -> Links:
        """The signed links of one follow-up."""
        return Links(
            key=self.signing_key,
            public_url=self.public_url,
            shop_url=self.shop_url,
            product_path=self.config.product_link,
            cart_path=self.config.cart_link,
            followup_id=followup_id,
        )

    def render(self, recipient: Recipient, play: Play, followup_id: str, now: datetime) -> Rendered:
        """The message ``play`` sends to ``recipient`` now."""
        zone = self.zone_of(recipient)
        context = build_context(
            recipient,
            catalog=self.catalog,
            rates=self.rates,
            currency=self.currency,
            links=self.links(followup_id),
            now=now,
            zone_name=str(zone),
        )
        return render(play.template, context)

    def preview(
        self, connection: Connection, lead_id: str, play_name: str, now: datetime
    ) -> Rendered:
        """What ``play_name`` would send the lead now (whether or not it is due); sends nothing.

        ``KeyError`` for an unknown play or lead (the message says which).
        """
        play = self.config.play(play_name)
        recipient = self.recipient(connection, lead_id)
        if recipient is None:
            raise KeyError(f"no lead with id {lead_id!r}")
        existing = connection.execute(
            select(_FOLLOWUPS.c.id).where(
                _FOLLOWUPS.c.lead_id == recipient.lead_id, _FOLLOWUPS.c.play == play.name
            )
        ).scalar_one_or_none()
        return self.render(recipient, play, existing or "preview", now)

    def recipient(self, connection: Connection, lead_id: str) -> Recipient | None:
        """What the templates read about the lead (its survivor's, for a merged id)."""
        found = connection.execute(
            select(_LEADS.c.id, _LEADS.c.merged_into).where(_LEADS.c.id == lead_id)
        ).one_or_none()
        if found is None:
            return None
        owner = found.merged_into or found.id
        return self.recipients(connection, [owner]).get(owner)

    def recipients(self, connection: Connection, lead_ids: Sequence[str]) -> dict[str, Recipient]:
        """What the templates read about each lead, loaded for all of them at once."""
        leads = connection.execute(
            select(
                _LEADS.c.id,
                _LEADS.c.first_name,
                _LEADS.c.email,
                _LEADS.c.phone,
                _LEADS.c.consent_text,
            ).where(_LEADS.c.id.in_(lead_ids))
        ).all()
        given: dict[str, dict[str, Any]] = {}
        for row in connection.execute(
            select(_ANSWERS.c.lead_id, _ANSWERS.c.key, _ANSWERS.c.value, _ANSWERS.c.answered_at)
            .where(
                _ANSWERS.c.lead_id.in_(lead_ids),
                _ANSWERS.c.key.in_((*SIGNAL_ANSWERS, "location")),
                _ANSWERS.c.superseded_at.is_(None),
                _ANSWERS.c.status == "answered",
            )
            .order_by(_ANSWERS.c.answered_at, _ANSWERS.c.id)
        ):
            given.setdefault(row.lead_id, {})[row.key] = row
        picked = self._picked_variants(connection, list(lead_ids))
        viewed = self._viewed_products(connection, list(lead_ids))
        reps: dict[str, str] = {}
        for row in connection.execute(
            select(_HANDOFFS.c.lead_id, _HANDOFFS.c.assigned_to)
            .where(_HANDOFFS.c.lead_id.in_(lead_ids), _HANDOFFS.c.assigned_to.is_not(None))
            .order_by(_HANDOFFS.c.created_at, _HANDOFFS.c.id)
        ):
            reps[row.lead_id] = row.assigned_to
        found: dict[str, Recipient] = {}
        for lead in leads:
            answers = given.get(lead.id, {})
            variant_id, _ = _chosen_variant(answers.get("variant"), picked.get(lead.id))
            location = answers.get("location")
            place = location.value if location is not None else None
            place = place if isinstance(place, dict) else {}
            timeline = answers.get("timeline")
            budget = answers.get("budget")
            found[lead.id] = Recipient(
                lead_id=lead.id,
                first_name=lead.first_name,
                email=lead.email,
                phone=lead.phone,
                consent_text=lead.consent_text,
                country=_text(place.get("country")),
                region=_text(place.get("region")),
                variant_id=variant_id,
                product_id=viewed.get(lead.id),
                timeline_days=_timeline_days(timeline.value) if timeline else None,
                timeline_at=timeline.answered_at if timeline else None,
                budget=Budget.of(budget.value) if budget else None,
                rep=reps.get(lead.id),
            )
        return found

    @staticmethod
    def _viewed_products(connection: Connection, ids: list[str]) -> dict[str, str]:
        """Each lead's latest product seen on the shop (any event naming one)."""
        latest = (
            select(_EVENTS.c.lead_id, func.max(_EVENTS.c.ts).label("ts"))
            .where(_EVENTS.c.lead_id.in_(ids), _EVENTS.c.product_id.is_not(None))
            .group_by(_EVENTS.c.lead_id)
            .subquery()
        )
        viewed: dict[str, str] = {}
        for row in connection.execute(
            select(_EVENTS.c.lead_id, _EVENTS.c.product_id)
            .join(
                latest,
                and_(latest.c.lead_id == _EVENTS.c.lead_id, latest.c.ts == _EVENTS.c.ts),
            )
            .where(_EVENTS.c.product_id.is_not(None))
            .order_by(_EVENTS.c.id)
        ):
            viewed[row.lead_id] = row.product_id
        return viewed

    # -- the shopper's and sales' side ---------------------------------------------------

    def unsubscribe(self, connection: Connection, lead_id: str, now: datetime) -> int | None:
        """Revoke the lead's consent and stop its planned plays: how many (``None``: no lead)."""
        found = connection.execute(
            select(_LEADS.c.id, _LEADS.c.merged_into).where(_LEADS.c.id == lead_id)
        ).one_or_none()
        if found is None:
            return None
        owner = found.merged_into or found.id
        connection.execute(
            update(_LEADS)
            .where(_LEADS.c.id.in_({owner, found.id}), _LEADS.c.opted_out_at.is_(None))
            .values(opted_out_at=now)
        )
        planned = connection.execute(
            select(_FOLLOWUPS.c.id).where(
                _FOLLOWUPS.c.lead_id == owner, _FOLLOWUPS.c.status == "planned"
            )
        ).scalars()
        stopped = self._stop(connection, list(planned), "unsubscribed", now)
        # Messages queued but not sent yet are not sent either.
        unsent = list(
            connection.execute(
                select(_OUTBOX.c.followup_id)
                .join(_FOLLOWUPS, _FOLLOWUPS.c.id == _OUTBOX.c.followup_id)
                .where(_FOLLOWUPS.c.lead_id == owner, _OUTBOX.c.status == "pending")
            ).scalars()
        )
        if unsent:
            connection.execute(
                update(_OUTBOX)
                .where(_OUTBOX.c.followup_id.in_(unsent), _OUTBOX.c.status == "pending")
                .values(
                    status="dead",
                    dead_at=now,
                    locked_until=None,
                    last_error="the shopper unsubscribed before it was sent",
                )
            )
            connection.execute(
                update(_FOLLOWUPS)
                .where(_FOLLOWUPS.c.id.in_(unsent))
                .values(status="stopped", stopped_at=now, stop_reason="unsubscribed")
            )
        return stopped + len(unsent)

    @staticmethod
    def record_click(connection: Connection, followup_id: str, now: datetime) -> Clicked | None:
        """Count a click on a link of the follow-up (the first one sets ``clicked_at``).

        ``None`` when the follow-up is gone (erased with its lead).
        """
        result = connection.execute(
            update(_FOLLOWUPS)
            .where(_FOLLOWUPS.c.id == followup_id)
            .values(
                clicks=_FOLLOWUPS.c.clicks + 1,
                clicked_at=func.coalesce(_FOLLOWUPS.c.clicked_at, now),
            )
        )
        if not result.rowcount:
            return None
        row = connection.execute(
            select(_FOLLOWUPS.c.play, _FOLLOWUPS.c.clicks, _LEADS.c.session_id)
            .join(_LEADS, _LEADS.c.id == _FOLLOWUPS.c.lead_id)
            .where(_FOLLOWUPS.c.id == followup_id)
        ).one()
        return Clicked(followup_id, row.play, row.session_id, row.clicks)


def followups_of(connection: Connection, lead_id: str) -> list[dict[str, Any]]:
    """The lead's follow-ups, newest first, with their message's delivery state."""
    rows = connection.execute(
        select(
            _FOLLOWUPS,
            _OUTBOX.c.status.label("delivery"),
            _OUTBOX.c.delivered_at,
            _OUTBOX.c.attempts,
            _OUTBOX.c.last_error,
        )
        .outerjoin(_OUTBOX, _OUTBOX.c.followup_id == _FOLLOWUPS.c.id)
        .where(_FOLLOWUPS.c.lead_id == lead_id)
        .order_by(_FOLLOWUPS.c.planned_at.desc(), _FOLLOWUPS.c.due_at.desc())
    ).all()
    return [
        {
            "id": row.id,
            "play": row.play,
            "channel": row.channel,
            "state": _state(row),
            "due_at": _iso(row.due_at),
            "planned_at": _iso(row.planned_at),
            "queued_at": _iso(row.queued_at),
            "sent_at": _iso(row.delivered_at),
            "clicked_at": _iso(row.clicked_at),
            "clicks": row.clicks,
            "stopped_at": _iso(row.stopped_at),
            "why": row.stop_reason
            or (
                "held out: the control group that gets no message"
                if row.status == "held_out"
                else (row.last_error if row.delivery == "dead" else None)
            ),
        }
        for row in rows
    ]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _state(row: Any) -> str:
    if row.status != "queued":
        return str(row.status).replace("_", " ")
    if row.clicked_at is not None:
        return "opened by click"
    if row.delivery == "delivered":
        return "sent"
    if row.delivery == "dead":
        return "failed"
    return "sending"


@dataclass(frozen=True)
class _Batch:
    """A planning batch: the reachable leads with ids in (``after``, ``last``].

    Reads join the batch's id range instead of listing its ids: thousands of
    bound ids cost more to build and bind than the rows they find.
    """

    after: str | None
    last: str

    def of(self, query: Select, lead_id: Any) -> Select:
        """``query`` limited to rows whose ``lead_id`` is a lead of the batch."""
        query = query.join(_LEADS, _LEADS.c.id == lead_id).where(
            *_reachable(), _LEADS.c.id <= self.last
        )
        return query if self.after is None else query.where(_LEADS.c.id > self.after)


def _shop_steps(
    connection: Connection, batch: _Batch
) -> tuple[dict[str, dict[str, datetime]], dict[str, tuple[str, datetime]]]:
    """Each lead's latest time of every step, and its latest variant picked, in one read.

    The variant is the latest select, cart or checkout naming one (on a tie, the
    event recorded last), as :meth:`FollowupPlanner._picked_variants` reads it.
    """
    steps: dict[str, dict[str, datetime]] = {}
    picked: dict[str, tuple[str, datetime, int]] = {}
    for row in connection.execute(
        batch.of(
            select(
                _EVENTS.c.id, _EVENTS.c.lead_id, _EVENTS.c.type, _EVENTS.c.ts, _EVENTS.c.variant_id
            ).where(_EVENTS.c.type.in_(_SHOP_EVENTS)),
            _EVENTS.c.lead_id,
        )
    ):
        if row.type in STEP_EVENTS:
            lead_steps = steps.setdefault(row.lead_id, {})
            if row.type not in lead_steps or row.ts > lead_steps[row.type]:
                lead_steps[row.type] = row.ts
        if row.type in VARIANT_EVENTS and row.variant_id is not None:
            latest = picked.get(row.lead_id)
            if latest is None or (row.ts, row.id) > (latest[1], latest[2]):
                picked[row.lead_id] = (row.variant_id, row.ts, row.id)
    return steps, {lead_id: (variant, ts) for lead_id, (variant, ts, _) in picked.items()}


def _reachable() -> tuple[Any, ...]:
    """Leads that may be planned for: consenting, not opted out, not merged, not closed."""
    return (
        _LEADS.c.consent_at.is_not(None),
        _LEADS.c.opted_out_at.is_(None),
        _LEADS.c.merged_into.is_(None),
        or_(_LEADS.c.status.is_(None), _LEADS.c.status.not_in(CLOSED_STATUSES)),
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _timeline_days(value: Any) -> int | None:
    days = value.get("days") if isinstance(value, dict) else None
    return days if isinstance(days, int) and not isinstance(days, bool) and days >= 0 else None


def _chosen_variant(
    answer: Any, picked: tuple[str, datetime] | None
) -> tuple[str | None, datetime | None]:
    """The variant answer if given (the shopper's words), else the latest one picked on the shop."""
    if answer is not None and isinstance(answer.value, str) and answer.value:
        return answer.value, answer.answered_at
    if picked is not None:
        return picked
    return None, None
