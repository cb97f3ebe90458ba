"""CSV import of leads: headers, encodings, malformed files, dedupe, batches, reports."""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection, Engine

from bot import clock
from bot.leads import csvimport as csvio
from bot.leads.csvimport import (
    CsvFileError,
    ImportReport,
    RowError,
    import_csv,
    template_csv,
    write_error_report,
)
from bot.store.models import Lead, LeadNote, LeadStatusChange

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)
HEADER = "first_name,last_name,email,phone,company,position,address,source,status,notes\n"


def run(engine: Engine, data: str | bytes, **options: Any) -> ImportReport:
    raw = data.encode() if isinstance(data, str) else data
    options.setdefault("region", "FR")
    return import_csv(engine, io.BytesIO(raw), **options)


def leads(engine: Engine) -> list[Any]:
    """Every surviving lead, by e-mail address then phone."""
    with engine.connect() as connection:
        return list(
            connection.execute(
                select(Lead.__table__)
                .where(Lead.merged_into.is_(None))
                .order_by(Lead.email, Lead.phone)
            )
        )


def count(engine: Engine, model: Any) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(model)).scalar_one())


def only_lead(engine: Engine) -> Any:
    (lead,) = leads(engine)
    return lead


# --- header -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        "First Name,Last Name,Email,Phone,Company,Position,Address,Source,Status,Notes",
        "firstname,surname,E-mail,phone number,organisation,job title,street address,"
        "lead source,lead status,comments",
        "Given name,Family-Name,Email Address,Telephone,Organization,Title,ADDRESS,Source,"
        "Lead_Status,Note",
        "Prénom;Nom;Mail;Mobile;Company Name;Role;Address;Source;Status;Message",
        "  forename\t FAMILY NAME\tmail\ttel\tcompany\trole\taddress\tsource\tstatus\tmessage",
    ],
)
def test_header_synonyms_and_delimiters(engine: Engine, header: str) -> None:
    delimiter = ";" if ";" in header else "\t" if "\t" in header else ","
    cells = [
        "Ada",
        "Lovelace",
        "ada@example.com",
        "06 12 34 56 78",
        "Analytical Engines",
        "Buyer",
        "12 rue de la Paix",
        "trade-show",
        "Contacted",
        "wants 40 hoodies",
    ]
    report = run(engine, f"{header}\n{delimiter.join(cells)}\n")
    assert (report.created, report.invalid, report.errors) == (1, 0, [])
    lead = only_lead(engine)
    assert (lead.first_name, lead.last_name, lead.email, lead.phone) == (
        "Ada",
        "Lovelace",
        "ada@example.com",
        "+33612345678",
    )
    assert (lead.company, lead.position, lead.address) == (
        "Analytical Engines",
        "Buyer",
        "12 rue de la Paix",
    )
    assert (lead.source, lead.status, lead.stage, lead.lifecycle_stage) == (
        "trade-show",
        "Contacted",
        "cold",
        "lead",
    )
    with engine.connect() as connection:
        notes = connection.execute(select(LeadNote.lead_id, LeadNote.text, LeadNote.author)).all()
    assert [tuple(note) for note in notes] == [(lead.id, "wants 40 hoodies", "csv import")]


def test_template_imports_as_is(engine: Engine) -> None:
    template = template_csv()
    assert template.splitlines()[0] == HEADER.strip()
    report = run(engine, template)
    assert (report.rows, report.created, report.invalid) == (1, 1, 0)
    assert only_lead(engine).address == "12 rue de la Paix, 75002 Paris"


def test_default_source_applies_to_rows_without_one(engine: Engine) -> None:
    run(engine, "first_name,last_name,email\nAda,Lovelace,ada@example.com\n", source="fair-2026")
    assert only_lead(engine).source == "fair-2026"


