"""``python -m bot leads import|export``: summaries, error reports, exit codes.

Imports and exports run on SQLite and PostgreSQL; usage errors on SQLite only.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from bot.cli import main
from bot.store.db import create_db_engine
from bot.store.models import Lead

VALID = (
    "first_name,last_name,email,status\n"
    "Ada,Lovelace,ada@example.com,Won\n"
    "Cy,Young,cy@example.com,\n"
)


# Usage errors stop before the database is opened: SQLite is enough.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def store(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """The lead store the commands use (``DATABASE_URL``), on SQLite and PostgreSQL."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("SHOP_COUNTRY", "FR")
    engine = create_db_engine(database_url)
    yield engine
    engine.dispose()


def emails(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return sorted(connection.execute(select(Lead.email)).scalars())


def write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def test_valid_file_exits_0_without_an_error_report(
    store: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "leads.csv", VALID)
    assert main(["leads", "import", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"imported {path}: 2 row(s) in " in out
    assert "2 created, 0 updated, 0 skipped (duplicates), 0 invalid" in out
    assert emails(store) == ["ada@example.com", "cy@example.com"]
    assert not (tmp_path / "leads.errors.csv").exists()

    assert main(["leads", "import", str(path), "--on-duplicate", "update"]) == 0
    assert "0 created, 2 updated" in capsys.readouterr().out


def test_invalid_rows_exit_1_and_write_the_error_report(
    store: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "leads.csv", VALID + "Bob,,bob@example,\n")
    assert main(["leads", "import", str(path), "--batch-size", "1", "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "2 created, 0 updated, 0 skipped (duplicates), 1 invalid" in out
    report = tmp_path / "leads.errors.csv"
    assert f"error report: {report} (2 error(s))" in out
    assert list(csv.reader(io.StringIO(report.read_text(encoding="utf-8")))) == [
        ["row", "column", "reason"],
        [
            "4",
            "email",
            "expected an e-mail address like name@example.com (The part after "
            "the @-sign is not valid. It should have a period.)",
        ],
        ["4", "last_name", "required"],
    ]
    assert emails(store) == ["ada@example.com", "cy@example.com"]

    chosen = tmp_path / "reports" / "mine.csv"
    chosen.parent.mkdir()
    assert main(["leads", "import", str(path), "--errors", str(chosen), "--dry-run"]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"dry run of {path}, nothing written: 3 row(s)")
    assert "would create 0, update 0, skip 2 duplicate(s); 1 invalid" in out
    assert len(chosen.read_text(encoding="utf-8").splitlines()) == 3


def test_dry_run_writes_nothing(store: Engine, tmp_path: Path) -> None:
    path = write(tmp_path / "leads.csv", VALID)
    assert main(["leads", "import", str(path), "--dry-run", "--source", "fair"]) == 0
    assert emails(store) == []


@pytest.mark.parametrize(
    ("content", "options", "message"),
    [
        ("email,phone\nada@example.com,\n", [], "missing required column(s): first_name"),
        (
            "first_name,last_name,email\nÉlodie,Dupré,e@x.fr\n".encode("cp1252"),
            [],
            "file is not valid UTF-8 (byte 0xc9 at line 2); save it as UTF-8 or pass "
            "--encoding cp1252; nothing was imported",
        ),
        (VALID, ["--encoding", "klingon"], "unknown encoding 'klingon'"),
        (VALID.replace("status", "colour"), [], "unknown column(s) 'colour'"),
    ],
)
@sqlite_only
def test_file_errors_exit_2(
    store: Engine,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: str | bytes,
    options: list[str],
    message: str,
) -> None:
    path = write(tmp_path / "leads.csv", content)
    assert main(["leads", "import", str(path), *options]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{path}: ")
    assert message in err
    assert emails(store) == []
    assert not (tmp_path / "leads.errors.csv").exists()


@sqlite_only
def test_missing_file_exits_2(
    store: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["leads", "import", str(tmp_path / "nope.csv")]) == 2
    assert "cannot read the file (No such file or directory)" in capsys.readouterr().err


@sqlite_only
def test_an_error_report_in_a_missing_directory_exits_2_first(
    store: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "leads.csv", VALID)
    report = tmp_path / "nowhere" / "errors.csv"
    assert main(["leads", "import", str(path), "--errors", str(report)]) == 2
    assert "no such directory for the error report" in capsys.readouterr().err
    assert emails(store) == []


def test_the_source_is_a_label_as_people_write_it(store: Engine, tmp_path: Path) -> None:
    path = write(tmp_path / "leads.csv", VALID)
    assert main(["leads", "import", str(path), "--source", " Trade   show "]) == 0
    with store.connect() as connection:
        assert set(connection.execute(select(Lead.source)).scalars()) == {"Trade show"}


@sqlite_only
def test_a_bad_source_is_a_usage_error(
    store: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "leads.csv", VALID)
    with pytest.raises(SystemExit) as exited:
        main(["leads", "import", str(path), "--source", "x" * 41])
    assert exited.value.code == 2
    assert "expected a label of at most 40 characters, got 41" in capsys.readouterr().err


def test_export_to_a_file_and_to_stdout(
    store: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["leads", "import", str(write(tmp_path / "in.csv", VALID))]) == 0
    capsys.readouterr()
    out = tmp_path / "out.csv"
    assert main(["leads", "export", "-o", str(out), "--status", "Won"]) == 0
    assert f"exported 1 lead(s) to {out}" in capsys.readouterr().err
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [row["email"] for row in rows] == ["ada@example.com"]

    assert main(["leads", "export", "--source", "chat"]) == 0
    assert "exported 0 lead(s)" in capsys.readouterr().err
    # The import's source, in another case and spacing.
    assert main(["leads", "export", "--source", " IMPORT "]) == 0
    assert "exported 2 lead(s)" in capsys.readouterr().err
    assert main(["leads", "export", "--stage", "cold", "--min-score", "0"]) == 0
    captured = capsys.readouterr()
    rows = list(csv.DictReader(io.StringIO(captured.out)))
    assert sorted(row["email"] for row in rows) == ["ada@example.com", "cy@example.com"]
    assert "exported 2 lead(s)" in captured.err
    with pytest.raises(SystemExit):
        main(["leads", "export", "--status", "Maybe"])


def test_lead_count_is_unchanged_by_a_failed_import(store: Engine, tmp_path: Path) -> None:
    main(["leads", "import", str(write(tmp_path / "in.csv", VALID))])
    with store.connect() as connection:
        before = connection.execute(select(func.count()).select_from(Lead)).scalar_one()
    main(["leads", "import", str(write(tmp_path / "bad.csv", "first_name\nAda\n"))])
    with store.connect() as connection:
        assert connection.execute(select(func.count()).select_from(Lead)).scalar_one() == before
