"""Tables of the lead store.

A lead is one shopper, identified by the storefront/chat session id. Answers keep
their full history (a changed answer supersedes the previous row); events are the
shopper's chat behaviour and storefront journey, idempotent on ``event_id``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import declarative_base, relationship

from bot import clock
from bot.store.types import DecimalString, JSONType, UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)
Base: Any = declarative_base(metadata=metadata)

# Money: NUMERIC on PostgreSQL, exact text on SQLite (whose numbers are floats).
Money = Numeric(18, 4, asdecimal=True).with_variant(DecimalString(), "sqlite")

LEAD_STATUSES = (
    "New",
    "Contacted",
    "In Progress",
    "Qualified",
    "Proposal Sent",
    "Negotiation",
    "Lost",
    "Won",
)
LEAD_STAGES = ("cold", "warm", "hot")
# Where a person is in the buying relationship; it only moves forward.
LIFECYCLE_STAGES = ("visitor", "lead", "qualified_lead", "opportunity", "customer")
# Handoff statuses in which sales still owe the shopper a call.
OPEN_STATUSES = ("open", "acknowledged")


class Lead(Base):
    """One shopper; anonymous (session id only) until they consent to share contact details."""

    __tablename__ = "leads"
    __table_args__ = (
        Index("ix_leads_decaying_id", "decaying", "id"),
        # Keyset pagination of the lead list, one index per sort order.
        Index("ix_leads_created_at_id", "created_at", "id"),
        # With stage on PostgreSQL: the inbox's updated-range counts from the index alone.
        Index(
            "ix_leads_updated_at_id",
            "updated_at",
            "id",
            postgresql_include=["stage", "merged_into"],
        ),
        Index("ix_leads_score_id", "score", "id"),
        # The sales inbox: hot then warm leads by score, its status filter, its counts by stage.
        Index(
            "ix_leads_inbox_stage_score",
            "stage",
            "score",
            "id",
            sqlite_where=text("merged_into IS NULL"),
            postgresql_where=text("merged_into IS NULL"),
        ),
        Index(
            "ix_leads_inbox_status_stage_score",
            "status",
            "stage",
            "score",
            "id",
            sqlite_where=text("merged_into IS NULL"),
            postgresql_where=text("merged_into IS NULL"),
        ),
        # Not partial: PostgreSQL keeps statistics of whole-table index expressions only.
        Index(
            "ix_leads_inbox_source_stage_score", func.lower(text("source")), "stage", "score", "id"
        ),
        # The inbox's first leads: those with an open handoff, soonest due first.
        Index(
            "ix_leads_inbox_open_due_at",
            "open_due_at",
            "id",
            sqlite_where=text("open_due_at IS NOT NULL AND merged_into IS NULL"),
            postgresql_where=text("open_due_at IS NOT NULL AND merged_into IS NULL"),
        ),
        # The team and rep filters: each handed-off lead's stage without reading its row.
        Index(
            "ix_leads_inbox_id_stage",
            "id",
            "stage",
            sqlite_where=text("merged_into IS NULL"),
            postgresql_where=text("merged_into IS NULL"),
        ),
        # Partial: finds the few merged leads without tempting the planner to walk
        # every unmerged lead through this index for "merged_into IS NULL".
        Index(
            "ix_leads_merged_into",
            "merged_into",
            sqlite_where=text("merged_into IS NOT NULL"),
            postgresql_where=text("merged_into IS NOT NULL"),
        ),
        # The leads follow-ups may be planned for, walked by id (migration 0011).
        Index(
            "ix_leads_followup_reach_id",
            "id",
            sqlite_where=text(
                "consent_at IS NOT NULL AND opted_out_at IS NULL AND merged_into IS NULL"
            ),
            postgresql_where=text(
                "consent_at IS NOT NULL AND opted_out_at IS NULL AND merged_into IS NULL"
            ),
        ),
    )

    id = Column(String(32), primary_key=True)
    session_id = Column(String(128), nullable=False, unique=True)
    first_name = Column(String(80))
    last_name = Column(String(80))
    email = Column(String(254), index=True)
    phone = Column(String(20), index=True)
    company = Column(String(160))
    position = Column(String(120))
    address = Column(String(500))
    source = Column(String(40), nullable=False, default="chat")
    status = Column(String(20), nullable=False, default="New")
    stage = Column(String(10), nullable=False, default="cold")
    score = Column(Integer, nullable=False, default=0)
    intent_score = Column(Integer, nullable=False, default=0)
    fit_score = Column(Integer, nullable=False, default=0)
    reasons = Column(JSONType, nullable=False, default=list)
    consent_at = Column(UTCDateTime)
    consent_text = Column(Text)
    opted_out_at = Column(UTCDateTime)
    human_requested_at = Column(UTCDateTime)
    # The furthest lifecycle stage sales moved the lead to (see bot.store.lifecycle).
    lifecycle_stage = Column(String(20), nullable=False, default="visitor")
    customer_group = Column(String(64))
    converted_at = Column(UTCDateTime)
    # The sum of the lead's orders in ``revenue_currency`` (the shop's currency);
    # recomputed from its orders whenever one is added (see bot.store.orders).
    revenue = Column(Money)
    revenue_currency = Column(String(3))
    # When the shopper first wrote in the chat (a lead may start on the shop or a form).
    chatted_at = Column(UTCDateTime)
    # The soonest due time of the lead's open (unacknowledged) handoffs, kept by
    # triggers on handoffs (migration 0008): the inbox lists these leads first by it.
    open_due_at = Column(UTCDateTime)
    # Scoring: the facts summary the scorer reads (the scoring package's LeadFacts), bumped
    # on every fold so a concurrent ``rescore`` never overwrites a newer score.
    score_facts = Column(Text)
    facts_version = Column(Integer, nullable=False, default=0)
    # False once the score can no longer change with time alone (see
    # ScoreResult.changes_with_time): a decay rescore skips such leads.
    decaying = Column(Boolean, nullable=False, default=True)
    scored_at = Column(UTCDateTime)
    stage_changed_at = Column(UTCDateTime)
    # A lead absorbed into an earlier lead of the same person keeps its row (its
    # session still resolves to the survivor) but owns nothing any more.
    merged_into = Column(String(32), ForeignKey("leads.id"))
    created_at = Column(UTCDateTime, nullable=False, default=clock.now)
    updated_at = Column(UTCDateTime, nullable=False, default=clock.now, onupdate=clock.now)

    answers = relationship(
        "Answer", back_populates="lead", cascade="all, delete-orphan", passive_deletes=True
    )
    events = relationship(
        "LeadEvent", back_populates="lead", cascade="all, delete-orphan", passive_deletes=True
    )


class Answer(Base):
    """One answer to a qualification question; superseded rows are the answer's history."""

    __tablename__ = "answers"
    __table_args__ = (Index("ix_answers_lead_id_key", "lead_id", "key"),)

    id = Column(Integer, primary_key=True, autoincrement=True)
    lead_id = Column(String(32), ForeignKey("leads.id", ondelete="CASCADE"), nullable=False)
    answer_id = Column(String(160), nullable=False, unique=True)
    key = Column(String(64), nullable=False)
    raw = Column(Text, nullable=False)
    value = Column(JSONType)
    status = Column(String(16), nullable=False, default="answered")
    answered_at = Column(UTCDateTime, nullable=False)
    superseded_at = Column(UTCDateTime)

    lead = relationship("Lead", back_populates="answers")


