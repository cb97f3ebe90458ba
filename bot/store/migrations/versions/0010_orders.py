"""Orders: purchases from the shop, and the revenue they make a lead.

- ``orders``: one row per order a shop platform reported (the order webhook) or a
  ``purchase`` storefront event, unique on (``source``, ``order_id``) so a
  redelivered order is stored once; ``payload_hash`` tells a redelivery (same
  body) from a different order reusing the id. ``lead_id`` is the shopper it was
  matched to (none: kept, unattributed); the lead's erasure deletes its orders
  (ON DELETE CASCADE). ``value``/``currency`` are the order's own, ``shop_value``
  the same amount in the shop's currency when it was received.
- ``leads.revenue``/``leads.revenue_currency``: the sum of the lead's orders in
  the shop's currency, recomputed from its orders under the lead's row lock.
- ``handoffs.outcome``: why a closed handoff closed ("won" when the shopper bought).

Money is NUMERIC on PostgreSQL and exact text on SQLite (which has no decimal
type and would round through floats).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def money() -> sa.types.TypeEngine:
    return sa.Numeric(18, 4).with_variant(sa.String(40), "sqlite")


def upgrade() -> None:
    op.create_table(
        "orders",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("order_id", sa.String(160), nullable=False),
        sa.Column("lead_id", sa.String(32)),
        sa.Column("matched_by", sa.String(16)),
        sa.Column("value", money(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("shop_value", money(), nullable=False),
        sa.Column("shop_currency", sa.String(3), nullable=False),
        sa.Column("product_id", sa.String(120)),
        sa.Column("variant_id", sa.String(120)),
        sa.Column("sku", sa.String(120)),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("ordered_at", utc(), nullable=False),
        sa.Column("received_at", utc(), nullable=False),
        sa.Column("payload_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["leads.id"],
            name=op.f("fk_orders_lead_id_leads"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("source", "order_id", name="uq_orders_source_order_id"),
    )
    op.create_index("ix_orders_lead_id_ordered_at", "orders", ["lead_id", "ordered_at"])
    op.create_index("ix_orders_ordered_at", "orders", ["ordered_at"])
    # Plain ADD COLUMN, not a batch copy: on SQLite a copy of leads or handoffs
    # would drop the tally triggers of migration 0008.
    op.add_column("leads", sa.Column("revenue", money()))
    op.add_column("leads", sa.Column("revenue_currency", sa.String(3)))
    op.add_column("handoffs", sa.Column("outcome", sa.String(16)))


def downgrade() -> None:
    op.drop_column("handoffs", "outcome")
    op.drop_column("leads", "revenue_currency")
    op.drop_column("leads", "revenue")
    op.drop_index("ix_orders_ordered_at", table_name="orders")
    op.drop_index("ix_orders_lead_id_ordered_at", table_name="orders")
    op.drop_table("orders")
