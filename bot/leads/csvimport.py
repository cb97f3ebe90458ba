"""CSV import of leads (``python -m bot leads import``, ``POST /api/v2/leads/import``).

The header names the columns; each column is recognised by its field name
or one of :data:`SYNONYMS`, ignoring case, accents, spaces, ``_`` and ``-``
("E-mail", "email address" and "Mail" all mean ``email``). The delimiter is
whichever of ``,``, ``;`` or tab the header uses most (spreadsheets in
French locales save with ``;``). Every row is checked with the same rules
as the API (:func:`bot.store.contacts.clean_lead_fields`) and its problems
are reported with the row's line number and the column as the file names it.

A row whose e-mail address (or, without one, phone number) belongs to a
surviving lead, or to an earlier row of the same file, is a duplicate: it is
skipped, or with ``on_duplicate="update"`` its non-empty cells overwrite the
lead's contact fields, a different status is recorded in the status history
and its notes become a new note.

Rows are written in batches, one transaction each: an interrupted import
leaves whole batches only, and running it again with ``skip`` completes it.
Problems with the file as a whole (encoding, header) raise
:class:`CsvFileError` before anything is written. Columns of an export
(:mod:`bot.leads.csvexport`) that an import cannot set are ignored, and the
``'`` an export puts before a formula character is removed, so an export
imports back unchanged.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any, TextIO

from sqlalchemy.engine import Connection, Engine

from bot import clock
from bot.leads.csvexport import EXPORT_COLUMNS, FORMULA_PREFIXES, escape_cell
from bot.store import entries
from bot.store.contacts import LeadInputError, clean_lead_fields, normalise_source
from bot.store.db import write_transaction
from bot.store.lifecycle import furthest_lifecycle
from bot.store.sales import actor_name, record_status_change

# The columns of the template, in order: what an import can set.
COLUMNS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "company",
    "position",
    "address",
    "source",
    "status",
    "notes",
)
# Other header names accepted for each column (besides the column's own name).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "first_name": ("First Name", "firstname", "given name", "forename", "prénom"),
    "last_name": ("Last Name", "surname", "family name", "nom"),
    "email": ("Email", "E-mail", "email address", "mail"),
    "phone": ("Phone", "phone number", "telephone", "tel", "mobile"),
    "company": ("Company", "organisation", "organization", "company name"),
    "position": ("Position", "job title", "title", "role"),
    "address": ("Address", "street address"),
    "source": ("Source", "lead source"),
    "status": ("Status", "lead status"),
    "notes": ("Notes", "note", "comments", "message"),
}
ON_DUPLICATE = ("skip", "update")
DEFAULT_BATCH_SIZE = 1000
# Row errors kept for the report; later ones are only counted.
MAX_KEPT_ERRORS = 10_000
# The csv module refuses longer cells (its default is 128 KB); longer than any
# field allows, so an over-long cell is reported by the field's own limit.
MAX_CELL_CHARS = 1 << 20
STATUS_REASON = "CSV import"

_DELIMITERS = (",", ";", "\t")
csv.field_size_limit(max(csv.field_size_limit(), MAX_CELL_CHARS))


class CsvFileError(ValueError):
    """The file as a whole cannot be imported (encoding, header); nothing was written."""


@dataclass(frozen=True)
class RowError:
    """One problem of one row: its line in the file, the column as the file names it, why."""

    row: int
    column: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        """JSON shape of the error."""
        return {"row": self.row, "column": self.column, "reason": self.reason}


@dataclass
class ImportReport:
    """What an import did (or, in a dry run, would do).

    ``rows`` counts the data rows read (blank rows are not rows), each of them
    ``created``, ``updated``, ``skipped_duplicates`` or ``invalid``. ``errors``
    keeps the first :data:`MAX_KEPT_ERRORS` problems; ``error_count`` counts all.
    """

    dry_run: bool = False
    rows: int = 0
    created: int = 0
    updated: int = 0
    skipped_duplicates: int = 0
    invalid: int = 0
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0

    def reject(self, errors: Iterable[RowError]) -> None:
        """Count a row as invalid because of ``errors``."""
        self.invalid += 1
        for error in errors:
            self.error_count += 1
            if len(self.errors) < MAX_KEPT_ERRORS:
                self.errors.append(error)

    def as_dict(self, max_errors: int) -> dict[str, Any]:
        """JSON summary with at most ``max_errors`` errors (``error_count`` has them all)."""
        return {
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "skipped_duplicates": self.skipped_duplicates,
            "invalid": self.invalid,
            "dry_run": self.dry_run,
            "error_count": self.error_count,
            "errors": [error.as_dict() for error in self.errors[:max_errors]],
        }


def import_csv(
    engine: Engine,
    binary: IO[bytes],
    *,
    region: str | None,
    on_duplicate: str = "skip",
    dry_run: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    source: str = "import",
    encoding: str = "utf-8",
    ignore_unknown: bool = False,
    by: str = "csv import",
    progress: Callable[[int], None] | None = None,
    encoding_flag: str = "--encoding ",
) -> ImportReport:
    """Import the leads of the CSV file ``binary`` (seekable, opened in binary mode).

    ``region`` reads phone numbers written without "+" (the shop's country);
    ``source`` is the source of new leads whose row names none; ``by`` is the
    author of notes and status changes. ``progress`` is called with the number
    of rows read since its previous call, after every batch. ``encoding_flag``
    is how the caller's user picks another encoding ("--encoding " for the
    command line), quoted by the decoding error.

    Raises :class:`CsvFileError` (nothing written) for an unknown or wrong
    encoding or a header that cannot be mapped, and ``ValueError`` for bad
    arguments. With ``dry_run`` nothing is ever written.
    """
    if on_duplicate not in ON_DUPLICATE:
        raise ValueError(f"on_duplicate must be one of {', '.join(ON_DUPLICATE)}")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    try:
        source = normalise_source(source)
    except ValueError as exc:
        raise ValueError(f"source: {exc}") from None
    by = actor_name(by)
    text_encoding = _text_encoding(encoding)
    # Decoding is checked over the whole file first: a wrong encoding found at
    # line 90,000 would otherwise come after 89 committed batches.
    _check_decodable(binary, text_encoding, encoding_flag)
    binary.seek(0)
    text = io.TextIOWrapper(binary, encoding=text_encoding, newline="")
    try:
        return _Importer(
            engine,
            region=region,
            on_duplicate=on_duplicate,
            dry_run=dry_run,
            batch_size=batch_size,
            source=source,
            ignore_unknown=ignore_unknown,
            by=by,
            progress=progress,
        ).run(text)
    finally:
        # The caller owns the binary file: closing the wrapper would close it.
        text.detach()


def _text_encoding(encoding: str) -> str:
    try:
        name = codecs.lookup(encoding).name
        # Refuses the codecs that are not text encodings (base64, rot13, zlib…).
        "".encode(name)
    except LookupError:
        raise CsvFileError(f"unknown encoding {encoding!r}; try utf-8 or cp1252") from None
    # Spreadsheets often start UTF-8 files with a byte-order mark; it is not data.
    return "utf-8-sig" if name == "utf-8" else name


def _check_decodable(binary: IO[bytes], encoding: str, flag: str) -> None:
    """Raise :class:`CsvFileError` unless all of ``binary`` decodes."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    line = 1
    try:
        for raw in binary:
            decoder.decode(raw)
            line += raw.count(b"\n")
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        byte = exc.object[exc.start : exc.start + 1].hex()
        label = "UTF-8" if encoding == "utf-8-sig" else encoding
        advice = (
            f"save it as UTF-8 or pass {flag}cp1252"
            if label == "UTF-8"
            else f"save it as UTF-8 or check {flag.strip()}"
        )
        raise CsvFileError(
            f"file is not valid {label} (byte 0x{byte} at line {line}); {advice}"
        ) from None
    except UnicodeError:
        # Python 3.10's utf-16/utf-32 decoders raise a bare UnicodeError (not a
        # UnicodeDecodeError) for a file that does not start with a byte-order mark.
        raise CsvFileError(
            f"file is not valid {encoding}: it does not start with a byte-order mark; "
            f"save it as UTF-8, or name the byte order with {flag}{encoding}-le "
            f"or {flag}{encoding}-be"
        ) from None


