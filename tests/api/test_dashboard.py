"""The dashboard: its JSON and CSV API, the page's charts and tables, ranges, escaping and auth.

The store is the hand-built one of ``tests/store/test_reports.py`` (2-15 November 2026).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import insert
from sqlalchemy.engine import Engine

from bot import clock
from bot.store.db import create_db_engine
from bot.store.models import Handoff, Lead
from bot.store.tokens import EVENTS_WRITE, LEADS_READ, TokenStore
from bot.web import create_app
from bot.web.dashboard import CHARTS
from tests.store.test_reports import at, build_store, handoff, lead
from tests.store.test_sales_desk import handoff_settings

TOKEN = "sales-token-123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
# The store's times are UTC; the team of the handoff file works in Europe/Paris.
RANGE = "from=2026-11-02&to=2026-11-15&zone=UTC"
XSS = "<script>alert(1)</script>"


async def _client(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[TestClient, Engine]]:
    settings = handoff_settings(
        database_url=database_url,
        leads_api_token=TOKEN,
        storefront_token="storefront-token-456",
        spool_dir=tmp_path / "spool",
    )
    engine = create_db_engine(database_url)
    build_store(engine)
    try:
        async with TestClient(TestServer(create_app(settings))) as client:
            yield client, engine
    finally:
        engine.dispose()


@pytest.fixture
async def client(migrated_sqlite_url: str, tmp_path: Path) -> AsyncIterator[TestClient]:
    async for built, _ in _client(migrated_sqlite_url, tmp_path):
        yield built


@pytest.fixture
async def any_db_client(database_url: str, tmp_path: Path) -> AsyncIterator[TestClient]:
    async for built, _ in _client(database_url, tmp_path):
        yield built


@pytest.fixture
async def hostile_client(migrated_sqlite_url: str, tmp_path: Path) -> AsyncIterator[TestClient]:
    """A hot lead whose reason, SLA and acknowledging rep are markup or a formula."""
    async for built, engine in _client(migrated_sqlite_url, tmp_path):
        reason = {"points": 30, "rule": XSS, "detail": XSS}
        with engine.begin() as connection:
            connection.execute(
                insert(Lead.__table__),
                [lead("x1", at(6), "hot", 60, reasons=[reason], status="New")],
            )
            connection.execute(
                insert(Handoff.__table__),
                [handoff("hx", "x1", XSS, at(6), timedelta(hours=1), timedelta(minutes=2), "=1+2")],
            )
        yield built


async def _json(response: Any, status: int) -> Any:
    assert response.status == status, await response.text()
    return await response.json()


async def test_api_answers_every_chart_of_the_range(any_db_client: TestClient) -> None:
    response = await any_db_client.get(f"/api/v2/reports/dashboard?{RANGE}", headers=AUTH)
    report = await _json(response, 200)
    assert (report["from"], report["to"], report["bucket"]) == ("2026-11-02", "2026-11-15", "day")
    assert [step["count"] for step in report["funnel"]] == [4, 5, 4, 2]
    assert report["stages_over_time"][0] == {"period": "2026-11-02", "cold": 0, "warm": 0, "hot": 2}
    # Today h5 is past due without an acknowledgement: missed.
    assert report["handoffs_by_sla"][1] == {
        "sla": "warm-4h",
        "handoffs": 3,
        "met": 1,
        "missed": 2,
        "pending": 0,
        "share_met": 0.3333,
    }
    assert report["acknowledge_by_rep"][1] == {
        "rep": "Ben",
        "acknowledged": 2,
        "median_seconds": 12600.0,
    }
    assert report["conversion_by_band"][-1] == {"band": "80-100", "leads": 1, "won": 1, "rate": 1.0}
    assert report["hot_reasons"][0] == {"rule": "fit.budget", "leads": 1, "points": 20}


async def test_weeks_on_request(client: TestClient) -> None:
    response = await client.get(f"/api/v2/reports/dashboard?{RANGE}&bucket=week", headers=AUTH)
    report = await _json(response, 200)
    assert [row["period"] for row in report["stages_over_time"]] == ["2026-11-02", "2026-11-09"]


async def test_default_range_is_the_last_30_days(client: TestClient) -> None:
    with clock.frozen(datetime(2026, 11, 20, 15, tzinfo=timezone.utc)):
        report = await _json(await client.get("/api/v2/reports/dashboard", headers=AUTH), 200)
    assert (report["from"], report["to"], report["bucket"]) == ("2026-10-22", "2026-11-20", "day")
    # b1 and b2 (1 and 16 November) are in this range too, but never chatted.
    assert report["zone"] == "Europe/Paris"
    assert report["funnel"][0] == {"step": "chats", "count": 4}
    assert sum(row["hot"] for row in report["stages_over_time"]) == 4


async def test_days_default_to_the_team_zone(client: TestClient) -> None:
    """b1 came at 23:59 UTC on 1 November: 2 November in Paris, the first team's zone."""
    paris = await client.get(
        "/api/v2/reports/dashboard?from=2026-11-02&to=2026-11-02", headers=AUTH
    )
    utc = await client.get(f"/api/v2/reports/dashboard?{RANGE}", headers=AUTH)
    assert (await _json(paris, 200))["stages_over_time"] == [
        {"period": "2026-11-02", "cold": 0, "warm": 0, "hot": 3}
    ]
    assert (await _json(utc, 200))["stages_over_time"][0]["hot"] == 2


