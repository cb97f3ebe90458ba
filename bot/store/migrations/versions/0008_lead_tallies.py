"""Counts kept as leads change: the inbox's leads per stage and the dashboard's leads per hour.

Counting a million leads on every inbox page or reading a year of them for the
dashboard takes seconds; these two tables hold the answers, kept in step by
triggers on leads and handoffs (so every writer — the lead service, imports,
merges, sales status changes, erasure — keeps them right without knowing):

- ``lead_counts``: unmerged leads per (stage, status, lowered source), the inbox's
  counts for its first page and its stage, status and source filters;
- ``lead_hours``: unmerged leads per UTC hour of creation, stage and score band,
  with how many of them chatted, are qualified, won and were handed off;
- ``lead_hour_reasons``: hot leads per UTC hour of creation and the rule ranked
  first on them, with its points.

Also ``leads.chatted_at``: when the shopper first wrote in the chat (a lead
can start on the shop or a form without ever chatting); the funnel's chats. And
``leads.open_due_at``: the soonest due time of the lead's open (unacknowledged)
handoffs, kept by triggers on handoffs; the inbox lists those leads first by it,
through a small partial index, instead of joining every open handoff.

A row whose count falls to zero stays (the key space is small). The definitions
(score bands, what "qualified" and "won" are) are frozen here; a later change to
them in ``bot.store.reports`` needs a migration that rebuilds the tables
(``tests/store/test_lead_tallies.py`` fails until one does).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

# S608: every statement here is built from this file's own constants, never from input.
# ruff: noqa: S608
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# Lowest score of each band but the first (which starts at 0), highest first.
BAND_FLOORS = (80, 60, 40, 20)
QUALIFIED_STATUSES = ("Qualified", "Proposal Sent", "Negotiation", "Won")
QUALIFIED_LIFECYCLES = ("qualified_lead", "opportunity", "customer")
WON_STATUS = "Won"

# Columns of leads a count depends on: an update of any other column fires nothing.
WATCHED = (
    "stage",
    "status",
    "source",
    "score",
    "reasons",
    "lifecycle_stage",
    "converted_at",
    "chatted_at",
    "merged_into",
    "created_at",
)


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join("'" + value.replace("'", "''") + "'" for value in values)


# The tables, in the order a lead's rows are locked (PostgreSQL).
TABLES = ("lead_counts", "lead_hours", "lead_hour_reasons")


def _tally(dialect: str, table: str, row: str, handed: str) -> tuple[dict, dict, str]:
    """``table``'s key columns, counted columns and condition, as SQL on lead row ``row``.

    A lead adds 1 to ``leads`` and its flags (0 or 1) to the other counts of the
    row of its key, where the condition holds.
    """
    hot = f"{row}.stage = 'hot'"
    if dialect == "postgresql":
        hour = f"date_trunc('hour', {row}.created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
        rule = f"coalesce({row}.reasons -> 0 ->> 'rule', '')"
        points = f"({row}.reasons -> 0 ->> 'points')::numeric::int"
    else:
        hour = f"substr({row}.created_at, 1, 13) || ':00:00.000000'"
        rule = f"coalesce(json_extract({row}.reasons, '$[0].rule'), '')"
        points = f"CAST(json_extract({row}.reasons, '$[0].points') AS INTEGER)"

    def flag(condition: str) -> str:
        return f"CASE WHEN {condition} THEN 1 ELSE 0 END"

    band = (
        "CASE "
        + " ".join(f"WHEN {row}.score >= {floor} THEN {floor}" for floor in BAND_FLOORS)
        + " ELSE 0 END"
    )
    qualified = (
        f"{hot} OR {row}.status IN ({_quoted(QUALIFIED_STATUSES)})"
        f" OR {row}.lifecycle_stage IN ({_quoted(QUALIFIED_LIFECYCLES)})"
        f" OR {row}.converted_at IS NOT NULL"
    )
    won = f"{row}.status = '{WON_STATUS}' OR {row}.converted_at IS NOT NULL"
    if table == "lead_counts":
        keys = {"stage": f"{row}.stage", "status": f"{row}.status", "source": f"lower({row}.source)"}
        return keys, {"leads": "1"}, "true"
    if table == "lead_hours":
        counts = {
            "leads": "1",
            "chatted": flag(f"{row}.chatted_at IS NOT NULL"),
            "qualified": flag(qualified),
            "won": flag(won),
            "handed": flag(handed),
        }
        return {"hour": hour, "stage": f"{row}.stage", "band": band}, counts, "true"
    return (
        {"hour": hour, "rule": rule},
        {"leads": "1", "points": f"coalesce({points}, 0)"},
        f"{hot} AND {rule} <> ''",
    )


def _has_handoff(lead_id: str) -> str:
    return f"EXISTS (SELECT 1 FROM handoffs WHERE handoffs.lead_id = {lead_id})"


def _add(dialect: str, table: str, row: str, sign: str, handed: str, source: str = "") -> str:
    """An upsert adding ``sign``1 lead (row ``row``) to ``table``'s row of its key.

    With ``source`` (``FROM leads AS row WHERE …``) the lead is read by a select;
    without, ``row`` is the trigger's NEW or OLD.
    """
    keys, counts, condition = _tally(dialect, table, row, handed)
    columns = ", ".join([*keys, *counts])
    values = ", ".join([*keys.values(), *(f"{sign}({value})" for value in counts.values())])
    updates = ", ".join(f"{name} = {table}.{name} + excluded.{name}" for name in counts)
    select = (
        f"SELECT {values} {source} AND {condition}"
        if source
        else f"SELECT {values} WHERE {condition}"
    )
    return (
        f"INSERT INTO {table} ({columns}) {select} "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
    )


def _changed(dialect: str) -> str:
    """True when a lead update changes what any table counts it under or as."""
    both = []
    for table in TABLES:
        old, new = (_tally(dialect, table, row, "false") for row in ("old", "new"))
        for old_part, new_part in zip(old[:2], new[:2], strict=True):
            both += [(old_part[name], new_part[name]) for name in old_part]
        both.append((old[2], new[2]))
    both.append(("old.merged_into IS NULL", "new.merged_into IS NULL"))
    if dialect == "postgresql":
        return (
            f"ROW({', '.join(old for old, _ in both)}) IS DISTINCT FROM "
            f"ROW({', '.join(new for _, new in both)})"
        )
    return "NOT (" + " AND ".join(f"({old}) IS ({new})" for old, new in both) + ")"


def _lead_source(lead_id: str) -> str:
    return f"FROM leads AS lead WHERE lead.id = {lead_id} AND lead.merged_into IS NULL"


def _rekey_handed(dialect: str, lead_id: str, before: str, after: str) -> list[str]:
    """Move lead ``lead_id`` from handed-off ``before`` to ``after`` in ``lead_hours``."""
    return [
        _add(dialect, "lead_hours", "lead", "-", before, _lead_source(lead_id)),
        _add(dialect, "lead_hours", "lead", "+", after, _lead_source(lead_id)),
    ]


def _sqlite_triggers() -> dict[str, str]:
    def body(statements: list[str]) -> str:
        return " BEGIN " + "; ".join(statements) + "; END"

    def both(row: str, sign: str) -> list[str]:
        handed = _has_handoff(f"{row}.id")
        return [_add("sqlite", table, row, sign, handed) for table in TABLES]

    first = "(SELECT count(*) FROM handoffs WHERE lead_id = new.lead_id) = 1"
    last_gone = f"NOT {_has_handoff('old.lead_id')}"
    return {
        "lead_tally_insert": "AFTER INSERT ON leads WHEN new.merged_into IS NULL"
        + body(both("new", "+")),
        "lead_tally_delete": "AFTER DELETE ON leads WHEN old.merged_into IS NULL"
        + body(both("old", "-")),
        # Each half only for an unmerged row: SQLite triggers have no IF, so two triggers.
        "lead_tally_update_old": f"AFTER UPDATE OF {', '.join(WATCHED)} ON leads"
        f" WHEN old.merged_into IS NULL AND {_changed('sqlite')}" + body(both("old", "-")),
        "lead_tally_update_new": f"AFTER UPDATE OF {', '.join(WATCHED)} ON leads"
        f" WHEN new.merged_into IS NULL AND {_changed('sqlite')}" + body(both("new", "+")),
        "lead_tally_handoff_insert": f"AFTER INSERT ON handoffs WHEN {first}"
        + body(_rekey_handed("sqlite", "new.lead_id", "false", "true")),
        "lead_tally_handoff_delete": f"AFTER DELETE ON handoffs WHEN {last_gone}"
        + body(_rekey_handed("sqlite", "old.lead_id", "true", "false")),
        "lead_tally_handoff_moved_from": "AFTER UPDATE OF lead_id ON handoffs"
        f" WHEN old.lead_id IS NOT new.lead_id AND {last_gone}"
        + body(_rekey_handed("sqlite", "old.lead_id", "true", "false")),
        "lead_tally_handoff_moved_to": "AFTER UPDATE OF lead_id ON handoffs"
        f" WHEN old.lead_id IS NOT new.lead_id AND {first}"
        + body(_rekey_handed("sqlite", "new.lead_id", "false", "true")),
    }


def _postgres_functions() -> dict[str, str]:
    def both(row: str, sign: str) -> str:
        handed = _has_handoff(f"{row}.id")
        return "".join(f"{_add('postgresql', table, row, sign, handed)};\n" for table in TABLES)

    def moved(table: str) -> str:
        """A lead moving between two rows of ``table``: the rows locked in key order.

        Two transactions moving leads in opposite directions (cold to warm, warm
        to cold) would otherwise each lock one row and wait for the other's.
        """
        old, new = (_tally("postgresql", table, row, "false")[0] for row in ("OLD", "NEW"))
        handed = _has_handoff("NEW.id")
        take = _add("postgresql", table, "OLD", "-", handed)
        give = _add("postgresql", table, "NEW", "+", handed)
        return (
            f"IF ROW({', '.join(old.values())}) < ROW({', '.join(new.values())}) THEN "
            f"{take}; {give}; ELSE {give}; {take}; END IF;"
        )

    def rekey(lead_id: str, before: str, after: str) -> str:
        return "".join(f"{s};\n" for s in _rekey_handed("postgresql", lead_id, before, after))

    # A BEFORE trigger: its queries see the rows of the same statement processed
    # before this one (an AFTER trigger runs at the statement's end and would see
    # every handoff a multi-row insert adds), never this row's own change.
    first = f"NOT {_has_handoff('NEW.lead_id')}"
    last = "(SELECT count(*) FROM handoffs WHERE lead_id = OLD.lead_id) = 1"
    return {
        "lead_tally_lead": f"""
        BEGIN
          IF TG_OP = 'UPDATE' AND NOT ({_changed('postgresql')}) THEN RETURN NULL; END IF;
          IF TG_OP = 'UPDATE' AND OLD.merged_into IS NULL AND NEW.merged_into IS NULL THEN
            {"".join(moved(table) for table in TABLES)}
            RETURN NULL;
          END IF;
          IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.merged_into IS NULL THEN
            {both('OLD', '-')}
          END IF;
          IF TG_OP IN ('UPDATE', 'INSERT') AND NEW.merged_into IS NULL THEN
            {both('NEW', '+')}
          END IF;
          RETURN NULL;
        END""",
        "lead_tally_handoff": f"""
        BEGIN
          IF TG_OP = 'UPDATE' AND OLD.lead_id IS NOT DISTINCT FROM NEW.lead_id THEN
            RETURN NEW;
          END IF;
          IF TG_OP IN ('UPDATE', 'DELETE') AND {last} THEN
            {rekey('OLD.lead_id', 'true', 'false')}
          END IF;
          IF TG_OP IN ('UPDATE', 'INSERT') AND {first} THEN
            {rekey('NEW.lead_id', 'false', 'true')}
          END IF;
          IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
          RETURN NEW;
        END""",
    }


def _backfill(dialect: str) -> list[str]:
    """Count the leads already stored (the tables start empty)."""
    statements = []
    for table in TABLES:
        keys, counts, condition = _tally(dialect, table, "leads", _has_handoff("leads.id"))
        summed = [f"sum({value})" for value in counts.values()]
        statements.append(
            f"INSERT INTO {table} ({', '.join([*keys, *counts])}) "
            f"SELECT {', '.join([*keys.values(), *summed])} FROM leads "
            f"WHERE leads.merged_into IS NULL AND {condition} "
            f"GROUP BY {', '.join(keys.values())}"
        )
    return statements


# The lead's open-handoff due time, recomputed when a handoff of it changes.
_OPEN_DUE = (
    "UPDATE leads SET open_due_at = (SELECT min(handoffs.due_at) FROM handoffs"
    " WHERE handoffs.lead_id = {lead} AND handoffs.status = 'open') WHERE leads.id = {lead}"
)
_SQLITE_OPEN_DUE = {
    "lead_open_due_insert": "AFTER INSERT ON handoffs WHEN new.status = 'open' BEGIN "
    + _OPEN_DUE.format(lead="new.lead_id")
    + "; END",
    "lead_open_due_update": "AFTER UPDATE OF status, due_at, lead_id ON handoffs BEGIN "
    + _OPEN_DUE.format(lead="old.lead_id")
    + "; "
    + _OPEN_DUE.format(lead="new.lead_id")
    + "; END",
    "lead_open_due_delete": "AFTER DELETE ON handoffs WHEN old.status = 'open' BEGIN "
    + _OPEN_DUE.format(lead="old.lead_id")
    + "; END",
}
_POSTGRES_OPEN_DUE = f"""
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN {_OPEN_DUE.format(lead="OLD.lead_id")}; END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') THEN {_OPEN_DUE.format(lead="NEW.lead_id")}; END IF;
  RETURN NULL;
