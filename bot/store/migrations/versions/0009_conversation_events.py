"""Conversation events from Rasa's event broker, stored once, with per-conversation figures.

- ``conversation_events``: every event the consumer (``python -m bot events consume``)
  took from the RabbitMQ queue, unique on a key computed from the event itself, so a
  redelivered or replayed event is stored once; ``orphaned_at`` marks events the
  tracker store never kept (``python -m bot events reconcile``).
- ``conversation_rollups``: per conversation (sender id) the counts analytics read,
  recomputed in the transaction that stores the conversation's events.
- ``conversation_dead_letters``: messages that are not Rasa events, parked.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "conversation_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dedup_key", sa.String(64), nullable=False),
        sa.Column("sender_id", sa.String(255), nullable=False),
        sa.Column("type_name", sa.String(64), nullable=False),
        sa.Column("timestamp", sa.Float(), nullable=False),
        sa.Column("intent_name", sa.String(255)),
        sa.Column("intent_confidence", sa.Float()),
        sa.Column("action_name", sa.String(255)),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("received_at", utc(), nullable=False),
        sa.Column("orphaned_at", utc()),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation_events")),
        sa.UniqueConstraint("dedup_key", name=op.f("uq_conversation_events_dedup_key")),
    )
    op.create_index(
        "ix_conversation_events_sender_id_timestamp",
        "conversation_events",
        ["sender_id", "timestamp"],
    )
    op.create_index("ix_conversation_events_timestamp", "conversation_events", ["timestamp"])
    op.create_table(
        "conversation_rollups",
        sa.Column("sender_id", sa.String(255), nullable=False),
        sa.Column("lead_id", sa.String(32)),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("first_timestamp", sa.Float()),
        sa.Column("last_timestamp", sa.Float()),
        sa.Column("user_messages", sa.Integer(), nullable=False),
        sa.Column("bot_messages", sa.Integer(), nullable=False),
        sa.Column("fallbacks", sa.Integer(), nullable=False),
        sa.Column("last_intent", sa.String(255)),
        sa.Column("updated_at", utc(), nullable=False),
        sa.PrimaryKeyConstraint("sender_id", name=op.f("pk_conversation_rollups")),
    )
    op.create_table(
        "conversation_dead_letters",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("received_at", utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation_dead_letters")),
    )
    op.create_index(
        "ix_conversation_dead_letters_received_at", "conversation_dead_letters", ["received_at"]
    )


def downgrade() -> None:
    op.drop_index(
        "ix_conversation_dead_letters_received_at", table_name="conversation_dead_letters"
    )
    op.drop_table("conversation_dead_letters")
    op.drop_table("conversation_rollups")
    op.drop_index("ix_conversation_events_timestamp", table_name="conversation_events")
    op.drop_index(
        "ix_conversation_events_sender_id_timestamp", table_name="conversation_events"
    )
    op.drop_table("conversation_events")
