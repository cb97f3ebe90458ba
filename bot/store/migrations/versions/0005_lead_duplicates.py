"""Likely duplicates: leads linked by a shared e-mail or phone instead of merged; who merged.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "lead_duplicates",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("lead_id", sa.String(32), nullable=False),
        sa.Column("duplicate_of", sa.String(32), nullable=False),
        sa.Column("matched_on", sa.String(16), nullable=False),
        sa.Column("found_at", utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["leads.id"],
            name=op.f("fk_lead_duplicates_lead_id_leads"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["duplicate_of"],
            ["leads.id"],
            name=op.f("fk_lead_duplicates_duplicate_of_leads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_duplicates")),
        sa.UniqueConstraint(
            "lead_id",
            "duplicate_of",
            "matched_on",
            name="uq_lead_duplicates_lead_id_duplicate_of_matched_on",
        ),
    )
    op.create_index("ix_lead_duplicates_duplicate_of", "lead_duplicates", ["duplicate_of"])
    with op.batch_alter_table("lead_merges") as batch:
        batch.add_column(sa.Column("merged_by", sa.String(120)))


def downgrade() -> None:
    with op.batch_alter_table("lead_merges") as batch:
        batch.drop_column("merged_by")
    op.drop_index("ix_lead_duplicates_duplicate_of", table_name="lead_duplicates")
    op.drop_table("lead_duplicates")
