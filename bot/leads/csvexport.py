"""CSV export of leads (``python -m bot leads export``, ``GET /api/v2/leads/export.csv``).

Surviving leads matching the lead list's filters, streamed page by page.
Text cells that a spreadsheet would run as a formula (starting with ``=``,
``+``, ``-``, ``@``, tab or carriage return) get a leading ``'``, except
E.164 phone numbers; the import (:mod:`bot.leads.csvimport`) removes that
``'`` again, so an export imports back unchanged.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping
from typing import Any, TextIO

from bot.leads.service import LeadService
from bot.store.entries import CONTACT_COLUMNS
from bot.store.queries import LeadFilters

# Answers to the four core questions, exported as ``answer_<key>`` (raw text).
ANSWER_KEYS = ("timeline", "variant", "location", "budget")
EXPORT_COLUMNS = (
    "id",
    *CONTACT_COLUMNS,
    "source",
    "status",
    "stage",
    "score",
    "lifecycle",
    "created_at",
    "updated_at",
    *(f"answer_{key}" for key in ANSWER_KEYS),
)
EXPORT_PAGE_SIZE = 1000
# What a spreadsheet would evaluate as a formula if a cell starts with it.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_E164 = re.compile(r"\+[1-9][0-9]{1,14}")


def escape_cell(value: str, *, phone: bool = False) -> str:
    """``value`` made safe to open in a spreadsheet.

    A cell starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return is
    prefixed with ``'`` so the spreadsheet shows it as text instead of running
    it as a formula. In the phone column a valid E.164 number ("+33…") is left
    as it is: the "+" is part of the number.
    """
    if not value.startswith(FORMULA_PREFIXES) or (phone and _E164.fullmatch(value)):
        return value
    return "'" + value


def export_rows(
    service: LeadService, filters: LeadFilters, *, page_size: int = EXPORT_PAGE_SIZE
) -> Iterator[list[list[str]]]:
    """Pages of export rows (cells escaped) of the surviving leads matching ``filters``.

    Walks the lead list's keyset pages, so memory stays flat and the filters
    mean exactly what they mean for ``GET /api/v2/leads``.
    """
    cursor: str | None = None
    while True:
        page = service.list_leads(filters, limit=page_size, cursor=cursor)
        yield [_export_row(lead) for lead in page.items]
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def _export_row(lead: Mapping[str, Any]) -> list[str]:
    answers = lead["answers"]
    values: dict[str, Any] = {name: lead[name] for name in EXPORT_COLUMNS if name in lead}
    for key in ANSWER_KEYS:
        values[f"answer_{key}"] = answers[key]["raw"] if key in answers else None
    return [_cell(name, values[name]) for name in EXPORT_COLUMNS]


def _cell(column: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return escape_cell(value, phone=column == "phone")
    # Numbers and times are written by the store, never by a person.
    return str(value)


def iter_export_csv(
    service: LeadService, filters: LeadFilters, *, page_size: int = EXPORT_PAGE_SIZE
) -> Iterator[str]:
    """The export as CSV text, one chunk per page (the first one has the header)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    for rows in export_rows(service, filters, page_size=page_size):
        writer.writerows(rows)
        yield out.getvalue()
        out.seek(0)
        out.truncate()


def export_csv(
    service: LeadService,
    filters: LeadFilters,
    out: TextIO,
    *,
    page_size: int = EXPORT_PAGE_SIZE,
) -> int:
    """Write the export of the leads matching ``filters`` to ``out``; how many leads."""
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    count = 0
    for rows in export_rows(service, filters, page_size=page_size):
        writer.writerows(rows)
        count += len(rows)
    return count