@pytest.mark.parametrize(
    ("cell", "stored"),
    [
        ("Trade show", "Trade show"),  # a label as people type it
        ('" Email   campaign "', "Email campaign"),  # trimmed, spaces made one
        ("Salon Öko", "Salon Öko"),  # any letters
        ("REFERRAL", "REFERRAL"),  # case kept: the list filter ignores it
        ("web_form", "web_form"),  # a source the product sets itself
        ("", "Phone call"),  # no source: the import's
        ("   ", "Phone call"),  # a cell of spaces is empty too
    ],
)
def test_source_column_takes_labels(engine: Engine, cell: str, stored: str) -> None:
    run(
        engine,
        f"first_name,last_name,email,Lead Source\nAda,Lovelace,ada@example.com,{cell}\n",
        source="Phone call",
    )
    assert only_lead(engine).source == stored


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        # too long
        ("x" * 41, "expected a label of at most 40 characters, got 41"),
        # a line break inside a quoted cell: a label is one line
        ('"Trade\nshow"', "expected a label of visible characters; got U+000A at character 6"),
        # an invisible character would make a second "Trade show"
        ("Trade\u200bshow", "expected a label of visible characters; got U+200B at character 6"),
    ],
)
def test_bad_source_cells_are_reported_by_column(engine: Engine, cell: str, message: str) -> None:
    data = f"first_name,last_name,email,Lead Source\nAda,Lovelace,ada@example.com,{cell}\n"
    report = run(engine, data)
    assert (report.created, report.invalid) == (0, 1)
    assert report.errors == [RowError(2, "Lead Source", message)]


@pytest.mark.parametrize(
    ("header", "missing"),
    [
        ("first_name,email", "missing required column(s): last_name; the header found is: "),
        ("Given name,surname,company", "missing required column(s): email or phone"),
        ("email,phone", "missing required column(s): first_name, last_name"),
    ],
)
def test_missing_required_columns_are_a_file_error(
    engine: Engine, header: str, missing: str
) -> None:
    with pytest.raises(CsvFileError) as raised:
        run(engine, f"{header}\nAda,ada@example.com,x\n")
    assert missing in str(raised.value)
    assert header in str(raised.value)
    assert count(engine, Lead) == 0


def test_unknown_columns_are_named_unless_ignored(engine: Engine) -> None:
    data = "first_name,last_name,email,Favourite colour,\nAda,Lovelace,ada@example.com,blue,\n"
    with pytest.raises(CsvFileError) as raised:
        run(engine, data)
    message = str(raised.value)
    assert "unknown column(s) 'Favourite colour', column 5 (no name)" in message
    assert "known columns: first_name, last_name, email, phone" in message
    assert "--ignore-unknown-columns" in message
    assert count(engine, Lead) == 0
    report = run(engine, data, ignore_unknown=True)
    assert report.created == 1


def test_two_columns_for_one_field_are_a_file_error(engine: Engine) -> None:
    with pytest.raises(CsvFileError, match="columns 'Email' and 'E-mail' both mean email"):
        run(engine, "first_name,last_name,Email,E-mail\nAda,Lovelace,a@example.com,b@example.com\n")


def test_empty_file_is_a_file_error(engine: Engine) -> None:
    with pytest.raises(CsvFileError, match="the file is empty; expected a header line"):
        run(engine, "\n\n")


# --- encodings --------------------------------------------------------------------------------


def test_utf8_byte_order_mark_is_not_part_of_the_header(engine: Engine) -> None:
    report = run(
        engine, b"\xef\xbb\xbf" + "first_name,last_name,email\nÉlodie,Dupré,e@x.fr\n".encode()
    )
    assert report.created == 1
    assert only_lead(engine).first_name == "Élodie"


def test_cp1252_file_names_the_line_and_the_fix(engine: Engine) -> None:
    data = (HEADER + "Ada,Lovelace,ada@example.com,,,,,,,\nÉlodie,Dupré,e@x.fr,,,,,,,\n").encode(
        "cp1252"
    )
    with pytest.raises(CsvFileError) as raised:
        # One row a batch: the bad line comes after a batch that could have been written.
        run(engine, data, batch_size=1)
    assert str(raised.value) == (
        "file is not valid UTF-8 (byte 0xc9 at line 3); save it as UTF-8 or pass --encoding cp1252"
    )
    assert count(engine, Lead) == 0
    report = run(engine, data, encoding="cp1252")
    assert report.created == 2
    assert [lead.last_name for lead in leads(engine)] == ["Lovelace", "Dupré"]


@pytest.mark.parametrize("encoding", ["klingon", "rot13", "base64"])
def test_unknown_encoding_is_a_file_error(engine: Engine, encoding: str) -> None:
    with pytest.raises(CsvFileError, match=f"unknown encoding '{encoding}'"):
        run(engine, HEADER, encoding=encoding)


# --- malformed rows ---------------------------------------------------------------------------


