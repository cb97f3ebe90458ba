"""Follow-ups: plays planned for consenting shoppers, and their messages in the outbox.

- ``followups``: one row per lead and play; ``status`` planned → queued (its
  message is in the outbox), or stopped (with ``stop_reason``), or held_out (the
  seeded control group, never sent). Erased with the lead (ON DELETE CASCADE).
- ``ix_leads_followup_reach_id``: the consenting leads, by id, which the planner walks.
- ``outbox.followup_id``: the follow-up a message carries (erased with it);
  ``outbox.handoff_id`` becomes optional, as such messages have no handoff.

On SQLite the outbox is copied into a new table to change it; dropping the old
one would cascade to its delivery log, so the log is kept aside meanwhile.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

import warnings

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_ATTEMPTS_KEPT = "_followups_0011_delivery_attempts"


def utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _keeping_delivery_log(change) -> None:  # type: ignore[no-untyped-def]
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute(f"CREATE TABLE {_ATTEMPTS_KEPT} AS SELECT * FROM delivery_attempts")
    with warnings.catch_warnings():
        # The copy reflects the tables the outbox refers to; the leads table's
        # expression index (migration 0007) cannot be reflected and is not needed.
        warnings.filterwarnings("ignore", "Skipped unsupported reflection", sa.exc.SAWarning)
        change()
    if sqlite:
        op.execute(f"INSERT INTO delivery_attempts SELECT * FROM {_ATTEMPTS_KEPT}")
        op.execute(f"DROP TABLE {_ATTEMPTS_KEPT}")


def upgrade() -> None:
    op.create_table(
        "followups",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("lead_id", sa.String(32), nullable=False),
        sa.Column("play", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("template", sa.String(64), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("signal_at", utc(), nullable=False),
        sa.Column("due_at", utc(), nullable=False),
        sa.Column("planned_at", utc(), nullable=False),
        sa.Column("queued_at", utc()),
        sa.Column("stopped_at", utc()),
        sa.Column("stop_reason", sa.Text()),
        sa.Column("clicked_at", utc()),
        sa.Column("clicks", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_followups")),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["leads.id"],
            name=op.f("fk_followups_lead_id_leads"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("lead_id", "play", name="uq_followups_lead_id_play"),
    )
    op.create_index("ix_followups_status_due_at", "followups", ["status", "due_at"])
    # The leads the planner walks by id: consenting, not opted out, not merged.
    reachable = sa.text("consent_at IS NOT NULL AND opted_out_at IS NULL AND merged_into IS NULL")
    op.create_index(
        "ix_leads_followup_reach_id",
        "leads",
        ["id"],
        sqlite_where=reachable,
        postgresql_where=reachable,
    )

    def change() -> None:
        with op.batch_alter_table("outbox") as batch:
            batch.alter_column("handoff_id", existing_type=sa.String(32), nullable=True)
            batch.add_column(sa.Column("followup_id", sa.String(32)))
            batch.create_foreign_key(
                op.f("fk_outbox_followup_id_followups"),
                "followups",
                ["followup_id"],
                ["id"],
                ondelete="CASCADE",
            )
            batch.create_index("ix_outbox_followup_id", ["followup_id"])

    _keeping_delivery_log(change)


def downgrade() -> None:
    op.execute("DELETE FROM outbox WHERE followup_id IS NOT NULL")

    def change() -> None:
        with op.batch_alter_table("outbox") as batch:
            batch.drop_index("ix_outbox_followup_id")
            batch.drop_constraint(op.f("fk_outbox_followup_id_followups"), type_="foreignkey")
            batch.drop_column("followup_id")
            batch.alter_column("handoff_id", existing_type=sa.String(32), nullable=False)

    _keeping_delivery_log(change)
    op.drop_index("ix_leads_followup_reach_id", table_name="leads")
    op.drop_index("ix_followups_status_due_at", table_name="followups")
    op.drop_table("followups")