END"""


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.add_column("leads", sa.Column("chatted_at", _utc()))
    op.add_column("leads", sa.Column("open_due_at", _utc()))
    op.execute(
        _OPEN_DUE.format(lead="leads.id")
        + " AND leads.id IN (SELECT lead_id FROM handoffs WHERE status = 'open')"
    )
    op.create_index(
        "ix_leads_inbox_open_due_at",
        "leads",
        ["open_due_at", "id"],
        sqlite_where=sa.text("open_due_at IS NOT NULL AND merged_into IS NULL"),
        postgresql_where=sa.text("open_due_at IS NOT NULL AND merged_into IS NULL"),
    )
    # A chat writes chat events; the first of them is when the shopper first chatted.
    op.execute(
        "UPDATE leads SET chatted_at = (SELECT min(lead_events.ts) FROM lead_events"
        " WHERE lead_events.lead_id = leads.id AND lead_events.source = 'chat')"
    )
    op.create_table(
        "lead_counts",
        sa.Column("stage", sa.String(10), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("leads", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("stage", "status", "source", name=op.f("pk_lead_counts")),
    )
    op.create_table(
        "lead_hours",
        sa.Column("hour", _utc(), nullable=False),
        sa.Column("stage", sa.String(10), nullable=False),
        sa.Column("band", sa.Integer, nullable=False),
        *(
            sa.Column(name, sa.Integer, nullable=False)
            for name in ("leads", "chatted", "qualified", "won", "handed")
        ),
        sa.PrimaryKeyConstraint("hour", "stage", "band", name=op.f("pk_lead_hours")),
    )
    op.create_table(
        "lead_hour_reasons",
        sa.Column("hour", _utc(), nullable=False),
        sa.Column("rule", sa.String(120), nullable=False),
        sa.Column("leads", sa.Integer, nullable=False),
        sa.Column("points", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("hour", "rule", name=op.f("pk_lead_hour_reasons")),
    )
    for statement in _backfill(dialect):
        op.execute(statement)
    if dialect == "postgresql":
        for name, body in _postgres_functions().items():
            op.execute(
                f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ {body} $$"
            )
        op.execute(
            f"CREATE TRIGGER lead_tally_lead AFTER INSERT OR DELETE OR UPDATE OF"
            f" {', '.join(WATCHED)} ON leads FOR EACH ROW EXECUTE FUNCTION lead_tally_lead()"
        )
        op.execute(
            "CREATE TRIGGER lead_tally_handoff BEFORE INSERT OR DELETE OR UPDATE OF lead_id"
            " ON handoffs FOR EACH ROW EXECUTE FUNCTION lead_tally_handoff()"
        )
        op.execute(
            "CREATE FUNCTION lead_open_due() RETURNS trigger LANGUAGE plpgsql"
            f" AS $$ {_POSTGRES_OPEN_DUE} $$"
        )
        op.execute(
            "CREATE TRIGGER lead_open_due AFTER INSERT OR DELETE OR UPDATE OF status, due_at,"
            " lead_id ON handoffs FOR EACH ROW EXECUTE FUNCTION lead_open_due()"
        )
    else:
        for name, body in {**_sqlite_triggers(), **_SQLITE_OPEN_DUE}.items():
            op.execute(f"CREATE TRIGGER {name} {body}")
    # The inbox's source filter reads lowered sources through an index too. Not
    # partial: PostgreSQL gathers statistics on the expressions of whole-table
    # indexes only, and without them guesses 0.5 % of leads for any source.
    op.create_index(
        "ix_leads_inbox_source_stage_score",
        "leads",
        [sa.text("lower(source)"), "stage", "score", "id"],
    )
    # The team and rep filters: a team's leads read from the handoffs' index alone,
    # then each lead's stage from a narrow index instead of its row.
    op.create_index(
        "ix_leads_inbox_id_stage",
        "leads",
        ["id", "stage"],
        sqlite_where=sa.text("merged_into IS NULL"),
        postgresql_where=sa.text("merged_into IS NULL"),
    )
    op.create_index("ix_handoffs_team_lead_id", "handoffs", ["team", "lead_id"])
    op.create_index("ix_handoffs_assigned_to_lead_id", "handoffs", ["assigned_to", "lead_id"])
    if dialect == "postgresql":
        # The updated-range filter's counts from the index alone (an index-only
        # scan, where the visibility map allows); SQLite reads rows fast enough.
        _updated_index(include=["stage", "merged_into"])


def _updated_index(include: list[str]) -> None:
    op.drop_index("ix_leads_updated_at_id", table_name="leads")
    op.create_index(
        "ix_leads_updated_at_id", "leads", ["updated_at", "id"], postgresql_include=include
    )


def downgrade() -> None:
    op.drop_index("ix_handoffs_assigned_to_lead_id", table_name="handoffs")
    op.drop_index("ix_handoffs_team_lead_id", table_name="handoffs")
    op.drop_index("ix_leads_inbox_id_stage", table_name="leads")
    op.drop_index("ix_leads_inbox_source_stage_score", table_name="leads")
    if op.get_bind().dialect.name == "postgresql":
        _updated_index(include=[])
        op.execute("DROP TRIGGER lead_open_due ON handoffs")
        op.execute("DROP FUNCTION lead_open_due()")
        op.execute("DROP TRIGGER lead_tally_handoff ON handoffs")
        op.execute("DROP TRIGGER lead_tally_lead ON leads")
        for name in _postgres_functions():
            op.execute(f"DROP FUNCTION {name}()")
    else:
        for name in reversed([*_sqlite_triggers(), *_SQLITE_OPEN_DUE]):
            op.execute(f"DROP TRIGGER {name}")
    op.drop_table("lead_hour_reasons")
    op.drop_table("lead_hours")
    op.drop_table("lead_counts")
    op.drop_index("ix_leads_inbox_open_due_at", table_name="leads")
    # Not a batch copy of the table, which would break 0007's triggers on it
    # (SQLite drops columns itself since 3.35).
    op.execute("ALTER TABLE leads DROP COLUMN open_due_at")
    op.execute("ALTER TABLE leads DROP COLUMN chatted_at")
