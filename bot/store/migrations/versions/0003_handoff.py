"""Handoff to sales: handoffs, fired triggers, timers, the outbox and its delivery log, notes and status history.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _lead_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["lead_id"], ["leads.id"], name=op.f(f"fk_{table}_lead_id_leads"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "lead_notes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("lead_id", sa.String(32), nullable=False),
        sa.Column("author", sa.String(120), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", utc(), nullable=False),
        _lead_fk("lead_notes"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_notes")),
    )
    op.create_index("ix_lead_notes_lead_id_created_at", "lead_notes", ["lead_id", "created_at"])
    op.create_table(
        "lead_status_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("lead_id", sa.String(32), nullable=False),
        sa.Column("from_status", sa.String(20), nullable=False),
        sa.Column("to_status", sa.String(20), nullable=False),
        sa.Column("changed_by", sa.String(120), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("at", utc(), nullable=False),
        _lead_fk("lead_status_changes"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_status_changes")),
    )
    op.create_index("ix_lead_status_changes_lead_id_at", "lead_status_changes", ["lead_id", "at"])
    op.create_table(
        "handoffs",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("lead_id", sa.String(32), nullable=False),
        sa.Column("trigger", sa.String(64), nullable=False),
        sa.Column("team", sa.String(64), nullable=False),
        sa.Column("assigned_to", sa.String(120)),
        sa.Column("sla", sa.String(64), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("contact_by", utc(), nullable=False),
        sa.Column("due_at", utc(), nullable=False),
        sa.Column("created_at", utc(), nullable=False),
        sa.Column("upgraded_at", utc()),
        sa.Column("acknowledged_at", utc()),
        sa.Column("acknowledged_by", sa.String(120)),
        sa.Column("escalated_at", utc()),
        sa.Column("closed_at", utc()),
        _lead_fk("handoffs"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoffs")),
    )
    op.create_index("ix_handoffs_lead_id_status", "handoffs", ["lead_id", "status"])
    op.create_index("ix_handoffs_status_due_at", "handoffs", ["status", "due_at"])
    op.create_index(
        "ix_handoffs_team_assigned_to_status", "handoffs", ["team", "assigned_to", "status"]
    )
    op.create_table(
        "handoff_triggers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("lead_id", sa.String(32), nullable=False),
        sa.Column("trigger", sa.String(64), nullable=False),
        sa.Column("handoff_id", sa.String(32), nullable=False),
        sa.Column("fired_at", utc(), nullable=False),
        _lead_fk("handoff_triggers"),
        sa.ForeignKeyConstraint(
            ["handoff_id"],
            ["handoffs.id"],
            name=op.f("fk_handoff_triggers_handoff_id_handoffs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoff_triggers")),
        sa.UniqueConstraint("lead_id", "trigger", name="uq_handoff_triggers_lead_id_trigger"),
    )
    op.create_table(
        "handoff_timers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("lead_id", sa.String(32), nullable=False),
        sa.Column("trigger", sa.String(64), nullable=False),
        sa.Column("started_at", utc(), nullable=False),
        sa.Column("fire_at", utc(), nullable=False),
        _lead_fk("handoff_timers"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoff_timers")),
        sa.UniqueConstraint("lead_id", "trigger", name="uq_handoff_timers_lead_id_trigger"),
    )
    op.create_index("ix_handoff_timers_fire_at", "handoff_timers", ["fire_at"])
    op.create_table(
        "team_cursors",
        sa.Column("team", sa.String(64), nullable=False),
        sa.Column("last_rep", sa.String(120)),
        sa.PrimaryKeyConstraint("team", name=op.f("pk_team_cursors")),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("message_id", sa.String(64), nullable=False),
        sa.Column("handoff_id", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", utc(), nullable=False),
        sa.Column("locked_until", utc()),
        sa.Column("last_status_code", sa.Integer()),
        sa.Column("last_error", sa.Text()),
        sa.Column("created_at", utc(), nullable=False),
        sa.Column("delivered_at", utc()),
        sa.Column("dead_at", utc()),
        sa.ForeignKeyConstraint(
            ["handoff_id"],
            ["handoffs.id"],
            name=op.f("fk_outbox_handoff_id_handoffs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("message_id", name=op.f("uq_outbox_message_id")),
    )
    op.create_index("ix_outbox_handoff_id", "outbox", ["handoff_id"])
    op.create_index(
        "ix_outbox_status_priority_next_attempt_at",
        "outbox",
        ["status", "priority", "next_attempt_at"],
    )
    op.create_table(
        "delivery_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("started_at", utc(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.Integer()),
        sa.Column("error", sa.Text()),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.ForeignKeyConstraint(
            ["outbox_id"],
            ["outbox.id"],
            name=op.f("fk_delivery_attempts_outbox_id_outbox"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_attempts")),
    )
    op.create_index(
        "ix_delivery_attempts_outbox_id_attempt", "delivery_attempts", ["outbox_id", "attempt"]
    )
    op.create_table(
        "channel_states",
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("disabled_at", utc(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("channel", name=op.f("pk_channel_states")),
    )


def downgrade() -> None:
    for table in (
        "channel_states",
        "delivery_attempts",
        "outbox",
        "team_cursors",
        "handoff_timers",
        "handoff_triggers",
        "handoffs",
        "lead_status_changes",
        "lead_notes",
    ):
        op.drop_table(table)