class LeadEvent(Base):
    """A chat-behaviour or storefront event; ``event_id`` makes every write idempotent."""

    __tablename__ = "lead_events"
    __table_args__ = (Index("ix_lead_events_lead_id_ts", "lead_id", "ts"),)

    id = Column(Integer, primary_key=True, autoincrement=True)
    event_id = Column(String(160), nullable=False, unique=True)
    lead_id = Column(String(32), ForeignKey("leads.id", ondelete="CASCADE"), nullable=False)
    type = Column(String(64), nullable=False)
    source = Column(String(16), nullable=False, default="chat")
    ts = Column(UTCDateTime, nullable=False)
    product_id = Column(String(120))
    variant_id = Column(String(120))
    value = Column(DecimalString)
    properties = Column(JSONType, nullable=False, default=dict)
    created_at = Column(UTCDateTime, nullable=False, default=clock.now)

    lead = relationship("Lead", back_populates="events")


class ScoreSnapshot(Base):
    """The lead's score after a change, with what caused it."""

    __tablename__ = "score_snapshots"
    __table_args__ = (Index("ix_score_snapshots_lead_id_created_at", "lead_id", "created_at"),)

    id = Column(Integer, primary_key=True, autoincrement=True)
    lead_id = Column(String(32), ForeignKey("leads.id", ondelete="CASCADE"), nullable=False)
    score = Column(Integer, nullable=False)
    intent_score = Column(Integer, nullable=False)
    fit_score = Column(Integer, nullable=False)
    stage = Column(String(10), nullable=False)
    reasons = Column(JSONType, nullable=False, default=list)
    cause = Column(String(120), nullable=False)
    created_at = Column(UTCDateTime, nullable=False)


