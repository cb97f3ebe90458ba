"""The sales inbox: indexes for its order and filters, and full-text search of leads.

SQLite: an FTS5 table ``lead_search`` whose rowid is the lead's rowid; PostgreSQL:
a ``search_document`` tsvector column with a GIN index. Triggers on leads and
answers keep either in step on every write; existing leads are indexed here.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# Leads the inbox lists are unmerged: partial indexes hold only those.
_UNMERGED = sa.text("merged_into IS NULL")
_INDEXES = (
    ("ix_leads_inbox_stage_score", ["stage", "score", "id"]),
    ("ix_leads_inbox_status_stage_score", ["status", "stage", "score", "id"]),
)

# The text of one lead's search document (names, contact, company, current answers).
_SQLITE_DOCUMENT = """
SELECT leads.rowid, coalesce(leads.first_name, '') || ' ' || coalesce(leads.last_name, '')
  || ' ' || coalesce(leads.email, '') || ' ' || coalesce(leads.phone, '')
  || ' ' || coalesce(leads.company, '') || ' ' || coalesce((
    SELECT group_concat(answers.raw, ' ') FROM answers
    WHERE answers.lead_id = leads.id AND answers.superseded_at IS NULL), '')
FROM leads WHERE leads.id = {lead_id}
"""
_SQLITE_TRIGGERS = {
    "lead_search_lead_insert": "AFTER INSERT ON leads BEGIN "
    "INSERT INTO lead_search(rowid, document) {document}; END",
    "lead_search_lead_update": "AFTER UPDATE OF first_name, last_name, email, phone, company "
    "ON leads BEGIN DELETE FROM lead_search WHERE rowid = old.rowid; "
    "INSERT INTO lead_search(rowid, document) {document}; END",
    "lead_search_lead_delete": "AFTER DELETE ON leads BEGIN "
    "DELETE FROM lead_search WHERE rowid = old.rowid; END",
    "lead_search_answer_insert": "AFTER INSERT ON answers BEGIN "
    "DELETE FROM lead_search WHERE rowid = (SELECT rowid FROM leads WHERE id = new.lead_id); "
    "INSERT INTO lead_search(rowid, document) {new_document}; END",
    "lead_search_answer_update": "AFTER UPDATE ON answers BEGIN "
    "DELETE FROM lead_search WHERE rowid = (SELECT rowid FROM leads WHERE id = new.lead_id); "
    "INSERT INTO lead_search(rowid, document) {new_document}; END",
    "lead_search_answer_delete": "AFTER DELETE ON answers BEGIN "
    "DELETE FROM lead_search WHERE rowid = (SELECT rowid FROM leads WHERE id = old.lead_id); "
    "INSERT INTO lead_search(rowid, document) {old_document}; END",
}

_POSTGRES_UP = (
    # Trusted since PostgreSQL 13: a database owner may create it. Kept on downgrade
    # (other objects may use it).
    "CREATE EXTENSION IF NOT EXISTS unaccent",
    """
    CREATE FUNCTION lead_search_document(lead_id varchar, parts text) RETURNS tsvector
    LANGUAGE sql STABLE AS $$
      SELECT to_tsvector('simple', unaccent(regexp_replace(concat_ws(' ', parts, (
        SELECT string_agg(raw, ' ') FROM answers
        WHERE answers.lead_id = $1 AND answers.superseded_at IS NULL)), '[^[:alnum:]]+', ' ', 'g')))
    $$
    """,
    """
    CREATE FUNCTION lead_search_lead() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      NEW.search_document := lead_search_document(NEW.id, concat_ws(' ', NEW.first_name,
        NEW.last_name, NEW.email, NEW.phone, NEW.company));
      RETURN NEW;
    END $$
    """,
    """
    CREATE FUNCTION lead_search_answer() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE changed varchar := CASE WHEN TG_OP = 'DELETE' THEN OLD.lead_id ELSE NEW.lead_id END;
    BEGIN
      UPDATE leads SET search_document = lead_search_document(id, concat_ws(' ', first_name,
        last_name, email, phone, company)) WHERE id = changed;
      RETURN NULL;
    END $$
    """,
    "CREATE TRIGGER lead_search_lead BEFORE INSERT OR UPDATE OF first_name, last_name, email,"
    " phone, company ON leads FOR EACH ROW EXECUTE FUNCTION lead_search_lead()",
    "CREATE TRIGGER lead_search_answer AFTER INSERT OR UPDATE OR DELETE ON answers"
    " FOR EACH ROW EXECUTE FUNCTION lead_search_answer()",
    "UPDATE leads SET search_document = lead_search_document(id, concat_ws(' ', first_name,"
    " last_name, email, phone, company))",
    "CREATE INDEX ix_leads_search_document ON leads USING gin (search_document)",
)
_POSTGRES_DOWN = (
    "DROP TRIGGER lead_search_answer ON answers",
    "DROP TRIGGER lead_search_lead ON leads",
    "DROP FUNCTION lead_search_answer()",
    "DROP FUNCTION lead_search_lead()",
    "DROP FUNCTION lead_search_document(varchar, text)",
    "DROP INDEX ix_leads_search_document",
    "ALTER TABLE leads DROP COLUMN search_document",
)


def upgrade() -> None:
    for name, columns in _INDEXES:
        op.create_index(name, "leads", columns, sqlite_where=_UNMERGED, postgresql_where=_UNMERGED)
    op.create_index("ix_handoffs_assigned_to_status", "handoffs", ["assigned_to", "status"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE leads ADD COLUMN search_document tsvector")
        for statement in _POSTGRES_UP:
            op.execute(statement)
        return
    op.execute(
        "CREATE VIRTUAL TABLE lead_search USING fts5("
        "document, tokenize='unicode61 remove_diacritics 2')"
    )
    for name, body in _SQLITE_TRIGGERS.items():
        op.execute(
            f"CREATE TRIGGER {name} "
            + body.format(
                document=_SQLITE_DOCUMENT.format(lead_id="new.id"),
                new_document=_SQLITE_DOCUMENT.format(lead_id="new.lead_id"),
                old_document=_SQLITE_DOCUMENT.format(lead_id="old.lead_id"),
            )
        )
    op.execute(
        "INSERT INTO lead_search(rowid, document) " + _SQLITE_DOCUMENT.format(lead_id="leads.id")
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in _POSTGRES_DOWN:
            op.execute(statement)
    else:
        for name in reversed(_SQLITE_TRIGGERS):
            op.execute(f"DROP TRIGGER {name}")
        op.execute("DROP TABLE lead_search")
    op.drop_index("ix_handoffs_assigned_to_status", table_name="handoffs")
    for name, _ in reversed(_INDEXES):
        op.drop_index(name, table_name="leads")
