"""Deciding handoffs inside the write that caused them.

The lead service calls :meth:`HandoffPlanner.after_write` in the transaction that
stored a lead's new events and score, so a handoff and its outbox rows commit
(or roll back) together with the stage change or event that triggered them:
no handoff is lost between "the lead became hot" and "sales was told".

Rules:

* each trigger fires at most once per lead (a unique row per lead and trigger);
* a lead has at most one open handoff: a later, stronger trigger upgrades it
  (tighter SLA, notified again), a weaker one is only recorded;
* reps of the team are assigned round-robin, skipping those at capacity;
* "event without follow-up" triggers (checkout started, no purchase within N
  minutes) wait as timers that the outbox worker fires when due.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import Select

from bot.answers.budget import Budget
from bot.catalog import Catalog
from bot.catalog.rates import NO_RATES, RateTable
from bot.handoff import brief
from bot.handoff.config import STAGES, HandoffConfig, Team, Trigger
from bot.handoff.hours import promise
from bot.store.duplicates import duplicate_links, without_details
from bot.store.models import (
    OPEN_STATUSES,
    Answer,
    Handoff,
    HandoffTimer,
    HandoffTrigger,
    Lead,
    LeadEvent,
    OutboxMessage,
    TeamCursor,
)
from bot.store.views import lead_view

HANDOFF_EVENT = "lead.handoff"
ESCALATION_EVENT = "lead.handoff.escalated"
UPDATE_EVENT = "lead.handoff.updated"
# Storefront steps shown to sales as "what they looked at".
JOURNEY_EVENTS = ("product_view", "variant_select", "compare", "add_to_cart", "checkout_start")
# What the brief reads besides the journey: chat messages and a request for a person.
BRIEF_EVENTS = (*JOURNEY_EVENTS, "purchase", "human_requested")
BRIEF_EVENT_LIMIT = 50
BRIEF_MESSAGE_LIMIT = 20
# What sales were told about a lead: a change to any of these is an update.
BRIEFED_CONTACT = ("first_name", "last_name", "email", "phone", "company")
_SHOPPER_SOURCES = ("chat", "storefront")

_HANDOFFS = Handoff.__table__
_TRIGGERS = HandoffTrigger.__table__
_TIMERS = HandoffTimer.__table__
_OUTBOX = OutboxMessage.__table__
_CURSORS = TeamCursor.__table__


@dataclass(frozen=True)
class LeadWrite:
    """What one write did to a lead: the input of the trigger rules."""

    lead_id: str
    previous_stage: str
    stage: str
    events: Sequence[Any] = ()  # RecordEvent-like: type, ts, source
    answers: Sequence[Any] = ()  # RecordAnswer-like: key, value, status
    last_seen_before: datetime | None = None


@dataclass(frozen=True)
class HandoffNotice:
    """A lead's open handoff, as the bot tells the shopper about it."""

    handoff_id: str
    trigger: str
    sla: str
    team: str
    contact_by: datetime
    due_at: datetime
    promise: str
    # Opened or upgraded by this write, so sales are being notified (wakes the worker).
    notified_now: bool = False


@dataclass
class _Hit:
    trigger: Trigger
    at: datetime


@dataclass
class PlannerStats:
    """What a worker pass did (timers fired, handoffs escalated)."""

    fired: int = 0
    escalated: int = 0
    handoffs: list[str] = field(default_factory=list)


def ack_token(key: bytes, handoff_id: str) -> str:
    """The secret part of a handoff's acknowledgement link."""
    return hmac.new(key, f"ack:{handoff_id}".encode(), hashlib.sha256).hexdigest()[:32]


def _stage_rank(stage: str | None) -> int:
    return STAGES.index(stage) if stage in STAGES else 0