class StageTransition(Base):
    """A change of stage (cold/warm/hot); handoff rules react to these."""

    __tablename__ = "stage_transitions"
    __table_args__ = (Index("ix_stage_transitions_lead_id_at", "lead_id", "at"),)

    id = Column(Integer, primary_key=True, autoincrement=True)
    lead_id = Column(String(32), ForeignKey("leads.id", ondelete="CASCADE"), nullable=False)
    from_stage = Column(String(10), nullable=False)
    to_stage = Column(String(10), nullable=False)
    score = Column(Integer, nullable=False)
    cause = Column(String(120), nullable=False)
    at = Column(UTCDateTime, nullable=False, index=True)


class LeadMerge(Base):
    """Two leads of the same person merged: the absorbed one's history moved to the survivor."""

    __tablename__ = "lead_merges"

    id = Column(Integer, primary_key=True, autoincrement=True)
    survivor_id = Column(String(32), ForeignKey("leads.id", ondelete="CASCADE"), nullable=False)
    absorbed_id = Column(String(32), ForeignKey("leads.id", ondelete="CASCADE"), nullable=False)
    absorbed_session_id = Column(String(128), nullable=False)
    reason = Column(String(120), nullable=False)
    merged_at = Column(UTCDateTime, nullable=False)
    # Who decided the two leads are one person (empty on merges the chat made by e-mail
    # before merges needed a person's decision).
    merged_by = Column(String(120))


class LeadDuplicate(Base):
    """A lead that named an e-mail address or phone number another lead already had.

    Nobody proves who they are in a chat or on the public web form, so such a lead
    is never folded into the other one: it stays a lead of its own, linked here as a
    likely duplicate, until sales merge the two (or not).
    """

    __tablename__ = "lead_duplicates"
    __table_args__ = (
        UniqueConstraint(
            "lead_id",
            "duplicate_of",
            "matched_on",
            name="uq_lead_duplicates_lead_id_duplicate_of_matched_on",
        ),
        Index("ix_lead_duplicates_duplicate_of", "duplicate_of"),
    )

    id = Column(Integer, primary_key=True, autoincrement=True)
    # The lead that named the value ...
    lead_id = Column(String(32), ForeignKey("leads.id", ondelete="CASCADE"), nullable=False)
    # ... and the earlier lead that already had it.
    duplicate_of = Column(String(32), ForeignKey("leads.id", ondelete="CASCADE"), nullable=False)
    # "email" or "phone".
    matched_on = Column(String(16), nullable=False)
    found_at = Column(UTCDateTime, nullable=False)