def test_quoted_cells_keep_commas_newlines_and_quotes(engine: Engine) -> None:
    data = (
        HEADER
        + 'Ada,Lovelace,ada@example.com,,"Smith, Jones & Co",,"1 Main St\nFlat 2",,,'
        + '"She said ""call me"" twice"\n'
        + "Bob,Smith,not-an-email,,,,,,,\n"
    )
    report = run(engine, data)
    assert (report.rows, report.created, report.invalid) == (2, 1, 1)
    lead = only_lead(engine)
    assert lead.company == "Smith, Jones & Co"
    assert lead.address == "1 Main St\nFlat 2"
    with engine.connect() as connection:
        assert connection.execute(select(LeadNote.text)).scalar_one() == 'She said "call me" twice'
    # The first record spans lines 2-3: Bob is on line 4.
    assert [(error.row, error.column) for error in report.errors] == [(4, "email")]


def test_overlong_cell_is_a_row_error_naming_row_and_column(engine: Engine) -> None:
    data = (
        "First Name,Last Name,Email,Company\n"
        "Ada,Lovelace,ada@example.com,Analytical Engines\n"
        f"Bob,Smith,bob@example.com,{'x' * 10_000}\n"
        "Cy,Young,cy@example.com,\n"
    )
    report = run(engine, data)
    assert report.errors == [RowError(3, "Company", "expected at most 160 characters, got 10000")]
    assert (report.created, report.invalid) == (2, 1)
    assert [lead.email for lead in leads(engine)] == ["ada@example.com", "cy@example.com"]


def test_wrong_number_of_cells(engine: Engine) -> None:
    data = (
        "first_name,last_name,email,phone,company\n"
        "Ada,Lovelace,ada@example.com,,,x,y\n"
        "Bob,Smith\n"
        "Cy,Young,cy@example.com,,\n"
    )
    report = run(engine, data)
    assert report.errors == [
        RowError(2, "", "expected 5 cells, got 7"),
        RowError(3, "", "expected 5 cells, got 2"),
    ]
    assert [lead.email for lead in leads(engine)] == ["cy@example.com"]


def test_nul_byte_is_a_row_error(engine: Engine) -> None:
    data = "first_name,last_name,email\nAda,Love\x00lace,ada@example.com\nCy,Young,cy@example.com\n"
    report = run(engine, data)
    assert [(error.row, error.column) for error in report.errors] == [(2, "")]
    assert "NUL" in report.errors[0].reason
    assert [lead.email for lead in leads(engine)] == ["cy@example.com"]


def test_unterminated_quote_at_the_end_is_a_row_error(engine: Engine) -> None:
    data = 'first_name,last_name,email\nCy,Young,cy@example.com\nAda,Lovelace,"ada@example.com\n'
    report = run(engine, data)
    assert report.errors == [RowError(3, "", "malformed CSV: unexpected end of data")]
    assert (report.rows, report.created, report.invalid) == (2, 1, 1)


def test_blank_lines_are_skipped_and_lines_still_counted(engine: Engine) -> None:
    data = (
        "first_name,last_name,email\n"
        "\n"
        "Ada,Lovelace,ada@example.com\n"
        " , ,\n"
        "\r\n"
        "Bob,,bob@example.com\n"
    )
    report = run(engine, data)
    assert (report.rows, report.created, report.invalid) == (2, 1, 1)
    assert report.errors == [RowError(6, "last_name", "required")]


def test_every_problem_of_a_row_is_reported(engine: Engine) -> None:
    report = run(engine, "First Name,Last Name,E-mail,Status\n,Lovelace,nope,Maybe\n")
    assert [(e.row, e.column) for e in report.errors] == [
        (2, "E-mail"),
        (2, "Status"),
        (2, "First Name"),
    ]
    assert report.error_count == 3 and report.invalid == 1


def test_phone_numbers_become_e164(engine: Engine) -> None:
    data = (
        "first_name,last_name,phone\n"
        "Ada,Lovelace,06 12 34 56 78\n"
        "Bob,Smith,+44 20 7946 0958\n"
        "Cy,Young,12\n"
    )
    report = run(engine, data)
    assert [lead.phone for lead in leads(engine)] == ["+33612345678", "+442079460958"]
    assert [(e.row, e.column) for e in report.errors] == [(4, "phone")]
    assert "read as a FR number" in report.errors[0].reason


def test_error_count_goes_on_past_the_kept_errors(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csvio, "MAX_KEPT_ERRORS", 2)
    report = run(engine, "first_name,last_name,email\n" + "A,B,bad\n" * 5)
    assert (report.invalid, report.error_count, len(report.errors)) == (5, 5, 2)