@dataclass(frozen=True)
class _Row:
    """A valid row waiting for its batch."""

    line: int
    fields: dict[str, Any]

    @property
    def key(self) -> tuple[str, str]:
        """What makes two rows the same person: the e-mail address, else the phone."""
        email = self.fields.get("email")
        return ("email", email) if email else ("phone", self.fields["phone"])


@dataclass(frozen=True)
class _LeadRef:
    """A lead as :func:`record_status_change` needs it."""

    id: str
    status: str


@dataclass
class _Target:
    """The lead a row duplicates, as this import last left it."""

    id: str
    status: str
    lifecycle: str


@dataclass
class _BatchPlan:
    """The writes of one batch, in the order they run."""

    inserts: list[dict[str, Any]] = field(default_factory=list)
    # (lead id, the row's fields, the lead's lifecycle stage)
    updates: list[tuple[str, Mapping[str, Any], str]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)
    status_changes: list[tuple[_LeadRef, str]] = field(default_factory=list)


class _Importer:
    """One import run: reads rows, validates them, writes them batch by batch."""

    def __init__(
        self,
        engine: Engine,
        *,
        region: str | None,
        on_duplicate: str,
        dry_run: bool,
        batch_size: int,
        source: str,
        ignore_unknown: bool,
        by: str,
        progress: Callable[[int], None] | None,
    ) -> None:
        self.engine = engine
        self.region = region
        self.update = on_duplicate == "update"
        self.dry_run = dry_run
        self.batch_size = batch_size
        self.source = source
        self.ignore_unknown = ignore_unknown
        self.by = by
        self.progress = progress
        self.report = ImportReport(dry_run=dry_run)
        self.reported_rows = 0
        # A dry run writes nothing, so the leads its earlier batches would have
        # created are remembered here instead of being found in the store.
        self.planned: dict[tuple[str, str], _Target] = {}

    def run(self, text: TextIO) -> ImportReport:
        first = text.readline()
        delimiter = max(_DELIMITERS, key=first.count)
        # strict: a quote followed by anything but a delimiter, or a quoted cell
        # still open at the end of the file, is an error rather than a guess.
        reader = csv.reader(itertools.chain([first], text), delimiter=delimiter, strict=True)
        columns, names = self._header(reader)
        batch: list[_Row] = []
        for line, record in _records(reader, columns):
            self.report.rows += 1
            row = self._row(line, record, names)
            if row is None:
                continue
            batch.append(row)
            if len(batch) == self.batch_size:
                self._import_batch(batch)
                batch = []
        if batch:
            self._import_batch(batch)
        self._report_progress()
        return self.report

    def _header(self, reader: Any) -> tuple[list[str | None], dict[str, str]]:
        """Field of each column (``None``: ignored) and each field's column name."""
        try:
            header = next((cells for cells in reader if any(c.strip() for c in cells)), None)
        except csv.Error as exc:
            raise CsvFileError(
                f"line {reader.line_num}: the header is not valid CSV ({exc})"
            ) from None
        if header is None:
            raise CsvFileError(f"the file is empty; expected a header line: {','.join(COLUMNS)}")
        header_line = reader.line_num
        columns: list[str | None] = []
        names: dict[str, str] = {}
        unknown: list[str] = []
        for index, name in enumerate(header, start=1):
            key = _header_key(name)
            found = _HEADER_FIELDS.get(key)
            if found is None:
                if key not in _EXPORT_ONLY and not self.ignore_unknown:
                    unknown.append(repr(name) if name.strip() else f"column {index} (no name)")
                columns.append(None)
                continue
            if found in names:
                raise CsvFileError(
                    f"line {header_line}: columns {names[found]!r} and {name!r} both mean "
                    f"{found}; keep one of them"
                )
            names[found] = name
            columns.append(found)
        if unknown:
            raise CsvFileError(
                f"line {header_line}: unknown column(s) {', '.join(unknown)}; known columns: "
                f"{', '.join(COLUMNS)} (or their synonyms; see the README). Rename them, or "
                "ignore them with --ignore-unknown-columns (API: ignore_unknown_columns=true)"
            )
        missing = [name for name in ("first_name", "last_name") if name not in names]
        if "email" not in names and "phone" not in names:
            missing.append("email or phone")
        if missing:
            found_text = ",".join(header)
            raise CsvFileError(
                f"line {header_line}: missing required column(s): {', '.join(missing)}; "
                f"the header found is: {found_text}"
            )
        return columns, names

    def _row(
        self, line: int, record: dict[str, str] | list[RowError], names: Mapping[str, str]
    ) -> _Row | None:
        """The row, cleaned, or ``None`` once its problems are recorded."""
        if isinstance(record, list):
            self.report.reject(record)
            return None
        try:
            return _Row(line, clean_lead_fields(record, complete=True, region=self.region))
        except LeadInputError as exc:
            self.report.reject(
                RowError(line, names.get(error.field, error.field), error.message)
                for error in exc.errors
            )
            return None

    def _import_batch(self, rows: list[_Row]) -> None:
        now = clock.now()
        if self.dry_run:
            with self.engine.connect() as connection:
                self._plan(rows, self._existing(connection, rows), now)
        else:
            with write_transaction(self.engine) as connection:
                plan = self._plan(rows, self._existing(connection, rows), now)
                _write(connection, plan, self.by, now)
        self._report_progress()

    def _report_progress(self) -> None:
        if self.progress is not None and self.report.rows > self.reported_rows:
            self.progress(self.report.rows - self.reported_rows)
            self.reported_rows = self.report.rows

    def _existing(self, connection: Connection, rows: list[_Row]) -> dict[tuple[str, str], Any]:
        """Surviving leads with the batch's e-mail addresses or phone numbers: one query."""
        emails = {row.key[1] for row in rows if row.key[0] == "email"}
        phones = {row.key[1] for row in rows if row.key[0] == "phone"}
        leads = entries.leads_with_contacts(
            connection, emails, phones, lock=self.update and not self.dry_run
        )
        found: dict[tuple[str, str], Any] = {}
        # Oldest first: like the API, a duplicate belongs to the oldest such lead.
        for lead in leads:
            if lead.email in emails:
                found.setdefault(("email", lead.email), lead)
            if lead.phone in phones:
                found.setdefault(("phone", lead.phone), lead)
        return found

    def _plan(
        self, rows: list[_Row], existing: Mapping[tuple[str, str], Any], now: datetime
    ) -> _BatchPlan:
        plan = _BatchPlan()
        # Leads of this batch by key (new or found), as earlier rows left them.
        targets: dict[tuple[str, str], _Target] = {}
        # One target per lead, even when found by both its e-mail and its phone.
        by_id: dict[str, _Target] = {}
        for key, lead in existing.items():
            targets[key] = by_id.setdefault(
                lead.id, _Target(lead.id, lead.status, lead.lifecycle_stage)
            )
        for row in rows:
            target = targets.get(row.key) or self.planned.get(row.key)
            if target is None:
                values = entries.new_lead_values(row.fields, source=self.source, now=now)
                plan.inserts.append(values)
                if row.fields.get("notes"):
                    plan.notes.append(
                        entries.note_row(values["id"], row.fields["notes"], self.by, now)
                    )
                created = _Target(values["id"], values["status"], values["lifecycle_stage"])
                for name in ("email", "phone"):
                    if row.fields.get(name):
                        targets.setdefault((name, row.fields[name]), created)
                        if self.dry_run:
                            self.planned.setdefault((name, row.fields[name]), created)
                self.report.created += 1
            elif not self.update:
                self.report.skipped_duplicates += 1
            else:
                self._plan_update(plan, target, row.fields, now)
                self.report.updated += 1
        return plan

    def _plan_update(
        self, plan: _BatchPlan, target: _Target, fields: Mapping[str, Any], now: datetime
    ) -> None:
        # Every valid row has an e-mail address or a phone number: a lead at least.
        target.lifecycle = furthest_lifecycle(target.lifecycle, "lead")
        plan.updates.append((target.id, fields, target.lifecycle))
        status = fields.get("status")
        if status and status != target.status:
            plan.status_changes.append((_LeadRef(target.id, target.status), status))
            target.status = status
        if fields.get("notes"):
            plan.notes.append(entries.note_row(target.id, fields["notes"], self.by, now))