class LeadNote(Base):
    """A salesperson's note on a lead."""

    __tablename__ = "lead_notes"
    __table_args__ = (Index("ix_lead_notes_lead_id_created_at", "lead_id", "created_at"),)

    id = Column(Integer, primary_key=True, autoincrement=True)
    lead_id = Column(String(32), ForeignKey("leads.id", ondelete="CASCADE"), nullable=False)
    author = Column(String(120), nullable=False)
    text = Column(Text, nullable=False)
    created_at = Column(UTCDateTime, nullable=False)


class LeadStatusChange(Base):
    """A change of the sales status (New … Won/Lost): who, when and why."""

    __tablename__ = "lead_status_changes"
    __table_args__ = (Index("ix_lead_status_changes_lead_id_at", "lead_id", "at"),)

    id = Column(Integer, primary_key=True, autoincrement=True)
    lead_id = Column(String(32), ForeignKey("leads.id", ondelete="CASCADE"), nullable=False)
    from_status = Column(String(20), nullable=False)
    to_status = Column(String(20), nullable=False)
    changed_by = Column(String(120), nullable=False)
    reason = Column(Text)
    at = Column(UTCDateTime, nullable=False)


class LeadCount(Base):
    """Unmerged leads per stage, status and lowered source, kept by triggers (migration 0008).

    The inbox's counts per stage, read without counting the leads.
    """

    __tablename__ = "lead_counts"

    stage = Column(String(10), primary_key=True)
    status = Column(String(20), primary_key=True)
    source = Column(String(40), primary_key=True)
    leads = Column(Integer, nullable=False)


class LeadHour(Base):
    """Unmerged leads per UTC hour of creation, stage and score band (migration 0008).

    Kept by triggers on leads and handoffs: ``band`` is the lowest score of the
    band; ``chatted``, ``qualified``, ``won`` and ``handed`` count the leads of the
    row that are so.
    """

    __tablename__ = "lead_hours"

    hour = Column(UTCDateTime, primary_key=True)
    stage = Column(String(10), primary_key=True)
    band = Column(Integer, primary_key=True, autoincrement=False)
    leads = Column(Integer, nullable=False)
    chatted = Column(Integer, nullable=False)
    qualified = Column(Integer, nullable=False)
    won = Column(Integer, nullable=False)
    handed = Column(Integer, nullable=False)


class LeadHourReason(Base):
    """Hot leads per UTC hour of creation and first-ranked scoring rule, with its points."""

    __tablename__ = "lead_hour_reasons"

    hour = Column(UTCDateTime, primary_key=True)
    rule = Column(String(120), primary_key=True)
    leads = Column(Integer, nullable=False)
    points = Column(Integer, nullable=False)


HANDOFF_STATUSES = ("open", "acknowledged", "closed")


class Handoff(Base):
    """A lead handed to a sales team, with its SLA deadline and assigned rep."""

    __tablename__ = "handoffs"
    __table_args__ = (
        Index("ix_handoffs_lead_id_status", "lead_id", "status"),
        Index("ix_handoffs_status_due_at", "status", "due_at"),
        Index("ix_handoffs_team_assigned_to_status", "team", "assigned_to", "status"),
        Index("ix_handoffs_assigned_to_status", "assigned_to", "status"),
        # The inbox's team and rep filters read a team's or rep's leads from these alone.
        Index("ix_handoffs_team_lead_id", "team", "lead_id"),
        Index("ix_handoffs_assigned_to_lead_id", "assigned_to", "lead_id"),
    )

    id = Column(String(32), primary_key=True)
    lead_id = Column(String(32), ForeignKey("leads.id", ondelete="CASCADE"), nullable=False)
    trigger = Column(String(64), nullable=False)
    team = Column(String(64), nullable=False)
    assigned_to = Column(String(120))
    sla = Column(String(64), nullable=False)
    priority = Column(Integer, nullable=False)
    status = Column(String(16), nullable=False, default="open")
    contact_by = Column(UTCDateTime, nullable=False)
    due_at = Column(UTCDateTime, nullable=False)
    created_at = Column(UTCDateTime, nullable=False)
    upgraded_at = Column(UTCDateTime)
    acknowledged_at = Column(UTCDateTime)
    acknowledged_by = Column(String(120))
    escalated_at = Column(UTCDateTime)
    closed_at = Column(UTCDateTime)
    # Why it closed: "won" when the shopper bought (see bot.leads.outcomes).
    outcome = Column(String(16))


