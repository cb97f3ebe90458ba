"""Full-text search of leads: names, e-mail, phone, company and current answers.

The index lives in the database and is kept in step by triggers (migration
0007): an FTS5 table ``lead_search`` (rowid = the lead's rowid) on SQLite, a
``search_document`` tsvector column with a GIN index on PostgreSQL. Both split
text on anything but letters and digits and ignore case and accents, so
``ada@example.com`` is found by ``ada`` and by ``example``; each word of a search
matches the start of a word.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from sqlalchemy import literal_column, select, table, text

# Words of a search: letters and digits (an underscore separates, as in the index).
_WORD = re.compile(r"[^\W_]+")
# What the schema holds beyond the models: the index objects of migration 0007.
SEARCH_TABLE_PREFIX = "lead_search"
SEARCH_COLUMN = "search_document"
SEARCH_INDEX = "ix_leads_search_document"


def search_words(q: str) -> list[str]:
    """The lowered words of a search, accents removed; empty without a letter or digit."""
    bare = "".join(
        char for char in unicodedata.normalize("NFKD", q) if not unicodedata.combining(char)
    )
    return [word.lower() for word in _WORD.findall(bare)]


def matches(dialect: str, words: list[str], *, drive: bool = True) -> Any:
    """A WHERE clause on ``leads`` keeping the leads whose document has every word (as a prefix).

    ``drive=False`` keeps SQLite from starting from the matches (``+leads.rowid``),
    for a query another index narrows more.
    """
    if dialect == "postgresql":
        tsquery = " & ".join(f"{word}:*" for word in words)
        return text("leads.search_document @@ to_tsquery('simple', :lead_tsquery)").bindparams(
            lead_tsquery=tsquery
        )
    fts = " ".join(f'"{word}"*' for word in words)
    hits = (
        select(literal_column("rowid"))
        .select_from(table("lead_search"))
        .where(text("lead_search MATCH :lead_fts").bindparams(lead_fts=fts))
    )
    return literal_column("leads.rowid" if drive else "+leads.rowid").in_(hits)


def schema_object_of_models(obj: Any, name: str | None, type_: str, *_: Any) -> bool:
    """Alembic ``include_object``: leave out the index objects the models cannot declare."""
    if type_ == "table" and name is not None and name.startswith(SEARCH_TABLE_PREFIX):
        return False
    if type_ == "index" and name == SEARCH_INDEX:
        return False
    return not (type_ == "column" and name == SEARCH_COLUMN)
