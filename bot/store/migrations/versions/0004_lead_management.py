"""Lead management: position, address, lifecycle and conversion; API tokens; erasure tombstones.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("leads") as batch:
        batch.add_column(sa.Column("position", sa.String(120)))
        batch.add_column(sa.Column("address", sa.String(500)))
        batch.add_column(
            sa.Column("lifecycle_stage", sa.String(20), nullable=False, server_default="visitor")
        )
        batch.add_column(sa.Column("customer_group", sa.String(64)))
        batch.add_column(sa.Column("converted_at", utc()))
        batch.create_index("ix_leads_phone", ["phone"])
        batch.create_index("ix_leads_created_at_id", ["created_at", "id"])
        batch.create_index("ix_leads_updated_at_id", ["updated_at", "id"])
        batch.create_index("ix_leads_score_id", ["score", "id"])
    with op.batch_alter_table("leads") as batch:
        batch.alter_column("lifecycle_stage", server_default=None)

    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(12), nullable=False),
        sa.Column("scopes", JSON, nullable=False),
        sa.Column("created_at", utc(), nullable=False),
        sa.Column("last_used_at", utc()),
        sa.Column("revoked_at", utc()),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("name", name=op.f("uq_api_tokens_name")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_table(
        "erasures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("lead_id", sa.String(32), nullable=False),
        sa.Column("lead_created_at", utc(), nullable=False),
        sa.Column("erased_at", utc(), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("requested_by", sa.String(120), nullable=False),
        sa.Column("removed", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasures")),
        sa.UniqueConstraint("lead_id", name=op.f("uq_erasures_lead_id")),
    )
    op.create_index("ix_erasures_erased_at", "erasures", ["erased_at"])


def downgrade() -> None:
    op.drop_table("erasures")
    op.drop_table("api_tokens")
    with op.batch_alter_table("leads") as batch:
        for index in ("ix_leads_score_id", "ix_leads_updated_at_id", "ix_leads_created_at_id"):
            batch.drop_index(index)
        batch.drop_index("ix_leads_phone")
        for column in ("converted_at", "customer_group", "lifecycle_stage", "address", "position"):
            batch.drop_column(column)