def test_a_lead_imported_as_won_is_converted(engine: Engine) -> None:
    data = (
        HEADER
        + "Ada,Lovelace,ada@example.com,,,,,,Won,\n"
        + "Bob,Smith,bob@example.com,,,,,,Qualified,\n"
        + "Cy,Young,cy@example.com,,,,,,Won,\n"
    )
    with clock.frozen(NOW):
        run(engine, data, batch_size=2)
    converted = {lead.email: (lead.lifecycle_stage, lead.converted_at) for lead in leads(engine)}
    assert converted == {
        "ada@example.com": ("customer", NOW),
        "bob@example.com": ("qualified_lead", None),
        "cy@example.com": ("customer", NOW),
    }


# --- duplicates -------------------------------------------------------------------------------

EXISTING = (
    HEADER
    + "Ada,Lovelace,ada@example.com,,Old Co,,1 Old Street,,New,\n"
    + "Phil,Phone,,06 12 34 56 78,,,,,,\n"
)
AGAIN = (
    HEADER
    + "Ada,Lovelace,ADA@Example.com,,New Co,CTO,,,Qualified,call back in May\n"
    + "Bob,Smith,bob@example.com,,,,,,,\n"
    + "Bobby,Smith,bob@example.com,,Bob Inc,,,,Won,second row\n"
    + "Philip,Phone,,+33612345678,Phone Co,,,,,\n"
)


def test_skip_keeps_existing_leads_and_the_first_row_of_the_file(engine: Engine) -> None:
    run(engine, EXISTING)
    before = {lead.email or lead.phone: lead for lead in leads(engine)}
    report = run(engine, AGAIN, batch_size=2)
    assert (report.created, report.updated, report.skipped_duplicates) == (1, 0, 3)
    after = {lead.email or lead.phone: lead for lead in leads(engine)}
    assert after["ada@example.com"] == before["ada@example.com"]
    assert after["+33612345678"] == before["+33612345678"]
    assert after["bob@example.com"].first_name == "Bob"
    assert after["bob@example.com"].company is None
    assert count(engine, LeadStatusChange) == 0
    assert count(engine, LeadNote) == 0


def test_update_overwrites_with_non_empty_cells(engine: Engine) -> None:
    run(engine, EXISTING)
    ada_id = next(lead.id for lead in leads(engine) if lead.email == "ada@example.com")
    report = run(engine, AGAIN, on_duplicate="update", batch_size=2)
    assert (report.created, report.updated, report.skipped_duplicates) == (1, 3, 0)
    after = {lead.email or lead.phone: lead for lead in leads(engine)}
    assert len(after) == 3
    ada = after["ada@example.com"]
    assert ada.id == ada_id
    # Empty cells keep what the lead had; the others replace it.
    assert (ada.company, ada.position, ada.address) == ("New Co", "CTO", "1 Old Street")
    assert ada.status == "Qualified"
    bob = after["bob@example.com"]
    assert (bob.first_name, bob.company, bob.status) == ("Bobby", "Bob Inc", "Won")
    phil = after["+33612345678"]
    assert (phil.first_name, phil.company) == ("Philip", "Phone Co")
    with engine.connect() as connection:
        history = connection.execute(
            select(
                LeadStatusChange.lead_id,
                LeadStatusChange.from_status,
                LeadStatusChange.to_status,
                LeadStatusChange.changed_by,
                LeadStatusChange.reason,
            ).order_by(LeadStatusChange.id)
        ).all()
        notes = connection.execute(
            select(LeadNote.lead_id, LeadNote.text).order_by(LeadNote.id)
        ).all()
    assert [tuple(row) for row in history] == [
        (ada_id, "New", "Qualified", "csv import", "CSV import"),
        (bob.id, "New", "Won", "csv import", "CSV import"),
    ]
    assert [tuple(row) for row in notes] == [
        (ada_id, "call back in May"),
        (bob.id, "second row"),
    ]


def test_duplicates_within_one_batch_update_the_new_lead(engine: Engine) -> None:
    data = HEADER + "Bob,Smith,bob@example.com,,,,,,,\nBobby,Smith,bob@example.com,,,,,,Lost,\n"
    report = run(engine, data, on_duplicate="update")
    assert (report.created, report.updated) == (1, 1)
    bob = only_lead(engine)
    assert (bob.first_name, bob.status) == ("Bobby", "Lost")
    with engine.connect() as connection:
        change = connection.execute(
            select(LeadStatusChange.from_status, LeadStatusChange.to_status)
        ).one()
    assert tuple(change) == ("New", "Lost")