# A row's first line, and its non-empty cells by field or why it has none.
_Record = tuple[int, "dict[str, str] | list[RowError]"]


def _records(reader: Any, columns: list[str | None]) -> Iterator[_Record]:
    """Each non-blank row after the header, with its first line."""
    while True:
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield line, [RowError(line, "", f"malformed CSV: {exc}")]
            continue
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(columns):
            yield line, [RowError(line, "", f"expected {len(columns)} cells, got {len(cells)}")]
            continue
        # An empty cell gives nothing (a status cannot be cleared, an update keeps the value).
        yield (
            line,
            {
                name: _unescape(cell)
                for name, cell in zip(columns, cells, strict=True)
                if name is not None and cell.strip()
            },
        )


def _write(connection: Connection, plan: _BatchPlan, by: str, now: datetime) -> None:
    """Run one batch's writes: new leads first, since later rows may update them."""
    entries.insert_leads(connection, plan.inserts)
    entries.fill_contacts(connection, plan.updates, now)
    entries.insert_notes(connection, plan.notes)
    for lead, status in plan.status_changes:
        record_status_change(connection, lead, status, by, STATUS_REASON, now)


def _header_key(name: str) -> str:
    """``name`` without case, accents, spaces, ``_`` or ``-`` ("Prénom" → "prenom")."""
    decomposed = unicodedata.normalize("NFKD", name.strip().lstrip("\ufeff"))
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return re.sub(r"[\s_-]+", "", bare.casefold())