class HandoffTrigger(Base):
    """A trigger that fired for a lead: each fires at most once per lead."""

    __tablename__ = "handoff_triggers"
    __table_args__ = (
        UniqueConstraint("lead_id", "trigger", name="uq_handoff_triggers_lead_id_trigger"),
    )

    id = Column(Integer, primary_key=True, autoincrement=True)
    lead_id = Column(String(32), ForeignKey("leads.id", ondelete="CASCADE"), nullable=False)
    trigger = Column(String(64), nullable=False)
    handoff_id = Column(String(32), ForeignKey("handoffs.id", ondelete="CASCADE"), nullable=False)
    fired_at = Column(UTCDateTime, nullable=False)


class HandoffTimer(Base):
    """A trigger waiting to see whether a follow-up event comes (checkout without purchase)."""

    __tablename__ = "handoff_timers"
    __table_args__ = (
        UniqueConstraint("lead_id", "trigger", name="uq_handoff_timers_lead_id_trigger"),
    )

    id = Column(Integer, primary_key=True, autoincrement=True)
    lead_id = Column(String(32), ForeignKey("leads.id", ondelete="CASCADE"), nullable=False)
    trigger = Column(String(64), nullable=False)
    started_at = Column(UTCDateTime, nullable=False)
    fire_at = Column(UTCDateTime, nullable=False, index=True)


class TeamCursor(Base):
    """The rep who got a team's latest handoff (round-robin position)."""

    __tablename__ = "team_cursors"

    team = Column(String(64), primary_key=True)
    last_rep = Column(String(120))