def test_merged_leads_are_not_duplicates(engine: Engine) -> None:
    run(engine, EXISTING)
    with engine.begin() as connection:
        survivor = connection.execute(select(Lead.id).where(Lead.email.is_(None))).scalar_one()
        connection.execute(
            update(Lead.__table__)
            .where(Lead.email == "ada@example.com")
            .values(merged_into=survivor)
        )
    report = run(engine, "first_name,last_name,email\nAda,Lovelace,ada@example.com\n")
    assert report.created == 1


def test_dry_run_counts_everything_and_writes_nothing(engine: Engine) -> None:
    run(engine, EXISTING)
    before = leads(engine)
    for on_duplicate, expected in (("skip", (1, 0, 3)), ("update", (1, 3, 0))):
        report = run(
            engine,
            AGAIN + "X,Y,bad,,,,,,,\n",
            on_duplicate=on_duplicate,
            dry_run=True,
            batch_size=1,
        )
        assert report.dry_run
        assert (report.created, report.updated, report.skipped_duplicates) == expected
        assert report.invalid == 1
    assert leads(engine) == before
    assert count(engine, LeadNote) == 0
    assert count(engine, LeadStatusChange) == 0


# --- batches ----------------------------------------------------------------------------------


class _FailingConnection:
    """A connection whose third statement fails (after the batch's leads were inserted)."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._statements = 0

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        self._statements += 1
        if self._statements == 3:
            raise RuntimeError("the database went away")
        return self._connection.execute(*args, **kwargs)


def test_crash_leaves_whole_batches_and_a_rerun_completes(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = HEADER + "".join(
        f"First{n},Last{n},lead{n}@example.com,,Co {n},,,,,note {n}\n" for n in range(50)
    )
    real = csvio.write_transaction
    transactions = 0

    @contextlib.contextmanager
    def crashing_third(engine: Engine) -> Iterator[Any]:
        nonlocal transactions
        transactions += 1
        with real(engine) as connection:
            yield _FailingConnection(connection) if transactions == 3 else connection

    monkeypatch.setattr(csvio, "write_transaction", crashing_third)
    with pytest.raises(RuntimeError, match="the database went away"):
        run(engine, data, batch_size=10)
    stored = leads(engine)
    assert sorted(lead.email for lead in stored) == sorted(
        f"lead{n}@example.com" for n in range(20)
    )
    assert all(lead.company == lead.first_name.replace("First", "Co ") for lead in stored)
    assert count(engine, LeadNote) == 20

    monkeypatch.setattr(csvio, "write_transaction", real)
    report = run(engine, data, batch_size=10)
    assert (report.created, report.skipped_duplicates) == (30, 20)
    assert count(engine, Lead) == 50
    assert count(engine, LeadNote) == 50


def test_progress_counts_every_row(engine: Engine) -> None:
    calls: list[int] = []
    data = "first_name,last_name,email\n" + "".join(
        f"A,B,{'bad' if n % 3 == 0 else f'a{n}@example.com'}\n" for n in range(25)
    )
    report = run(engine, data, batch_size=5, progress=calls.append)
    assert sum(calls) == report.rows == 25
    assert len(calls) > 1


def test_bad_arguments_are_refused(engine: Engine) -> None:
    with pytest.raises(ValueError, match="on_duplicate must be one of skip, update"):
        run(engine, HEADER, on_duplicate="merge")
    with pytest.raises(ValueError, match="batch_size"):
        run(engine, HEADER, batch_size=0)
    with pytest.raises(ValueError, match="source: expected a label of at most 40 characters"):
        run(engine, HEADER, source="x" * 41)
    with pytest.raises(ValueError, match="source: expected a label such as 'Trade show'"):
        run(engine, HEADER, source=" ")
    with pytest.raises(ValueError, match="by: expected a name of 1 to 120 characters"):
        run(engine, HEADER, by=" ")


# --- error report -----------------------------------------------------------------------------


def test_error_report_csv(engine: Engine) -> None:
    data = (
        "First Name,Last Name,E-mail,Company\n"
        "Ada,Lovelace,ada@example,\n"
        'Bob,,bob@example.com,"=HYPERLINK(""http://evil"")"\n'
        "Cy,Young\n"
    )
    report = run(engine, data)
    out = io.StringIO()
    write_error_report(report.errors, out)
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[0] == ["row", "column", "reason"]
    assert [row[:2] for row in rows[1:]] == [["2", "E-mail"], ["3", "Last Name"], ["4", ""]]
    assert rows[2][2] == "required"
    assert rows[3][2] == "expected 4 cells, got 2"
    assert rows[1][2].startswith("expected an e-mail address like name@example.com")
