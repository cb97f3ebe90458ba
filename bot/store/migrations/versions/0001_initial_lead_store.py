"""Initial lead store: leads, answers (with history), lead events.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "leads",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("session_id", sa.String(128), nullable=False),
        sa.Column("first_name", sa.String(80)),
        sa.Column("last_name", sa.String(80)),
        sa.Column("email", sa.String(254)),
        sa.Column("phone", sa.String(20)),
        sa.Column("company", sa.String(160)),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("stage", sa.String(10), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("intent_score", sa.Integer(), nullable=False),
        sa.Column("fit_score", sa.Integer(), nullable=False),
        sa.Column("reasons", JSON, nullable=False),
        sa.Column("consent_at", utc()),
        sa.Column("consent_text", sa.Text()),
        sa.Column("opted_out_at", utc()),
        sa.Column("human_requested_at", utc()),
        sa.Column("created_at", utc(), nullable=False),
        sa.Column("updated_at", utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leads")),
        sa.UniqueConstraint("session_id", name=op.f("uq_leads_session_id")),
    )
    op.create_index(op.f("ix_leads_email"), "leads", ["email"])

    op.create_table(
        "answers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("lead_id", sa.String(32), nullable=False),
        sa.Column("answer_id", sa.String(160), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("value", JSON),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("answered_at", utc(), nullable=False),
        sa.Column("superseded_at", utc()),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["leads.id"],
            name=op.f("fk_answers_lead_id_leads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_answers")),
        sa.UniqueConstraint("answer_id", name=op.f("uq_answers_answer_id")),
    )
    op.create_index("ix_answers_lead_id_key", "answers", ["lead_id", "key"])

    op.create_table(
        "lead_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(160), nullable=False),
        sa.Column("lead_id", sa.String(32), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("ts", utc(), nullable=False),
        sa.Column("product_id", sa.String(120)),
        sa.Column("variant_id", sa.String(120)),
        sa.Column("value", sa.String(40)),
        sa.Column("properties", JSON, nullable=False),
        sa.Column("created_at", utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["leads.id"],
            name=op.f("fk_lead_events_lead_id_leads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_lead_events_event_id")),
    )
    op.create_index("ix_lead_events_lead_id_ts", "lead_events", ["lead_id", "ts"])


def downgrade() -> None:
    op.drop_index("ix_lead_events_lead_id_ts", table_name="lead_events")
    op.drop_table("lead_events")
    op.drop_index("ix_answers_lead_id_key", table_name="answers")
    op.drop_table("answers")
    op.drop_index(op.f("ix_leads_email"), table_name="leads")
    op.drop_table("leads")