class HandoffPlanner:
    """Fires triggers, opens/upgrades handoffs and queues their notifications."""

    def __init__(
        self,
        config: HandoffConfig,
        *,
        public_url: str,
        signing_key: bytes,
        currency: str = "EUR",
        rates: RateTable = NO_RATES,
        catalog: Catalog | None = None,
    ) -> None:
        self.config = config
        # Names products and variants, with price and stock, in the brief.
        self.catalog = catalog
        self.public_url = public_url.rstrip("/")
        self.signing_key = signing_key
        self.currency = currency
        # A budget in another currency is compared in ``currency`` through these.
        self.rates = rates

    # -- the write path ------------------------------------------------------------

    def after_write(
        self, connection: Connection, writes: Iterable[LeadWrite], now: datetime
    ) -> dict[str, HandoffNotice]:
        """Apply the trigger rules to a write; returns each written lead's open handoff."""
        writes = list(writes)
        if not writes:
            return {}
        fired_before = self._fired(connection, [w.lead_id for w in writes])
        created: set[str] = set()
        for write in writes:
            hits = self._hits(connection, write, now, fired_before.get(write.lead_id, set()))
            for hit in sorted(hits, key=lambda h: h.trigger.rank):
                handoff_id = self.fire(connection, write.lead_id, hit.trigger, now)
                if handoff_id is not None:
                    created.add(handoff_id)
        notices = self.open_handoffs(connection, [w.lead_id for w in writes], now, created)
        self._notify_updates(connection, notices, created, now)
        return notices

    def after_edit(self, connection: Connection, lead_ids: Iterable[str], now: datetime) -> None:
        """Tell sales when a person or another system edited handed-off leads' details.

        An edit through the API fires no trigger, but its new contact details
        reach the open handoffs' channels as a chat write's do (one update,
        nothing when sales were told these details already).
        """
        notices = self.open_handoffs(connection, list(lead_ids), now)
        self._notify_updates(connection, notices, set(), now)

    def _fired(self, connection: Connection, lead_ids: list[str]) -> dict[str, set[str]]:
        fired: dict[str, set[str]] = {}
        for row in connection.execute(
            select(_TRIGGERS.c.lead_id, _TRIGGERS.c.trigger).where(
                _TRIGGERS.c.lead_id.in_(lead_ids)
            )
        ):
            fired.setdefault(row.lead_id, set()).add(row.trigger)
        return fired

    def _hits(
        self, connection: Connection, write: LeadWrite, now: datetime, fired: set[str]
    ) -> list[_Hit]:
        hits: list[_Hit] = []
        shopper_events = [
            e for e in write.events if getattr(e, "source", "chat") in _SHOPPER_SOURCES
        ]
        types = {e.type for e in shopper_events}
        for trigger in self.config.triggers:
            if trigger.name in fired:
                continue
            if trigger.min_stage is not None and _stage_rank(write.stage) < _stage_rank(
                trigger.min_stage
            ):
                continue
            if trigger.stage is not None:
                if (
                    _stage_rank(write.stage)
                    >= _stage_rank(trigger.stage)
                    > _stage_rank(write.previous_stage)
                ):
                    hits.append(_Hit(trigger, now))
            elif trigger.event is not None and trigger.no_followup is not None:
                starts = [e.ts for e in shopper_events if e.type == trigger.event]
                if starts and trigger.no_followup not in types:
                    self._start_timer(connection, write.lead_id, trigger, max(starts))
            elif trigger.event is not None:
                if trigger.event in types:
                    hits.append(_Hit(trigger, now))
            elif trigger.budget_at_least is not None:
                if any(
                    self._budget_at_least(answer.value, trigger.budget_at_least)
                    for answer in write.answers
                    if answer.key == "budget"
                ):
                    hits.append(_Hit(trigger, now))
            elif trigger.returning_after_hours is not None and write.last_seen_before is not None:
                gap = timedelta(hours=trigger.returning_after_hours)
                if any(e.ts - write.last_seen_before >= gap for e in shopper_events):
                    hits.append(_Hit(trigger, now))
        followups = {t.no_followup for t in self.config.triggers if t.no_followup in types}
        if followups:
            waiting = [t.name for t in self.config.triggers if t.no_followup in followups]
            connection.execute(
                delete(_TIMERS).where(
                    _TIMERS.c.lead_id == write.lead_id, _TIMERS.c.trigger.in_(waiting)
                )
            )
        return hits

    def _budget_at_least(self, value: Any, threshold: int) -> bool:
        """Whether the most the shopper will spend, in the shop currency, reaches ``threshold``."""
        said = Budget.of(value)
        budget = said.in_currency(self.currency, self.rates) if said is not None else None
        return budget is not None and budget.top >= threshold

    def _start_timer(
        self, connection: Connection, lead_id: str, trigger: Trigger, started_at: datetime
    ) -> None:
        exists = connection.execute(
            select(_TIMERS.c.id).where(
                _TIMERS.c.lead_id == lead_id, _TIMERS.c.trigger == trigger.name
            )
        ).first()
        if exists is not None:
            return
        try:
            with connection.begin_nested():
                connection.execute(
                    insert(_TIMERS).values(
                        lead_id=lead_id,
                        trigger=trigger.name,
                        started_at=started_at,
                        fire_at=started_at + timedelta(minutes=trigger.after_minutes),
                    )
                )
        except IntegrityError:
            return  # a concurrent write started the same timer

    # -- firing --------------------------------------------------------------------

    def fire(
        self, connection: Connection, lead_id: str, trigger: Trigger, now: datetime
    ) -> str | None:
        """Fire ``trigger`` for the lead (once ever); returns the handoff id it created or upgraded.

        ``None`` when the trigger had already fired, or a stronger handoff was open.
        """
        try:
            with connection.begin_nested():
                return self._fire(connection, lead_id, trigger, now)
        except IntegrityError:
            return None  # fired concurrently by another write

    def _fire(
        self, connection: Connection, lead_id: str, trigger: Trigger, now: datetime
    ) -> str | None:
        current = connection.execute(
            select(_HANDOFFS)
            .where(_HANDOFFS.c.lead_id == lead_id, _HANDOFFS.c.status.in_(OPEN_STATUSES))
            .order_by(_HANDOFFS.c.created_at.desc())
            .limit(1)
            .with_for_update()
        ).first()
        team = self.config.teams[trigger.team]
        reach = self._reach(connection, lead_id)
        plan = promise(team, trigger.sla, now, reach)
        if current is None:
            handoff_id = uuid.uuid4().hex
            assigned = self._assign(connection, team)
            connection.execute(
                insert(_HANDOFFS).values(
                    id=handoff_id,
                    lead_id=lead_id,
                    trigger=trigger.name,
                    team=team.name,
                    assigned_to=assigned,
                    sla=trigger.sla.name,
                    priority=trigger.rank,
                    status="open",
                    contact_by=plan.contact_by,
                    due_at=plan.due_at,
                    created_at=now,
                )
            )
            action = "created"
        else:
            handoff_id = current.id
            stronger = trigger.rank < current.priority
            connection.execute(
                insert(_TRIGGERS).values(
                    lead_id=lead_id, trigger=trigger.name, handoff_id=handoff_id, fired_at=now
                )
            )
            if not stronger:
                return None
            values: dict[str, Any] = {
                "trigger": trigger.name,
                "sla": trigger.sla.name,
                "priority": trigger.rank,
                "due_at": min(current.due_at, plan.due_at),
                "contact_by": min(current.contact_by, plan.contact_by),
                "upgraded_at": now,
            }
            if current.team != team.name:
                values["team"] = team.name
                values["assigned_to"] = self._assign(connection, team)
            connection.execute(
                update(_HANDOFFS).where(_HANDOFFS.c.id == handoff_id).values(**values)
            )
            action = "upgraded"
            self._notify(connection, handoff_id, HANDOFF_EVENT, action, team.channels, now)
            return handoff_id
        connection.execute(
            insert(_TRIGGERS).values(
                lead_id=lead_id, trigger=trigger.name, handoff_id=handoff_id, fired_at=now
            )
        )
        self._notify(connection, handoff_id, HANDOFF_EVENT, action, team.channels, now)
        return handoff_id

    def _reach(self, connection: Connection, lead_id: str) -> str:
        leads = Lead.__table__
        row = connection.execute(
            select(leads.c.email, leads.c.phone).where(leads.c.id == lead_id)
        ).one()
        if row.email:
            return "email you"
        if row.phone:
            return "call you"
        return "get back to you"

    def _assign(self, connection: Connection, team: Team) -> str | None:
        """Next rep after the team's last one who is under capacity (``None`` if all are full)."""
        try:
            with connection.begin_nested():
                connection.execute(insert(_CURSORS).values(team=team.name, last_rep=None))
        except IntegrityError:
            pass
        last = connection.execute(
            select(_CURSORS.c.last_rep).where(_CURSORS.c.team == team.name).with_for_update()
        ).scalar_one_or_none()
        load = dict(
            connection.execute(
                select(_HANDOFFS.c.assigned_to, func.count())
                .where(_HANDOFFS.c.team == team.name, _HANDOFFS.c.status.in_(OPEN_STATUSES))
                .group_by(_HANDOFFS.c.assigned_to)
            ).all()
        )
        names = [rep.name for rep in team.reps]
        start = names.index(last) + 1 if last in names else 0
        for offset in range(len(team.reps)):
            rep = team.reps[(start + offset) % len(team.reps)]
            if load.get(rep.name, 0) < rep.capacity:
                connection.execute(
                    update(_CURSORS).where(_CURSORS.c.team == team.name).values(last_rep=rep.name)
                )
                return rep.name
        return None

    # -- notifications -------------------------------------------------------------

    def _notify(
        self,
        connection: Connection,
        handoff_id: str,
        kind: str,
        action: str,
        channels: Iterable[str],
        now: datetime,
    ) -> None:
        channels = list(channels)
        if not channels:
            return
        payload = self.payload(connection, handoff_id, kind, action, now)
        priority = payload["handoff"]["priority"]
        connection.execute(
            insert(_OUTBOX),
            [
                {
                    "message_id": f"msg_{uuid.uuid4().hex}",
                    "handoff_id": handoff_id,
                    "channel": channel,
                    "kind": kind,
                    "priority": priority,
                    "payload": payload,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
                for channel in channels
            ],
        )

    def payload(
        self, connection: Connection, handoff_id: str, kind: str, action: str, now: datetime
    ) -> dict[str, Any]:
        """The notification body: the handoff, the lead JSON and what sales need to act."""
        handoff = connection.execute(select(_HANDOFFS).where(_HANDOFFS.c.id == handoff_id)).one()
        # Core rows carry the same attributes as the ORM objects the views read.
        leads, answers = Lead.__table__, Answer.__table__
        lead = connection.execute(select(leads).where(leads.c.id == handoff.lead_id)).one()
        current = connection.execute(
            select(answers)
            .where(answers.c.lead_id == lead.id, answers.c.superseded_at.is_(None))
            .order_by(answers.c.answered_at, answers.c.id)
        ).all()
        # Stored in the outbox: other leads by id only, their details could outlive an erasure.
        duplicates = without_details(duplicate_links(connection, [lead.id])[lead.id])
        lead_json = lead_view(lead, current, duplicates=duplicates)
        events = LeadEvent.__table__
        journey = [
            {
                "type": row.type,
                "product_id": row.product_id,
                "variant_id": row.variant_id,
                "at": row.ts.isoformat(),
            }
            for row in connection.execute(
                select(events.c.type, events.c.product_id, events.c.variant_id, events.c.ts)
                .where(events.c.lead_id == lead.id, events.c.type.in_(JOURNEY_EVENTS))
                .order_by(events.c.ts.desc(), events.c.id.desc())
                .limit(10)
            )
        ]
        handoff_json = {
            "id": handoff.id,
            "trigger": handoff.trigger,
            "sla": handoff.sla,
            "team": handoff.team,
            "assigned_to": handoff.assigned_to,
            "priority": handoff.priority,
            "status": handoff.status,
            "contact_by": handoff.contact_by.isoformat(),
            "due_at": handoff.due_at.isoformat(),
            "created_at": handoff.created_at.isoformat(),
        }
        team = self.config.teams.get(handoff.team)
        zone = team.timezone if team is not None else ZoneInfo("UTC")
        shop, chat = self._brief_history(connection, lead.id)
        return {
            "type": kind,
            "timestamp": now.isoformat(),
            "action": action,
            "trigger": handoff.trigger,
            "sla": handoff.sla,
            "sla_due_at": handoff.due_at.isoformat(),
            "handoff": handoff_json,
            "lead": lead_json,
            "journey": journey,
            "lead_url": f"{self.public_url}/leads/{lead.id}",
            "ack_url": f"{self.public_url}/handoffs/{handoff.id}/ack?token="
            + ack_token(self.signing_key, handoff.id),
            "summary": brief.summary(
                lead_json, events=shop, messages=chat, catalog=self.catalog, zone=zone
            ),
            "next_step": brief.next_step(
                lead_json, handoff_json, sla=self.config.slas.get(handoff.sla), zone=zone, now=now
            ),
        }

    def _brief_history(
        self, connection: Connection, lead_id: str
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The lead's latest shop events and chat messages, oldest first, for the brief."""
        events = LeadEvent.__table__
        shop = [
            {
                "type": row.type,
                "product_id": row.product_id,
                "variant_id": row.variant_id,
                "ts": row.ts.isoformat(),
            }
            for row in connection.execute(
                select(events.c.type, events.c.product_id, events.c.variant_id, events.c.ts)
                .where(events.c.lead_id == lead_id, events.c.type.in_(BRIEF_EVENTS))
                .order_by(events.c.ts.desc(), events.c.id.desc())
                .limit(BRIEF_EVENT_LIMIT)
            )
        ]
        chat = [
            {
                "sender": (row.properties or {}).get("sender"),
                "text": (row.properties or {}).get("text"),
            }
            for row in connection.execute(
                select(events.c.properties)
                .where(events.c.lead_id == lead_id, events.c.type == "chat_message")
                .order_by(events.c.ts.desc(), events.c.id.desc())
                .limit(BRIEF_MESSAGE_LIMIT)
            )
        ]
        return shop[::-1], chat[::-1]

    def _notify_updates(
        self,
        connection: Connection,
        notices: dict[str, HandoffNotice],
        created: set[str],
        now: datetime,
    ) -> None:
        """Tell sales once when a write gave a handed-off lead contact details or answers.

        Compared with what the handoff's latest notification said, so a repeated
        write (a retried chat turn) tells nothing new; a handoff nobody was
        notified of (no channel) and a closed one get no update.
        """
        for lead_id, notice in notices.items():
            if notice.handoff_id in created:
                continue  # just announced, with everything the write brought
            told = connection.execute(
                select(_OUTBOX.c.payload)
                .where(_OUTBOX.c.handoff_id == notice.handoff_id)
                .order_by(_OUTBOX.c.created_at.desc(), _OUTBOX.c.id.desc())
                .limit(1)
            ).scalar_one_or_none()
            team = self.config.teams.get(notice.team)
            if told is None or team is None:
                continue
            if _briefed(told.get("lead") or {}) == self._briefing(connection, lead_id):
                continue
            self._notify(connection, notice.handoff_id, UPDATE_EVENT, "updated", team.channels, now)

    @staticmethod
    def _briefing(connection: Connection, lead_id: str) -> dict[str, Any]:
        """The lead's contact details and answers, as :func:`_briefed` reads a notification."""
        leads, answers = Lead.__table__, Answer.__table__
        row = connection.execute(
            select(*(leads.c[name] for name in BRIEFED_CONTACT)).where(leads.c.id == lead_id)
        ).one()
        given = connection.execute(
            select(answers.c.key, answers.c.raw).where(
                answers.c.lead_id == lead_id,
                answers.c.superseded_at.is_(None),
                answers.c.status == "answered",
            )
        ).all()
        return {
            "contact": {name: row._mapping[name] for name in BRIEFED_CONTACT},
            "answers": {answer.key: answer.raw for answer in given},
        }

    # -- what the bot says -----------------------------------------------------------

    def open_handoffs(
        self,
        connection: Connection,
        lead_ids: list[str],
        now: datetime,
        created: set[str] = frozenset(),  # type: ignore[assignment]
    ) -> dict[str, HandoffNotice]:
        """Each lead's open handoff with the promise to make the shopper."""
        rows = connection.execute(
            select(_HANDOFFS)
            .where(_HANDOFFS.c.lead_id.in_(lead_ids), _HANDOFFS.c.status.in_(OPEN_STATUSES))
            .order_by(_HANDOFFS.c.created_at)
        ).all()
        notices: dict[str, HandoffNotice] = {}
        for row in rows:
            team = self.config.teams.get(row.team)
            trigger = next((t for t in self.config.triggers if t.name == row.trigger), None)
            if team is None or trigger is None:
                continue  # configuration changed since: the handoff stays, the promise is not made
            plan = promise(team, trigger.sla, now, self._reach(connection, row.lead_id))
            notices[row.lead_id] = HandoffNotice(
                handoff_id=row.id,
                trigger=row.trigger,
                sla=row.sla,
                team=row.team,
                contact_by=row.contact_by,
                due_at=row.due_at,
                promise=plan.text,
                notified_now=row.id in created,
            )
        return notices

    # -- the worker's periodic duties ----------------------------------------------

    def fire_due_timers(
        self, connection: Connection, now: datetime, limit: int = 500
    ) -> PlannerStats:
        """Fire "no follow-up" triggers whose wait is over (the follow-up deletes its timer).

        Several workers (one per web app) may run this at once: a timer fires for
        the worker whose DELETE removed it, never for one that found it gone (fired
        by another worker, or ended by its follow-up meanwhile). On PostgreSQL the
        due timers are claimed with ``FOR UPDATE SKIP LOCKED``, so workers take
        different timers instead of queueing behind each other's.
        """
        stats = PlannerStats()
        rows = connection.execute(
            _claimable(
                connection,
                select(_TIMERS)
                .where(_TIMERS.c.fire_at <= now)
                .order_by(_TIMERS.c.fire_at, _TIMERS.c.id)
                .limit(limit),
            )
        ).all()
        for row in rows:
            deleted = connection.execute(delete(_TIMERS).where(_TIMERS.c.id == row.id))
            if deleted.rowcount != 1:
                continue
            try:
                trigger = self.config.trigger(row.trigger)
            except KeyError:
                continue
            lead = connection.execute(
                select(Lead.__table__.c.merged_into).where(Lead.__table__.c.id == row.lead_id)
            ).one_or_none()
            if lead is None:
                continue
            lead_id = lead.merged_into or row.lead_id
            handoff_id = self.fire(connection, lead_id, trigger, now)
            stats.fired += 1
            if handoff_id is not None:
                stats.handoffs.append(handoff_id)
        return stats

    def escalate_overdue(
        self, connection: Connection, now: datetime, limit: int = 500
    ) -> PlannerStats:
        """Tell each team's fallback channels about unacknowledged handoffs past their SLA.

        Once per handoff with several workers: the handoff is escalated by the
        worker whose UPDATE still found it open and not escalated. On PostgreSQL
        the rows are claimed with ``FOR UPDATE SKIP LOCKED``: a handoff locked by
        another worker, or by sales acknowledging it, is left for the next pass,
        which sees what that transaction did.
        """
        stats = PlannerStats()
        overdue = (
            _HANDOFFS.c.status == "open",
            _HANDOFFS.c.due_at < now,
            _HANDOFFS.c.escalated_at.is_(None),
        )
        rows = connection.execute(
            _claimable(
                connection,
                select(_HANDOFFS.c.id, _HANDOFFS.c.team)
                .where(*overdue)
                .order_by(_HANDOFFS.c.due_at, _HANDOFFS.c.id)
                .limit(limit),
            )
        ).all()
        for row in rows:
            updated = connection.execute(
                update(_HANDOFFS).where(_HANDOFFS.c.id == row.id, *overdue).values(escalated_at=now)
            )
            if updated.rowcount != 1:
                continue
            team = self.config.teams.get(row.team)
            channels = team.escalate_to if team is not None else ()
            self._notify(connection, row.id, ESCALATION_EVENT, "escalated", channels, now)
            stats.escalated += 1
            stats.handoffs.append(row.id)
        return stats


def _claimable(connection: Connection, query: Select) -> Select:
    """``query`` locking the rows it returns and skipping rows others locked, where supported.

    SQLite has one writer at a time: a worker's transaction already excludes the others.
    """
    if connection.dialect.name == "postgresql":
        return query.with_for_update(skip_locked=True)
    return query


def _briefed(lead: dict[str, Any]) -> dict[str, Any]:
    """The contact details and answers a notification's lead JSON told sales."""
    return {
        "contact": {name: lead.get(name) for name in BRIEFED_CONTACT},
        "answers": {
            key: answer.get("raw")
            for key, answer in (lead.get("answers") or {}).items()
            if answer.get("status", "answered") == "answered"
        },
    }
