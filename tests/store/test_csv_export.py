"""CSV export of leads: filters, formula escaping, answers, round trip through the import."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine

from bot.leads import LeadService
from bot.leads.commands import RecordAnswer, UpdateContact
from bot.leads.csvexport import EXPORT_COLUMNS, escape_cell, export_csv, iter_export_csv
from bot.leads.csvimport import import_csv
from bot.store.db import create_db_engine
from bot.store.entries import new_lead_values
from bot.store.migrate import upgrade
from bot.store.models import Lead
from bot.store.queries import LeadFilters

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)
CONTACT = ("first_name", "last_name", "email", "phone", "company", "position", "address")


def import_text(engine: Engine, text: str) -> None:
    report = import_csv(engine, io.BytesIO(text.encode()), region="FR")
    assert report.invalid == 0, report.errors


def exported(engine: Engine, filters: LeadFilters | None = None, **options: int) -> list[dict]:
    out = io.StringIO()
    count = export_csv(LeadService(engine), filters or LeadFilters(), out, **options)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert len(rows) == count
    return rows


def test_header_and_answers(engine: Engine) -> None:
    LeadService(engine).apply(
        [
            UpdateContact(session_id="chat-1", first_name="Ada", last_name="Lovelace"),
            UpdateContact(session_id="chat-1", email="ada@example.com"),
            RecordAnswer(
                "chat-1",
                "m1:budget",
                "budget",
                "around 300 bucks",
                {"amount": Decimal("300"), "currency": "USD"},
                "answered",
                T0,
            ),
            RecordAnswer(
                "chat-1", "m2:timeline", "timeline", "next week", {"days": 7}, "answered", T0
            ),
        ]
    )
    out = io.StringIO()
    export_csv(LeadService(engine), LeadFilters(), out)
    assert out.getvalue().splitlines()[0] == ",".join(EXPORT_COLUMNS)
    (row,) = exported(engine)
    assert (row["first_name"], row["email"], row["source"], row["status"]) == (
        "Ada",
        "ada@example.com",
        "chat",
        "New",
    )
    assert (row["answer_budget"], row["answer_timeline"], row["answer_variant"]) == (
        "around 300 bucks",
        "next week",
        "",
    )
    assert row["lifecycle"] == "lead" and row["score"] == "0" and row["stage"] == "cold"
    assert datetime.fromisoformat(row["created_at"]).tzinfo is not None


def test_filters_match_the_lead_list(engine: Engine) -> None:
    import_text(
        engine,
        "first_name,last_name,email,status\n"
        + "".join(f"F{n},L{n},lead{n}@example.com,{'Won' if n % 2 else 'New'}\n" for n in range(6)),
    )
    with engine.begin() as connection:
        connection.execute(
            update(Lead.__table__)
            .where(Lead.email.in_(["lead0@example.com", "lead1@example.com"]))
            .values(stage="hot", score=80)
        )
        connection.execute(
            update(Lead.__table__).where(Lead.email == "lead2@example.com").values(score=40)
        )
        # A lead merged into another one is not a lead of its own any more.
        survivor = connection.execute(
            select(Lead.id).where(Lead.email == "lead0@example.com")
        ).scalar_one()
        connection.execute(
            update(Lead.__table__)
            .where(Lead.email == "lead5@example.com")
            .values(merged_into=survivor)
        )

    def emails(**filters: object) -> list[str]:
        return sorted(row["email"] for row in exported(engine, LeadFilters(**filters)))

    assert emails() == [f"lead{n}@example.com" for n in range(5)]
    assert emails(status="Won") == ["lead1@example.com", "lead3@example.com"]
    assert emails(stage="hot") == ["lead0@example.com", "lead1@example.com"]
    assert emails(min_score=40) == [f"lead{n}@example.com" for n in range(3)]
    assert emails(stage="hot", status="New") == ["lead0@example.com"]
    for filters, page in ((LeadFilters(), 2), (LeadFilters(status="New"), 1)):
        assert exported(engine, filters, page_size=page) == exported(engine, filters)


def test_pages_are_chunks_and_an_empty_store_has_a_header(engine: Engine) -> None:
    repository = LeadService(engine)
    assert list(iter_export_csv(repository, LeadFilters())) == [",".join(EXPORT_COLUMNS) + "\r\n"]
    import_text(
        engine,
        "first_name,last_name,email\n" + "".join(f"F{n},L{n},l{n}@example.com\n" for n in range(5)),
    )
    chunks = list(iter_export_csv(repository, LeadFilters(), page_size=2))
    assert len(chunks) == 3
    assert "".join(chunks).count("@example.com") == 5


@pytest.mark.parametrize(
    ("value", "phone", "expected"),
    [
        ('=HYPERLINK("http://evil")', False, '\'=HYPERLINK("http://evil")'),
        ("+33612345678", False, "'+33612345678"),
        ("+33612345678", True, "+33612345678"),
        ("+1 (555) 010-999", True, "'+1 (555) 010-999"),
        ("+cmd|' /C calc'!A0", True, "'+cmd|' /C calc'!A0"),
        ("-2+3", False, "'-2+3"),
        ("@SUM(A1)", False, "'@SUM(A1)"),
        ("\tTab", False, "'\tTab"),
        ("\rReturn", False, "'\rReturn"),
        ("Ada = genius", False, "Ada = genius"),
        ("", False, ""),
    ],
)
def test_escape_cell(value: str, phone: bool, expected: str) -> None:
    assert escape_cell(value, phone=phone) == expected


def test_formula_cells_are_escaped_in_the_export(engine: Engine) -> None:
    values = new_lead_values(
        {
            "first_name": "=1+1",
            "last_name": "@Lovelace",
            "email": "ada@example.com",
            "phone": "+33612345678",
            "company": "-Minus Co",
            "position": "\tBuyer",
            "address": "+33 rue",
            "source": "import",
        },
        source="import",
        now=T0,
    )
    with engine.begin() as connection:
        connection.execute(insert(Lead.__table__).values(**values))
    (row,) = exported(engine)
    assert [row[name] for name in CONTACT] == [
        "'=1+1",
        "'@Lovelace",
        "ada@example.com",
        "+33612345678",
        "'-Minus Co",
        "'\tBuyer",
        "'+33 rue",
    ]


def test_round_trip_into_an_empty_store(engine: Engine, tmp_path: Path) -> None:
    original = (
        "first_name,last_name,email,phone,company,position,address,source,status,notes\n"
        'Ada,Lovelace,ada@example.com,06 12 34 56 78,"Smith, Jones & Co",CTO,'
        '"1 Main St\nFlat 2",trade-show,Qualified,met at the fair\n'
        'Élodie,Dupré,,+44 20 7946 0958,=SUM(A1:A9),"The ""Boss""",,,Won,\n'
        "Bob,-Smith,bob@example.com,,@Corp,,,import,New,\n"
    )
    import_text(engine, original)
    out = io.StringIO()
    export_csv(LeadService(engine), LeadFilters(), out)
    target_url = f"sqlite:///{tmp_path / 'target.db'}"
    upgrade(target_url)
    target = create_db_engine(target_url)
    try:
        report = import_csv(target, io.BytesIO(out.getvalue().encode()), region="FR")
        assert (report.created, report.invalid) == (3, 0)

        def contacts(engine: Engine) -> set[tuple]:
            table = Lead.__table__
            columns = [table.c[name] for name in (*CONTACT, "source", "status")]
            with engine.connect() as connection:
                return {tuple(row) for row in connection.execute(select(*columns))}

        assert contacts(target) == contacts(engine)
        assert ("Élodie", "Dupré", None, "+442079460958", "=SUM(A1:A9)") in {
            row[:5] for row in contacts(target)
        }
    finally:
        target.dispose()