class OutboxMessage(Base):
    """A notification to deliver, written in the same transaction as its handoff.

    ``message_id`` is the ``webhook-id``: every attempt of one message carries
    the same id, so receivers can drop duplicates.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_status_priority_next_attempt_at", "status", "priority", "next_attempt_at"),
    )

    id = Column(Integer, primary_key=True, autoincrement=True)
    message_id = Column(String(64), nullable=False, unique=True)
    # A notification to sales belongs to a handoff; a message to the shopper to a follow-up.
    handoff_id = Column(String(32), ForeignKey("handoffs.id", ondelete="CASCADE"), index=True)
    followup_id = Column(String(32), ForeignKey("followups.id", ondelete="CASCADE"), index=True)
    channel = Column(String(64), nullable=False)
    kind = Column(String(40), nullable=False)
    priority = Column(Integer, nullable=False)
    payload = Column(JSONType, nullable=False)
    status = Column(String(16), nullable=False, default="pending")
    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(UTCDateTime, nullable=False)
    locked_until = Column(UTCDateTime)
    last_status_code = Column(Integer)
    last_error = Column(Text)
    created_at = Column(UTCDateTime, nullable=False)
    delivered_at = Column(UTCDateTime)
    dead_at = Column(UTCDateTime)


FOLLOWUP_STATUSES = ("planned", "queued", "stopped", "held_out")


class Followup(Base):
    """A follow-up play for a lead: planned, queued in the outbox, stopped, or held out.

    One row per lead and play (a play is sent at most once per lead). ``held_out``
    rows are the seeded control group: due, never sent, kept so outcomes can be
    compared. The message itself is the outbox row pointing here (its
    ``delivered_at`` is when it was sent); ``clicked_at`` is the first click on a
    link in it.
    """

    __tablename__ = "followups"
    __table_args__ = (
        UniqueConstraint("lead_id", "play", name="uq_followups_lead_id_play"),
        Index("ix_followups_status_due_at", "status", "due_at"),
    )

    id = Column(String(32), primary_key=True)
    lead_id = Column(String(32), ForeignKey("leads.id", ondelete="CASCADE"), nullable=False)
    play = Column(String(64), nullable=False)
    status = Column(String(16), nullable=False)
    channel = Column(String(64), nullable=False)
    template = Column(String(64), nullable=False)
    priority = Column(Integer, nullable=False)
    # When the play's conditions became true (the cart was left, the SLA passed …).
    signal_at = Column(UTCDateTime, nullable=False)
    due_at = Column(UTCDateTime, nullable=False)
    planned_at = Column(UTCDateTime, nullable=False)
    queued_at = Column(UTCDateTime)
    stopped_at = Column(UTCDateTime)
    stop_reason = Column(Text)
    clicked_at = Column(UTCDateTime)
    clicks = Column(Integer, nullable=False, default=0)


class DeliveryAttempt(Base):
    """One try at delivering an outbox message: the delivery log."""

    __tablename__ = "delivery_attempts"
    __table_args__ = (Index("ix_delivery_attempts_outbox_id_attempt", "outbox_id", "attempt"),)

    id = Column(Integer, primary_key=True, autoincrement=True)
    outbox_id = Column(Integer, ForeignKey("outbox.id", ondelete="CASCADE"), nullable=False)
    attempt = Column(Integer, nullable=False)
    started_at = Column(UTCDateTime, nullable=False)
    duration_ms = Column(Integer, nullable=False)
    status_code = Column(Integer)
    error = Column(Text)
    outcome = Column(String(16), nullable=False)


class ChannelState(Base):
    """A channel switched off (its endpoint answered 410 Gone) until re-enabled."""

    __tablename__ = "channel_states"

    channel = Column(String(64), primary_key=True)
    disabled_at = Column(UTCDateTime, nullable=False)
    reason = Column(Text, nullable=False)


class Order(Base):
    """An order the shop reported (order webhook or ``purchase`` event), stored once.

    Unique per (``source``, ``order_id``); ``payload_hash`` (SHA-256 of the order's
    canonical fields) tells a redelivery from another order reusing the id. An order
    no lead matched keeps ``lead_id`` empty: the revenue is real even if unattributed.
    """

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("source", "order_id", name="uq_orders_source_order_id"),
        Index("ix_orders_lead_id_ordered_at", "lead_id", "ordered_at"),
        Index("ix_orders_ordered_at", "ordered_at"),
    )

    id = Column(Integer, primary_key=True, autoincrement=True)
    source = Column(String(40), nullable=False)
    order_id = Column(String(160), nullable=False)
    lead_id = Column(String(32), ForeignKey("leads.id", ondelete="CASCADE"))
    # How the lead was found: "session_id", "lead_id" or "email".
    matched_by = Column(String(16))
    value = Column(Money, nullable=False)
    currency = Column(String(3), nullable=False)
    # ``value`` in the shop's currency at the rates of the day it came in.
    shop_value = Column(Money, nullable=False)
    shop_currency = Column(String(3), nullable=False)
    product_id = Column(String(120))
    variant_id = Column(String(120))
    sku = Column(String(120))
    quantity = Column(Integer, nullable=False, default=1)
    ordered_at = Column(UTCDateTime, nullable=False)
    received_at = Column(UTCDateTime, nullable=False)
    payload_hash = Column(String(64), nullable=False)


class ApiToken(Base):
    """An API token with scopes; only its SHA-256 hash is stored."""

    __tablename__ = "api_tokens"

    id = Column(String(32), primary_key=True)
    name = Column(String(80), nullable=False, unique=True)
    token_hash = Column(String(64), nullable=False, unique=True)
    # The first characters of the token, shown in listings to tell tokens apart.
    prefix = Column(String(12), nullable=False)
    scopes = Column(JSONType, nullable=False)
    created_at = Column(UTCDateTime, nullable=False)
    last_used_at = Column(UTCDateTime)
    revoked_at = Column(UTCDateTime)


class Erasure(Base):
    """What is left of an erased lead: no personal data, only that it existed and when it went."""

    __tablename__ = "erasures"

    id = Column(Integer, primary_key=True, autoincrement=True)
    lead_id = Column(String(32), nullable=False, unique=True)
    lead_created_at = Column(UTCDateTime, nullable=False)
    erased_at = Column(UTCDateTime, nullable=False, index=True)
    # "request" (the person asked), "purge" (anonymous and inactive), "delete" (API DELETE).
    reason = Column(String(16), nullable=False)
    requested_by = Column(String(120), nullable=False)
    removed = Column(JSONType, nullable=False, default=dict)


class SalesSession(Base):
    """A browser signed in to the lead pages; only the SHA-256 hash of its cookie is stored.

    Signing out ends the row; the token that signed in is named by its hash, so a
    session lasts only while that token does (changed or revoked: ended).
    """

    __tablename__ = "sales_sessions"

    id = Column(String(64), primary_key=True)
    name = Column(String(120), nullable=False)
    token_hash = Column(String(64), nullable=False, index=True)
    created_at = Column(UTCDateTime, nullable=False)
    expires_at = Column(UTCDateTime, nullable=False, index=True)
    ended_at = Column(UTCDateTime)


class ConversationEvent(Base):
    """A Rasa conversation event as the event broker delivered it, stored once.

    ``dedup_key`` is computed from the event itself (``bot.conversations.keys``):
    a redelivery, a publisher's resend and a ``rasa export`` replay of the same
    event all give the same key, so the insert of a second copy does nothing.
    """

    __tablename__ = "conversation_events"
    __table_args__ = (
        Index("ix_conversation_events_sender_id_timestamp", "sender_id", "timestamp"),
        Index("ix_conversation_events_timestamp", "timestamp"),
    )

    id = Column(Integer, primary_key=True, autoincrement=True)
    dedup_key = Column(String(64), nullable=False, unique=True)
    sender_id = Column(String(255), nullable=False)
    # Rasa's event type ("user", "bot", "action", "slot", ...).
    type_name = Column(String(64), nullable=False)
    # Rasa's timestamp: Unix seconds, as in the tracker store's events table.
    timestamp = Column(Float, nullable=False)
    intent_name = Column(String(255))
    intent_confidence = Column(Float)
    action_name = Column(String(255))
    # The event's JSON without the ``sender_id`` the publisher adds.
    data = Column(Text, nullable=False)
    # "broker" (the consumer) or "tracker" (filled in by reconcile).
    source = Column(String(16), nullable=False)
    received_at = Column(UTCDateTime, nullable=False)
    # Set by reconcile when the tracker store never kept the event (published, then the
    # turn failed before its commit); such events count in no rollup.
    orphaned_at = Column(UTCDateTime)


class ConversationRollup(Base):
    """One conversation's figures for analytics, recomputed with every write of its events."""

    __tablename__ = "conversation_rollups"

    sender_id = Column(String(255), primary_key=True)
    # The lead of the conversation's session (the surviving lead after a merge), if any.
    lead_id = Column(String(32))
    events = Column(Integer, nullable=False, default=0)
    first_timestamp = Column(Float)
    last_timestamp = Column(Float)
    user_messages = Column(Integer, nullable=False, default=0)
    bot_messages = Column(Integer, nullable=False, default=0)
    # Shopper messages the assistant did not understand: intent nlu_fallback, or a
    # confidence under the FallbackClassifier threshold.
    fallbacks = Column(Integer, nullable=False, default=0)
    last_intent = Column(String(255))
    updated_at = Column(UTCDateTime, nullable=False)


class ConversationDeadLetter(Base):
    """A broker message that is not a Rasa event, kept for inspection instead of retried."""

    __tablename__ = "conversation_dead_letters"

    id = Column(Integer, primary_key=True, autoincrement=True)
    reason = Column(Text, nullable=False)
    # The message body (decoded as UTF-8 with replacement characters), cut at 64 KiB.
    body = Column(Text, nullable=False)
    received_at = Column(UTCDateTime, nullable=False, index=True)
