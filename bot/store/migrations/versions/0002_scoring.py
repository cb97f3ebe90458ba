"""Scoring: lead facts and score columns, score snapshots, stage transitions, merges.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("leads") as batch:
        batch.add_column(sa.Column("score_facts", sa.Text()))
        batch.add_column(
            sa.Column("facts_version", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("decaying", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch.add_column(sa.Column("scored_at", utc()))
        batch.add_column(sa.Column("stage_changed_at", utc()))
        batch.add_column(sa.Column("merged_into", sa.String(32)))
        batch.create_foreign_key(
            op.f("fk_leads_merged_into_leads"), "leads", ["merged_into"], ["id"]
        )
        batch.create_index(
            "ix_leads_merged_into",
            ["merged_into"],
            sqlite_where=sa.text("merged_into IS NOT NULL"),
            postgresql_where=sa.text("merged_into IS NOT NULL"),
        )
        batch.create_index("ix_leads_decaying_id", ["decaying", "id"])
    with op.batch_alter_table("leads") as batch:
        batch.alter_column("facts_version", server_default=None)
        batch.alter_column("decaying", server_default=None)

    op.create_table(
        "score_snapshots",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("lead_id", sa.String(32), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("intent_score", sa.Integer(), nullable=False),
        sa.Column("fit_score", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(10), nullable=False),
        sa.Column("reasons", JSON, nullable=False),
        sa.Column("cause", sa.String(120), nullable=False),
        sa.Column("created_at", utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["leads.id"],
            name=op.f("fk_score_snapshots_lead_id_leads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_score_snapshots")),
    )
    op.create_index(
        "ix_score_snapshots_lead_id_created_at", "score_snapshots", ["lead_id", "created_at"]
    )

    op.create_table(
        "stage_transitions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("lead_id", sa.String(32), nullable=False),
        sa.Column("from_stage", sa.String(10), nullable=False),
        sa.Column("to_stage", sa.String(10), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("cause", sa.String(120), nullable=False),
        sa.Column("at", utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["leads.id"],
            name=op.f("fk_stage_transitions_lead_id_leads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stage_transitions")),
    )
    op.create_index("ix_stage_transitions_lead_id_at", "stage_transitions", ["lead_id", "at"])
    op.create_index(op.f("ix_stage_transitions_at"), "stage_transitions", ["at"])

    op.create_table(
        "lead_merges",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("survivor_id", sa.String(32), nullable=False),
        sa.Column("absorbed_id", sa.String(32), nullable=False),
        sa.Column("absorbed_session_id", sa.String(128), nullable=False),
        sa.Column("reason", sa.String(120), nullable=False),
        sa.Column("merged_at", utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["survivor_id"],
            ["leads.id"],
            name=op.f("fk_lead_merges_survivor_id_leads"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["absorbed_id"],
            ["leads.id"],
            name=op.f("fk_lead_merges_absorbed_id_leads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_merges")),
    )


def downgrade() -> None:
    op.drop_table("lead_merges")
    op.drop_index(op.f("ix_stage_transitions_at"), table_name="stage_transitions")
    op.drop_index("ix_stage_transitions_lead_id_at", table_name="stage_transitions")
    op.drop_table("stage_transitions")
    op.drop_index("ix_score_snapshots_lead_id_created_at", table_name="score_snapshots")
    op.drop_table("score_snapshots")
    with op.batch_alter_table("leads") as batch:
        batch.drop_index("ix_leads_decaying_id")
        batch.drop_index("ix_leads_merged_into")
        batch.drop_constraint(op.f("fk_leads_merged_into_leads"), type_="foreignkey")
        batch.drop_column("merged_into")
        batch.drop_column("stage_changed_at")
        batch.drop_column("scored_at")
        batch.drop_column("decaying")
        batch.drop_column("facts_version")
        batch.drop_column("score_facts")
