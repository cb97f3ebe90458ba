"""Lead-page sessions kept by the server, so signing out and a token change end them.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sales_sessions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", utc(), nullable=False),
        sa.Column("expires_at", utc(), nullable=False),
        sa.Column("ended_at", utc()),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_sessions")),
    )
    op.create_index("ix_sales_sessions_token_hash", "sales_sessions", ["token_hash"])
    op.create_index("ix_sales_sessions_expires_at", "sales_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_sales_sessions_expires_at", table_name="sales_sessions")
    op.drop_index("ix_sales_sessions_token_hash", table_name="sales_sessions")
    op.drop_table("sales_sessions")
