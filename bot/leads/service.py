"""The lead service: the one place a lead write goes.

A write of the chat, the storefront or a web form (answers, events, contact
details; see :mod:`bot.leads.commands`) is one transaction, opened here: the
store records the rows (:mod:`bot.store.writes`), the new answers and events
are folded into each lead's facts and scored by the pure scorer
(:mod:`bot.scoring`), the store keeps the score with its snapshot and stage
transition, and the handoff planner (:mod:`bot.handoff.planner`) opens
handoffs and queues their notifications, so all of it commits or rolls back
together. A confirmed merge (:mod:`bot.store.merge`) and a rescore of every
lead (decay, a new configuration) are scored here the same way. Reads are the
store's (:mod:`bot.store.queries`), served with each stage's reporting label.

Other tables, and lead fields no score depends on, have writers of their own,
each opening its transaction: the lead book (:mod:`bot.leads.book`: manual
entry, edits, conversion, erasure and purge) and the CSV import
(:mod:`bot.leads.csvimport`), both with the store's lead-management SQL
(:mod:`bot.store.entries`), the lead book sending a form's contact details and
merges through here; the sales desk's statuses, notes and acknowledgements
(:mod:`bot.store.sales`, which also loads the known outcomes of synthetic
histories, :mod:`bot.leads.synthetic`); API tokens (:mod:`bot.store.tokens`) and sales
sessions (:mod:`bot.store.websessions`); and the handoff outbox, whose worker
delivers notifications, fires timers and escalates (:mod:`bot.handoff.outbox`,
:mod:`bot.handoff.worker`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from bot import clock
from bot.handoff.planner import HandoffPlanner, LeadWrite
from bot.leads.commands import Command, RecordAnswer, RecordEvent, UpdateContact
from bot.leads.outcomes import (
    NoExchangeRate,
    OrderConflict,
    Purchase,
    Revenue,
    purchase_of_event,
    record_purchase,
)
from bot.leads.results import ApplyResult, LeadState, RescoreSummary
from bot.scoring import LeadFacts, Scorer, ScoreResult, facts_from_history
from bot.store import history, merge, orders, queries, writes
from bot.store.db import write_transaction
from bot.store.duplicates import link_duplicates
from bot.store.queries import INBOX_SORT, InboxPage, LeadFilters, LeadPage

logger = logging.getLogger(__name__)

# Who a purchase event's status change to Won is recorded as.
PURCHASE_ACTOR = "storefront purchase"
# A write that raced another one with the same ids is retried this many times in all.
DUPLICATE_RETRIES = 3
# PostgreSQL's codes of a transaction aborted only to be tried again: deadlock detected,
# serialization failure.
_RETRY_CODES = frozenset({"40P01", "40001"})


def _retryable(exc: IntegrityError | OperationalError) -> bool:
    """A duplicate (another writer stored the same rows first) or an abort to retry."""
    return isinstance(exc, IntegrityError) or getattr(exc.orig, "pgcode", None) in _RETRY_CODES


@dataclass
class _Touched:
    """New facts of one lead within a write, to fold into its score."""

    events: list[RecordEvent] = field(default_factory=list)
    answers: list[RecordAnswer] = field(default_factory=list)
    refold: bool = False
    new: bool = False
    causes: list[str] = field(default_factory=list)

    def cause(self) -> str:
        return ", ".join(dict.fromkeys(self.causes))[:120] or "update"


class LeadService:
    """Applies commands, merges and rescores leads, and serves lead views.

    Each call is one transaction. With a :class:`~bot.scoring.Scorer`, every
    write rescores the leads it touched in the same transaction: folding the
    new answers and events into the lead's facts, keeping a snapshot when the
    score changes and a stage transition (plus a ``stage_changed`` event) when
    the stage changes. With a :class:`~bot.handoff.planner.HandoffPlanner`, the
    write's handoffs are opened in it too. A ``purchase`` event with a value
    records its order (:mod:`bot.leads.outcomes`) last, in the same transaction:
    the lead becomes Won with its revenue in ``revenue``'s currency (by default
    the catalogue's, converted with the scorer's rates), and the handoffs open
    by then close with the outcome "won".
    """

    def __init__(
        self,
        engine: Engine,
        scorer: Scorer | None = None,
        handoffs: HandoffPlanner | None = None,
        revenue: Revenue | None = None,
    ) -> None:
        self._engine = engine
        self.scorer = scorer
        self.handoffs = handoffs
        if revenue is None:
            revenue = Revenue(scorer.catalog.currency, scorer.rates) if scorer else Revenue()
        self.revenue = revenue
        self._queries = queries.LeadQueries(engine, self._qualification)

    @property
    def engine(self) -> Engine:
        """The engine this service writes to."""
        return self._engine

    # -- writes --------------------------------------------------------------------------

    def apply(self, commands: Sequence[Command], *, now: datetime | None = None) -> ApplyResult:
        """Apply ``commands`` atomically; already-applied ones are skipped (idempotent).

        The store writes with Core statements (one multi-row insert for events):
        this runs on every chat turn and storefront batch, where ORM
        unit-of-work bookkeeping would dominate.

        Two writers sending the same event or answer at once (a page's fetch and
        its beacon) both find it new; on PostgreSQL the second then hits the
        unique id. Its transaction is retried, and finds the first's rows as
        duplicates. So is a transaction PostgreSQL aborts for a deadlock (two
        writers counting leads in the same rows of ``lead_counts``/``lead_hours``
        in opposite orders) or a serialization failure: it wrote nothing.
        """
        if not commands:
            return ApplyResult()
        now = now or clock.now()
        for attempt in range(1, DUPLICATE_RETRIES + 1):
            try:
                return self._apply(commands, now)
            except (IntegrityError, OperationalError) as exc:
                if attempt == DUPLICATE_RETRIES or not _retryable(exc):
                    raise
        raise AssertionError("unreachable")

    # Which ids of a write are stored already.
    _existing = staticmethod(writes.known_ids)

    def _apply(self, commands: Sequence[Command], now: datetime) -> ApplyResult:
        with write_transaction(self._engine) as connection:
            sources: dict[str, str] = {}
            for command in commands:
                sources.setdefault(
                    command.session_id,
                    command.source if isinstance(command, RecordEvent) else "chat",
                )
            lead_ids, created = writes.lead_ids(connection, sources, now)
            seen_events = self._existing(
                connection,
                writes.KNOWN_EVENT_IDS,
                [c.event_id for c in commands if isinstance(c, RecordEvent)],
            )
            seen_answers = self._existing(
                connection,
                writes.KNOWN_ANSWER_IDS,
                [c.answer_id for c in commands if isinstance(c, RecordAnswer)],
            )
            event_rows: list[dict[str, Any]] = []
            duplicates = 0
            touched: dict[str, _Touched] = {
                lead_id: _Touched(new=lead_id in created) for lead_id in lead_ids.values()
            }
            lead_changes: dict[str, dict[str, Any]] = {lead_id: {} for lead_id in lead_ids.values()}
            # E-mail addresses and phone numbers each lead was given in this write.
            identities: dict[str, dict[str, str]] = {}
            purchases: list[tuple[str, Purchase]] = []
            for command in commands:
                lead_id = lead_ids[command.session_id]
                if isinstance(command, RecordAnswer):
                    if command.answer_id not in seen_answers:
                        seen_answers.add(command.answer_id)
                        writes.record_answer(connection, lead_id, command)
                        touched[lead_id].answers.append(command)
                        touched[lead_id].causes.append(f"answer {command.key}")
                elif isinstance(command, RecordEvent):
                    if command.event_id in seen_events:
                        duplicates += 1
                        continue
                    seen_events.add(command.event_id)
                    event_rows.append(writes.event_row(lead_id, command, now))
                    touched[lead_id].events.append(command)
                    if command.type != "chat_message":
                        touched[lead_id].causes.append(f"{command.source} {command.type}")
                    lead_changes[lead_id].update(writes.flag_change(command.type, command.ts))
                    lead_changes[lead_id].update(writes.chat_change(command.source, command.ts))
                    purchase = purchase_of_event(command, self.revenue)
                    if purchase is not None:
                        purchases.append((lead_id, purchase))
                else:
                    changes = _contact_changes(command)
                    lead_changes[lead_id].update(changes)
                    given = {
                        name: changes[name] for name in ("email", "phone") if changes.get(name)
                    }
                    if given:
                        identities.setdefault(lead_id, {}).update(given)
            writes.insert_events(connection, event_rows)
            # With scoring, the score update below sets updated_at of every lead.
            writes.update_leads(connection, lead_changes, now, unchanged_too=self.scorer is None)
            # A chat (or a form through it) cannot prove who is typing: a known
            # e-mail address or phone links the lead to the one that has it, and
            # changes nothing on that lead (see bot.store.duplicates).
            for lead_id, given in identities.items():
                link_duplicates(connection, lead_id, given, now)
            states: dict[str, LeadState] = {}
            if self.scorer is not None:
                states = self._rescore_touched(connection, touched, now)
            # After the handoff planner: a handoff this write opened closes as won too.
            for lead_id, purchase in purchases:
                self._record_purchase(connection, lead_id, purchase, now)
        return ApplyResult(
            accepted_events=len(event_rows),
            duplicate_events=duplicates,
            leads={
                session: states[lead_id]
                for session, lead_id in lead_ids.items()
                if lead_id in states
            },
        )

    def _record_purchase(
        self, connection: Connection, lead_id: str, purchase: Purchase, now: datetime
    ) -> None:
        """Record a purchase event's order; one that cannot be counted leaves the event alone.

        The events API refuses such events up front (:mod:`bot.web.events`); other
        writers' events are kept for the journey, and the reason is logged.
        """
        try:
            record_purchase(
                connection,
                purchase,
                lead_id=lead_id,
                matched_by="session_id",
                revenue=self.revenue,
                by=PURCHASE_ACTOR,
                now=now,
            )
        except (OrderConflict, NoExchangeRate) as exc:
            logger.warning("purchase event of lead %s recorded without its order: %s", lead_id, exc)

    def _rescore_touched(
        self, connection: Connection, touched: dict[str, _Touched], now: datetime
    ) -> dict[str, LeadState]:
        assert self.scorer is not None
        rows = writes.scoring_state(connection, list(touched))
        states: dict[str, LeadState] = {}
        scores = writes.ScoreWrites()
        lead_writes: list[LeadWrite] = []
        for row in rows:
            news = touched[row.id]
            if news.refold or (row.score_facts is None and not news.new):
                facts = self.load_facts(connection, row.id)
                last_seen = None
            else:
                facts = LeadFacts.from_json(row.score_facts)
                last_seen = facts.activity[-1] if facts.activity else None
                facts.fold(news.events, news.answers)
            result = self.scorer.score(facts, now)
            scores.folded(row, _new_score(result), facts.to_json(), news.cause(), now)
            states[row.id] = LeadState(
                lead_id=row.id,
                session_id=row.session_id,
                stage=result.stage,
                previous_stage=row.stage,
                score=result.score,
                counts=facts.counts,
                picked_variant=facts.variant[0] if facts.variant else None,
            )
            lead_writes.append(
                LeadWrite(
                    lead_id=row.id,
                    previous_stage=row.stage,
                    stage=result.stage,
                    events=news.events,
                    answers=news.answers,
                    last_seen_before=(
                        datetime.fromtimestamp(last_seen, timezone.utc)
                        if last_seen is not None
                        else None
                    ),
                )
            )
        scores.flush(connection, now)
        if self.handoffs is not None:
            notices = self.handoffs.after_write(connection, lead_writes, now)
            states = {
                lead_id: replace(state, handoff=notices.get(lead_id))
                for lead_id, state in states.items()
            }
        return states

    def merge(
        self,
        connection: Connection,
        survivor: str,
        lead_id: str,
        *,
        by: str,
        now: datetime,
    ) -> None:
        """Merge lead ``lead_id`` into ``survivor`` (both surviving, locked by the caller).

        A person's decision (see :meth:`bot.leads.book.LeadBook.merge`):
        answers, events, snapshots, stage history, handoffs, notes, status
        changes, orders and follow-ups move to the survivor; the latest answer to
        each question is the current one; contact fields are only added where the
        survivor has none, never replaced; the survivor's revenue is the sum of
        both leads' orders and it is rescored on everything it now holds.
        """
        merge.merge_into(connection, survivor, lead_id, by=by, now=now)
        # The absorbed lead's orders are the survivor's now: its revenue is the sum of both.
        orders.recompute_revenue(connection, survivor, now)
        if self.scorer is not None:
            self._rescore_touched(
                connection, {survivor: _Touched(refold=True, causes=["merge"])}, now
            )

    def rescore_all(
        self,
        now: datetime | None = None,
        *,
        batch_size: int = 2000,
        cause: str = "rescore",
        id_range: tuple[str, str | None] = ("", None),
        everything: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> RescoreSummary:
        """Rescore every lead (for decay or a new configuration), one batch per transaction.

        Streams leads in id order (``id_range`` = [low, high) lets several
        processes share the work), so memory stays flat however many there are.
        For decay, only leads whose score can still change with time are read;
        ``everything`` rescores every lead (after a configuration or catalogue
        change).
        Safe while the servers write: a lead whose facts changed between reading
        and writing keeps the newer score its writer gave it (PostgreSQL also
        locks the batch's rows).
        """
        if self.scorer is None:
            raise RuntimeError("rescoring needs a lead service built with a scorer")
        now = now or clock.now()
        summary = RescoreSummary()
        last_id, high = id_range
        while True:
            with write_transaction(self._engine) as connection:
                fetched, seen, changed, stage_changes, last_id = self._rescore_batch(
                    connection, last_id, high, batch_size, cause, now, everything
                )
            if not fetched:
                return summary
            summary.leads += seen
            summary.changed += changed
            summary.stage_changes += stage_changes
            if progress is not None:
                progress(seen)

    def _rescore_batch(
        self,
        connection: Connection,
        after_id: str,
        high: str | None,
        limit: int,
        cause: str,
        now: datetime,
        everything: bool,
    ) -> tuple[int, int, int, int, str]:
        """Rescore one batch: (rows read, leads scored, changed, stage changes, last id)."""
        assert self.scorer is not None
        rows = writes.rescore_batch(connection, after_id, high, limit, everything=everything)
        if not rows:
            return 0, 0, 0, 0, after_id
        scores = writes.ScoreWrites()
        scored = 0
        for row in rows:
            if row.merged_into is not None:
                continue
            scored += 1
            if row.score_facts is None:
                facts = self.load_facts(connection, row.id)
                scores.rebuilt(row, facts.to_json())
            else:
                facts = LeadFacts.from_json(row.score_facts)
            scores.rescored(row, _new_score(self.scorer.score(facts, now)), cause, now)
        flushed = scores.flush(connection, now)
        # A lead can become hot with time alone (its purchase date comes closer) or
        # under a new configuration: the stage triggers hand it off like any write.
        if self.handoffs is not None and flushed.stage_changes:
            self.handoffs.after_write(
                connection,
                [
                    LeadWrite(lead_id=c.lead_id, previous_stage=c.from_stage, stage=c.to_stage)
                    for c in flushed.stage_changes
                ],
                now,
            )
        return len(rows), scored, flushed.rescored, len(flushed.stage_changes), rows[-1].id

    @staticmethod
    def load_facts(connection: Connection, lead_id: str) -> LeadFacts:
        """Rebuild a lead's facts from its stored events and current answers."""
        return facts_from_history(*history.lead_history(connection, lead_id))

    # -- reads ---------------------------------------------------------------------------

    def lead_state(self, session_id: str) -> LeadState | None:
        """The scoring state of a session's lead (``None`` before its first write)."""
        with self._engine.connect() as connection:
            lead = queries.session_lead(connection, session_id)
            if lead is None:
                return None
            handoff = (
                self.handoffs.open_handoffs(connection, [lead.id], clock.now()).get(lead.id)
                if self.handoffs is not None
                else None
            )
        facts = LeadFacts.from_json(lead.score_facts)
        return LeadState(
            lead_id=lead.id,
            session_id=session_id,
            stage=lead.stage,
            previous_stage=lead.stage,
            score=lead.score,
            counts=facts.counts,
            handoff=handoff,
            contact={
                name: value
                for name in ("first_name", "last_name", "email", "phone")
                if (value := getattr(lead, name))
            },
            picked_variant=facts.variant[0] if facts.variant else None,
        )

    def get_lead(self, lead_id: str) -> dict[str, Any] | None:
        """The lead's JSON view, or ``None``."""
        return self._queries.get_lead(lead_id)

    def get_lead_by_session(self, session_id: str) -> dict[str, Any] | None:
        """The lead of a chat/storefront session, or ``None``."""
        return self._queries.get_lead_by_session(session_id)

    def list_leads(
        self,
        filters: LeadFilters,
        *,
        limit: int = 50,
        cursor: str | None = None,
        sort: str = "created_at",
    ) -> LeadPage:
        """Leads in ``sort`` order (see :data:`bot.store.queries.LEAD_SORTS`), keyset-paginated."""
        return self._queries.list_leads(filters, limit=limit, cursor=cursor, sort=sort)

    def inbox(
        self, filters: LeadFilters, *, offset: int = 0, limit: int = 50, sort: str = INBOX_SORT
    ) -> InboxPage:
        """A page of the sales inbox (see :meth:`bot.store.queries.LeadQueries.inbox`)."""
        return self._queries.inbox(filters, offset=offset, limit=limit, sort=sort)

    def stage_counts(self, filters: LeadFilters) -> dict[str, int]:
        """How many leads of each stage ``filters`` keep."""
        return self._queries.stage_counts(filters)

    def answer_history(self, lead_id: str, key: str) -> list[dict[str, Any]]:
        """Every answer given to ``key``, oldest first."""
        return self._queries.answer_history(lead_id, key)

    def events(self, lead_id: str, types: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """The lead's events in time order, optionally only some types."""
        return self._queries.events(lead_id, types)

    def score_history(self, lead_id: str) -> dict[str, Any]:
        """Score snapshots and stage transitions of a lead, oldest first."""
        return self._queries.score_history(lead_id)

    def _qualification(self, stage: str) -> str | None:
        """The stage as marketing and sales tools name it (SQL, MQL), per the scoring config."""
        return self.scorer.config.report_label(stage) if self.scorer is not None else None


def _new_score(result: ScoreResult) -> writes.NewScore:
    return writes.NewScore(
        score=result.score,
        intent_score=result.intent_score,
        fit_score=result.fit_score,
        stage=result.stage,
        reasons=result.reasons_json(),
        decaying=result.changes_with_time,
    )


def _contact_changes(command: UpdateContact) -> dict[str, Any]:
    return {
        name: getattr(command, name)
        for name in writes.CONTACT_COLUMNS
        if getattr(command, name) is not None
    }
