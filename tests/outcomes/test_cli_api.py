"""``python -m bot report outcomes`` and ``GET /api/v2/reports/outcomes`` over a seeded store."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.engine import Engine

from bot.cli import main
from bot.settings import Settings
from bot.web import create_app
from tests.outcomes.test_report import T0, Seed

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TOKEN = "outcomes-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SINCE = (T0 - timedelta(days=1)).date().isoformat()
UNTIL = (T0 + timedelta(days=5)).isoformat()


@pytest.fixture
def seeded(engine: Engine) -> Engine:
    seed = Seed()
    due = T0 + timedelta(hours=1)
    for index in range(20):
        lead_id = seed.buyer(due + timedelta(hours=1)) if index < 8 else seed.lead()
        seed.followup(lead_id, "cart", "queued", due)
    for index in range(10):
        lead_id = seed.buyer(due + timedelta(hours=1)) if index < 2 else seed.lead()
        seed.followup(lead_id, "cart", "held_out", due)
    seed.handoff(seed.lead(), "alice", ack_after=120, due_after=600)
    seed.insert(engine)
    return engine


def test_cli_table_json_and_charts(
    seeded: Engine,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    charts = tmp_path / "charts"
    args = ["report", "outcomes", "--since", SINCE, "--until", UNTIL]
    assert main([*args, "--json", "--charts", str(charts)]) == 0
    data = json.loads(capsys.readouterr().out)
    (cart,) = data["plays"]
    # 8/20 against 2/10.
    assert (cart["sent"], cart["held_out"], cart["converted"], cart["lift"]) == (20, 10, 10, 0.2)
    assert cart["revenue"] == 100
    assert data["reps"][0]["rep"] == "alice"
    assert data["reps"][0]["median_seconds_to_ack"] == 120.0
    assert [Path(p).name for p in data["charts"]] == ["outcomes_lift.png", "outcomes_reps.png"]
    for path in data["charts"]:
        assert Path(path).read_bytes().startswith(PNG_MAGIC)

    assert main(args) == 0
    out = capsys.readouterr().out
    assert "Per play" in out and "cart" in out and "Speed to lead per rep" in out


def test_cli_bad_dates(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    with pytest.raises(SystemExit) as exited:
        main(["report", "outcomes", "--since", "yesterday"])
    assert exited.value.code == 2
    assert "--since" in capsys.readouterr().err
    assert main(["report", "outcomes", "--since", "2026-12-01", "--until", "2026-11-01"]) == 2
    assert "since (2026-12-01T00:00:00+00:00) must be before until" in capsys.readouterr().err


@pytest.fixture
async def client(seeded: Engine, database_url: str, tmp_path: Path) -> AsyncIterator[TestClient]:
    settings = replace(
        Settings(), database_url=database_url, leads_api_token=TOKEN, spool_dir=tmp_path / "spool"
    )
    async with TestClient(TestServer(create_app(settings))) as test_client:
        yield test_client


async def test_api_report(
    client: TestClient,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    response = await client.get(
        "/api/v2/reports/outcomes", params={"since": SINCE, "until": UNTIL}, headers=AUTH
    )
    assert response.status == 200
    data = await response.json()
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert main(["report", "outcomes", "--since", SINCE, "--until", UNTIL, "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed.pop("charts") == []
    assert data == printed
    assert data["plays"][0]["lift"] == 0.2


async def test_api_errors(client: TestClient) -> None:
    response = await client.get("/api/v2/reports/outcomes")
    assert response.status == 401
    response = await client.get("/api/v2/reports/outcomes?since=soon", headers=AUTH)
    assert response.status == 400
    assert "'since'" in (await response.json())["error"]["message"]
    response = await client.get("/api/v2/reports/outcomes?until=2026-13-01", headers=AUTH)
    assert response.status == 400 and "'until'" in (await response.json())["error"]["message"]
    response = await client.get(
        "/api/v2/reports/outcomes?since=2026-12-01&until=2026-11-01", headers=AUTH
    )
    assert (
        response.status == 400 and "must be before" in (await response.json())["error"]["message"]
    )
    response = await client.get("/api/v2/reports/outcomes?limit=5", headers=AUTH)
    assert response.status == 400 and "limit" in (await response.json())["error"]["message"]


def test_openapi_documents_the_report() -> None:
    from bot.web.api import build_spec

    operation = build_spec()["paths"]["/api/v2/reports/outcomes"]["get"]
    assert operation["operationId"] == "getOutcomeReport"
    assert {p["name"] for p in operation["parameters"]} >= {"since", "until"}
    assert "400" in operation["responses"]