async def test_a_long_range_is_counted_per_week(client: TestClient) -> None:
    response = await client.get(
        "/api/v2/reports/dashboard?from=2026-01-01&to=2026-12-31", headers=AUTH
    )
    assert (await _json(response, 200))["bucket"] == "week"


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        # not a day
        ("from=yesterday", "from", "query parameter 'from' must be a day like 2026-11-30"),
        # no such day
        ("to=2026-02-30", "to", "query parameter 'to' must be a day like 2026-11-30"),
        # the range ends before it starts
        ("from=2026-11-10&to=2026-11-01", "to", "must not be before 'from' (2026-11-10)"),
        # over a year and a day
        ("from=2025-01-01&to=2026-01-02", "to", "must be at most 366 days from 'from'"),
        ("bucket=month", "bucket", "query parameter 'bucket' must be one of day, week"),
        # not a time zone, or a path
        ("zone=Mars/Olympus", "zone", "query parameter 'zone' must be a time zone like"),
        ("zone=../../etc/passwd", "zone", "must be a time zone like Europe/Paris"),
        ("zone=Europe", "zone", "must be a time zone like Europe/Paris"),
    ],
)
async def test_bad_range_is_400_naming_the_field(
    client: TestClient, query: str, field: str, message: str
) -> None:
    for path in ("/api/v2/reports/dashboard?", "/api/v2/reports/dashboard.csv?chart=funnel&"):
        response = await client.get(f"{path}{query}", headers=AUTH)
        body = await _json(response, 400)
        assert body["error"]["field"] == field
        assert message in body["error"]["message"]
    page = await client.get(f"/leads/dashboard?{query}", headers=AUTH)
    assert page.status == 400
    text = await page.text()
    assert f"Field <strong>{field}</strong>" in text
    assert message.replace("'", "&#x27;") in text


async def test_unknown_parameter_is_400(client: TestClient) -> None:
    response = await client.get("/api/v2/reports/dashboard?since=2026-11-01", headers=AUTH)
    assert "unknown query parameter(s): since" in (await _json(response, 400))["error"]["message"]


@pytest.mark.parametrize(
    ("query", "got"),
    [
        ("chart=pie", "got 'pie'"),  # no such chart
        ("", "got nothing"),  # no chart named
    ],
)
async def test_csv_needs_a_known_chart(client: TestClient, query: str, got: str) -> None:
    response = await client.get(f"/api/v2/reports/dashboard.csv?{RANGE}&{query}", headers=AUTH)
    body = await _json(response, 400)
    assert body["error"]["field"] == "chart"
    assert body["error"]["message"].endswith(f"one of {', '.join(CHARTS)}, {got}")


@pytest.mark.parametrize(
    ("chart", "expected"),
    [
        ("funnel", "step,leads\r\nchats,4\r\nqualified,5\r\nhanded_off,4\r\nwon,2\r\n"),
        (
            "sla",
            "sla,handoffs,met,missed,pending,share_met\r\n"
            "hot-15m,3,1,2,0,33.3%\r\nwarm-4h,3,1,2,0,33.3%\r\n",
        ),
        ("reps", "rep,acknowledged,median_minutes\r\nAna,3,20.0\r\nBen,2,210.0\r\n"),
        (
            "conversion_stage",
            "stage,leads,won,conversion\r\ncold,2,1,50.0%\r\nwarm,2,0,0.0%\r\nhot,2,1,50.0%\r\n",
        ),
        ("reasons", "reason,hot_leads,points\r\nfit.budget,1,20\r\nintent.checkout,1,40\r\n"),
    ],
)
async def test_csv_of_a_chart(client: TestClient, chart: str, expected: str) -> None:
    response = await client.get(
        f"/api/v2/reports/dashboard.csv?{RANGE}&chart={chart}", headers=AUTH
    )
    assert response.status == 200, await response.text()
    assert response.content_type == "text/csv"
    assert (
        response.headers["Content-Disposition"]
        == f'attachment; filename="dashboard-{chart}-2026-11-02-2026-11-15.csv"'
    )
    assert await response.text() == expected


