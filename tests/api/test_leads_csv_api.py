"""CSV import and export over the API: template, import summary and report, export, errors."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from bot.leads.csvexport import EXPORT_COLUMNS
from bot.settings import Settings
from bot.store.db import create_db_engine
from bot.store.models import Lead
from bot.web import create_app, leads_csv

TOKEN = "sales-token-123"
SHOP_TOKEN = "storefront-token-456"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CSV_BODY = {**AUTH, "Content-Type": "text/csv"}
GOOD_AND_BAD = (
    "First Name,Last Name,E-mail,Phone,Status\n"
    "Ada,Lovelace,ada@example.com,06 12 34 56 78,Won\n"
    "Bob,Smith,bob@example,,\n"
    "Cy,Young,cy@example.com,,\n"
)
# For requests answered before anything differs between databases.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@dataclass
class Api:
    client: TestClient
    engine: Engine

    def emails(self) -> list[str]:
        with self.engine.connect() as connection:
            return sorted(connection.execute(select(Lead.email)).scalars())

    def count(self) -> int:
        with self.engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(Lead)).scalar_one())


@pytest.fixture
async def api(database_url: str, tmp_path: Path) -> AsyncIterator[Api]:
    settings = replace(
        Settings(),
        database_url=database_url,
        leads_api_token=TOKEN,
        storefront_token=SHOP_TOKEN,
        spool_dir=tmp_path / "spool",
        shop_country="FR",
    )
    engine = create_db_engine(database_url)
    async with TestClient(TestServer(create_app(settings))) as client:
        yield Api(client, engine)
    engine.dispose()


async def test_template_is_a_csv_download(api: Api) -> None:
    response = await api.client.get("/api/v2/leads/import/template", headers=AUTH)
    assert response.status == 200
    assert response.content_type == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="leads-template.csv"'
    header, example = list(csv.reader(io.StringIO(await response.text())))
    assert header[:4] == ["first_name", "last_name", "email", "phone"]
    assert len(example) == len(header)


async def test_import_answers_a_summary_and_writes_the_valid_rows(api: Api) -> None:
    response = await api.client.post("/api/v2/leads/import", data=GOOD_AND_BAD, headers=CSV_BODY)
    assert response.status == 200
    body = await response.json()
    assert {key: body[key] for key in ("rows", "created", "updated", "invalid", "dry_run")} == {
        "rows": 3,
        "created": 2,
        "updated": 0,
        "invalid": 1,
        "dry_run": False,
    }
    assert body["skipped_duplicates"] == 0
    assert [(e["row"], e["column"]) for e in body["errors"]] == [(3, "E-mail")]
    assert api.emails() == ["ada@example.com", "cy@example.com"]
    with api.engine.connect() as connection:
        ada = connection.execute(
            select(Lead.phone, Lead.status, Lead.source).where(Lead.email == "ada@example.com")
        ).one()
    assert tuple(ada) == ("+33612345678", "Won", "import")

    again = await api.client.post(
        "/api/v2/leads/import?on_duplicate=update",
        data="first_name,last_name,email,company\nAda,Lovelace,ada@example.com,Engines\n",
        headers=CSV_BODY,
    )
    assert (await again.json())["updated"] == 1
    with api.engine.connect() as connection:
        company = connection.execute(
            select(Lead.company).where(Lead.email == "ada@example.com")
        ).scalar_one()
    assert company == "Engines"


async def test_dry_run_writes_nothing(api: Api) -> None:
    response = await api.client.post(
        "/api/v2/leads/import?dry_run=true", data=GOOD_AND_BAD, headers=CSV_BODY
    )
    body = await response.json()
    assert (body["dry_run"], body["created"], body["invalid"]) == (True, 2, 1)
    assert api.count() == 0


async def test_import_with_accept_csv_answers_the_error_report(api: Api) -> None:
    response = await api.client.post(
        "/api/v2/leads/import", data=GOOD_AND_BAD, headers={**CSV_BODY, "Accept": "text/csv"}
    )
    assert response.status == 200
    assert response.content_type == "text/csv"
    assert "leads-import-errors.csv" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(await response.text())))
    assert rows[0] == ["row", "column", "reason"]
    assert [row[:2] for row in rows[1:]] == [["3", "E-mail"]]
    assert api.count() == 2


async def test_cp1252_body_is_a_400_until_its_encoding_is_given(api: Api) -> None:
    body = "first_name,last_name,email\nÉlodie,Dupré,e@example.fr\n".encode("cp1252")
    response = await api.client.post("/api/v2/leads/import", data=body, headers=CSV_BODY)
    assert response.status == 400
    message = (await response.json())["error"]["message"]
    assert message == (
        "file is not valid UTF-8 (byte 0xc9 at line 2); save it as UTF-8 or pass ?encoding=cp1252"
    )
    assert api.count() == 0
    by_query = await api.client.post(
        "/api/v2/leads/import?encoding=cp1252", data=body, headers=CSV_BODY
    )
    assert (await by_query.json())["created"] == 1
    by_charset = await api.client.post(
        "/api/v2/leads/import?on_duplicate=update",
        data=body,
        headers={**AUTH, "Content-Type": "text/csv; charset=windows-1252"},
    )
    assert (await by_charset.json())["updated"] == 1
    with api.engine.connect() as connection:
        assert connection.execute(select(Lead.last_name)).scalar_one() == "Dupré"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32"])
async def test_utf16_without_byte_order_mark_is_a_400_naming_the_byte_order(
    api: Api, encoding: str
) -> None:
    body = "first_name,last_name,email\nAda,Lovelace,ada@example.com\n".encode(f"{encoding}-le")
    response = await api.client.post(
        f"/api/v2/leads/import?encoding={encoding}", data=body, headers=CSV_BODY
    )
    assert response.status == 400
    assert (await response.json())["error"]["message"] == (
        f"file is not valid {encoding}: it does not start with a byte-order mark; save it as "
        f"UTF-8, or name the byte order with ?encoding={encoding}-le or ?encoding={encoding}-be"
    )
    assert api.count() == 0
    by_byte_order = await api.client.post(
        f"/api/v2/leads/import?encoding={encoding}-le", data=body, headers=CSV_BODY
    )
    assert (await by_byte_order.json())["created"] == 1


# The handler refuses its query and Content-Type before the import starts: those
# run on SQLite only. Encodings are refused by the import itself: both databases.
@pytest.mark.parametrize(
    ("database_url", "query", "headers", "status", "fragment"),
    [
        ("sqlite", "?mode=fast", CSV_BODY, 400, "unknown query parameter(s): mode"),
        (
            "sqlite",
            "?on_duplicate=merge",
            CSV_BODY,
            400,
            "'on_duplicate' must be one of skip, update",
        ),
        ("sqlite", "?dry_run=maybe", CSV_BODY, 400, "'dry_run' must be true or false"),
        ("sqlite", "?encoding=klingon", CSV_BODY, 400, "unknown encoding 'klingon'"),
        pytest.param(
            "postgres",
            "?encoding=klingon",
            CSV_BODY,
            400,
            "unknown encoding 'klingon'",
            marks=pytest.mark.postgres,
        ),
        ("sqlite", "?encoding=rot13", CSV_BODY, 400, "unknown encoding 'rot13'"),
        pytest.param(
            "postgres",
            "?encoding=rot13",
            CSV_BODY,
            400,
            "unknown encoding 'rot13'",
            marks=pytest.mark.postgres,
        ),
        ("sqlite", "", {**AUTH, "Content-Type": "application/json"}, 415, "Content-Type: text/csv"),
    ],
    indirect=["database_url"],
)
async def test_bad_imports_are_refused(
    api: Api, query: str, headers: dict[str, str], status: int, fragment: str
) -> None:
    response = await api.client.post(
        f"/api/v2/leads/import{query}", data=GOOD_AND_BAD, headers=headers
    )
    assert response.status == status
    assert fragment in (await response.json())["error"]["message"]
    assert api.count() == 0


async def test_header_problems_are_a_400(api: Api) -> None:
    response = await api.client.post(
        "/api/v2/leads/import", data="name,email\nAda,ada@example.com\n", headers=CSV_BODY
    )
    assert response.status == 400
    message = (await response.json())["error"]["message"]
    assert "unknown column(s) 'name'" in message
    ignored = await api.client.post(
        "/api/v2/leads/import?ignore_unknown_columns=true",
        data="name,email\nAda,ada@example.com\n",
        headers=CSV_BODY,
    )
    assert ignored.status == 400
    assert (
        "missing required column(s): first_name, last_name"
        in ((await ignored.json())["error"]["message"])
    )


async def test_bodies_over_the_limit_are_413(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(leads_csv, "MAX_IMPORT_BYTES", 64)
    response = await api.client.post("/api/v2/leads/import", data=GOOD_AND_BAD, headers=CSV_BODY)
    assert response.status == 413

    async def chunked() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield GOOD_AND_BAD.encode()

    streamed = await api.client.post("/api/v2/leads/import", data=chunked(), headers=CSV_BODY)
    assert streamed.status == 413
    assert api.count() == 0


# The auth middleware answers before any handler runs: SQLite only (each route
# is still served on PostgreSQL by the tests above and below).
@sqlite_only
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v2/leads/import/template"),
        ("POST", "/api/v2/leads/import"),
        ("GET", "/api/v2/leads/export.csv"),
    ],
)
async def test_routes_need_a_sales_token(api: Api, method: str, path: str) -> None:
    anonymous = await api.client.request(method, path, data=GOOD_AND_BAD)
    assert anonymous.status == 401
    storefront = await api.client.request(
        method,
        path,
        data=GOOD_AND_BAD,
        headers={"Authorization": f"Bearer {SHOP_TOKEN}", "Content-Type": "text/csv"},
    )
    assert storefront.status == 403
    assert api.count() == 0


async def test_export_streams_the_filtered_leads(api: Api) -> None:
    await api.client.post("/api/v2/leads/import", data=GOOD_AND_BAD, headers=CSV_BODY)
    response = await api.client.get("/api/v2/leads/export.csv", headers=AUTH)
    assert response.status == 200
    assert response.content_type == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="leads.csv"'
    rows = list(csv.DictReader(io.StringIO(await response.text())))
    assert list(rows[0]) == list(EXPORT_COLUMNS)
    assert sorted(row["email"] for row in rows) == ["ada@example.com", "cy@example.com"]
    assert {row["phone"] for row in rows} == {"+33612345678", ""}

    won = await api.client.get("/api/v2/leads/export.csv?status=Won&stage=cold", headers=AUTH)
    assert [row["email"] for row in csv.DictReader(io.StringIO(await won.text()))] == [
        "ada@example.com"
    ]
    none = await api.client.get("/api/v2/leads/export.csv?min_score=1", headers=AUTH)
    assert (await none.text()).strip() == ",".join(EXPORT_COLUMNS)
    searched = await api.client.get(
        "/api/v2/leads/export.csv", params={"q": "YOUNG", "source": "import"}, headers=AUTH
    )
    assert [row["email"] for row in csv.DictReader(io.StringIO(await searched.text()))] == [
        "cy@example.com"
    ]
    other_source = await api.client.get("/api/v2/leads/export.csv?source=chat", headers=AUTH)
    assert len(list(csv.DictReader(io.StringIO(await other_source.text())))) == 0


# Refused by the handler before the export reads a row: SQLite only
# (test_export_streams_the_filtered_leads exports on PostgreSQL).
@sqlite_only
@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("limit=5", "unknown query parameter(s): limit"),
        ("stage=boiling", "'stage' must be one of cold, warm, hot"),
        ("min_score=ten", "'min_score' must be an integer"),
        ("updated_since=yesterday", "'updated_since' must be an ISO 8601 time"),
    ],
)
async def test_bad_export_filters_are_400(api: Api, query: str, fragment: str) -> None:
    response = await api.client.get(f"/api/v2/leads/export.csv?{query}", headers=AUTH)
    assert response.status == 400
    assert fragment in (await response.json())["error"]["message"]