_HEADER_FIELDS = {
    _header_key(name): column
    for column, synonyms in SYNONYMS.items()
    for name in (column, *synonyms)
}
# Columns of an export that the import does not set: an export imports back as is.
_EXPORT_ONLY = frozenset(
    _header_key(name) for name in EXPORT_COLUMNS if _header_key(name) not in _HEADER_FIELDS
)


def _unescape(cell: str) -> str:
    """Undo :func:`escape_cell`: the ``'`` it put before a formula character."""
    if len(cell) > 1 and cell[0] == "'" and cell[1] in FORMULA_PREFIXES:
        return cell[1:]
    return cell


def write_error_report(errors: Iterable[RowError], out: TextIO) -> None:
    """Write ``errors`` as CSV with the columns ``row``, ``column``, ``reason``.

    Cells are escaped like an export's: a column name comes from the imported file.
    """
    writer = csv.writer(out)
    writer.writerow(("row", "column", "reason"))
    for error in errors:
        writer.writerow((error.row, escape_cell(error.column), escape_cell(error.reason)))


def template_csv() -> str:
    """An import template: the header and one example row."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    writer.writerow(
        (
            "Ada",
            "Lovelace",
            "ada@example.com",
            "+33 6 12 34 56 78",
            "Analytical Engines",
            "Head of purchasing",
            "12 rue de la Paix, 75002 Paris",
            "trade-show",
            "New",
            "Met at the Paris trade show; wants a quote for 40 hoodies",
        )
    )
    return out.getvalue()