async def test_csv_cells_never_run_as_formulas(hostile_client: TestClient) -> None:
    response = await hostile_client.get(
        f"/api/v2/reports/dashboard.csv?{RANGE}&chart=reps", headers=AUTH
    )
    assert "\r\n'=1+2,1,2.0\r\n" in await response.text()


async def test_page_draws_each_chart_with_its_table_and_csv(client: TestClient) -> None:
    response = await client.get(f"/leads/dashboard?{RANGE}", headers=AUTH)
    assert response.status == 200, await response.text()
    page = await response.text()
    assert '<a href="/leads/dashboard">Dashboard</a>' in page
    for chart in CHARTS:
        panel = page.split(f'<section class="chart-panel" id="{chart}">', 1)[1].split("</section>")[
            0
        ]
        assert f'<svg class="chart" role="img" aria-labelledby="chart-{chart}-title' in panel
        assert f'<title id="chart-{chart}-title">' in panel
        assert "<table>" in panel and "<td>" in panel
        assert (
            f'href="/leads/dashboard.csv?chart={chart}&amp;from=2026-11-02&amp;to=2026-11-15'
            "&amp;bucket=day&amp;zone=UTC" in panel
        )
    funnel = page.split('id="chart-funnel-desc">', 1)[1].split("</desc>")[0]
    assert funnel == "Chats: 4; Qualified: 5; Handed off: 4; Won: 2"
    assert page.count("<rect ") >= 4 + 5 + 2 + 2 + 3 + 5 + 2


async def test_page_of_an_empty_range_says_so(client: TestClient) -> None:
    page = await client.get("/leads/dashboard?from=2025-01-01&to=2025-01-31", headers=AUTH)
    assert page.status == 200
    assert "No data in this range." in await page.text()


async def test_page_csv_downloads_a_chart(client: TestClient) -> None:
    response = await client.get(f"/leads/dashboard.csv?{RANGE}&chart=funnel", headers=AUTH)
    assert response.status == 200
    assert (await response.text()).startswith("step,leads\r\nchats,4\r\n")


async def test_labels_with_markup_render_as_text(hostile_client: TestClient) -> None:
    response = await hostile_client.get(f"/leads/dashboard?{RANGE}", headers=AUTH)
    page = await response.text()
    assert response.status == 200
    assert "<script" not in page
    # In the SVG (tooltips, labels), the description and the table.
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 6


async def test_dashboard_is_not_taken_for_a_lead_id(client: TestClient) -> None:
    page = await client.get("/leads/dashboard", headers=AUTH)
    assert "<h1>Dashboard</h1>" in await page.text()
    unknown = await client.get(f"/leads/{'d' * 32}", headers=AUTH)
    assert unknown.status == 404
    assert "There is no lead with id" in await unknown.text()


@pytest.mark.parametrize(
    "path", ["/api/v2/reports/dashboard", "/api/v2/reports/dashboard.csv?chart=funnel"]
)
async def test_api_needs_a_token_with_leads_read(
    migrated_sqlite_url: str, tmp_path: Path, path: str
) -> None:
    async for client, engine in _client(migrated_sqlite_url, tmp_path):
        events_only, _ = TokenStore(engine).create("shop", [EVENTS_WRITE])
        assert (await client.get(path)).status == 401
        forbidden = await client.get(path, headers={"Authorization": f"Bearer {events_only}"})
        body = await _json(forbidden, 403)
        assert LEADS_READ in body["error"]["message"]
        reader, _ = TokenStore(engine).create("reader", [LEADS_READ])
        assert (await client.get(path, headers={"Authorization": f"Bearer {reader}"})).status == 200


@pytest.mark.parametrize("path", ["/leads/dashboard", "/leads/dashboard.csv?chart=funnel"])
async def test_page_sends_strangers_to_sign_in(
    migrated_sqlite_url: str, tmp_path: Path, path: str
) -> None:
    async for client, engine in _client(migrated_sqlite_url, tmp_path):
        events_only, _ = TokenStore(engine).create("shop", [EVENTS_WRITE])
        for headers in ({}, {"Authorization": f"Bearer {events_only}"}):
            response = await client.get(path, headers=headers, allow_redirects=False)
            assert response.status == 303
            assert response.headers["Location"].startswith("/login?next=/leads/dashboard")


async def test_openapi_declares_the_dashboard(client: TestClient) -> None:
    spec = await _json(await client.get("/api/v2/openapi.json", headers=AUTH), 200)
    for path in ("/api/v2/reports/dashboard", "/api/v2/reports/dashboard.csv"):
        operation = spec["paths"][path]["get"]
        assert {"from", "to", "bucket", "zone"} <= {
            param["name"] for param in operation["parameters"]
        }
        assert {"200", "400", "401", "403"} <= set(operation["responses"])
