"""The OpenAPI document: public, complete, and a schemathesis run finds no 5xx."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from aiohttp.test_utils import TestClient, TestServer

from bot.devstack import StackPorts
from bot.settings import PROJECT_ROOT, Settings
from bot.store.migrate import upgrade
from bot.web import create_app
from bot.web.api import build_spec
from tests.schemathesis_cli import run_schemathesis

TOKEN = "openapi-test-token"
STARTUP_SECONDS = 60


def _documented() -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in build_spec()["paths"].items()
        for method in item
        if method != "parameters"
    }


def test_every_api_route_is_documented_and_nothing_else(tmp_path: Path) -> None:
    app = create_app(replace(Settings(), database_url=f"sqlite:///{tmp_path / 'l.db'}"))
    routed = {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith("/api/")
        and route.method != "HEAD"
    }
    assert routed == _documented()


def test_the_document_is_valid_openapi() -> None:
    schema = schemathesis.openapi.from_dict(build_spec())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {f"{op.method.upper()} {op.path}" for op in operations} == {
        f"{method} {path}" for method, path in _documented()
    }


async def test_the_document_is_served_without_a_token(tmp_path: Path) -> None:
    settings = replace(
        Settings(),
        database_url=f"sqlite:///{tmp_path / 'l.db'}",
        tracker_store_url=f"sqlite:///{tmp_path / 't.db'}",
        leads_api_token=TOKEN,
    )
    upgrade(settings.database_url)
    async with TestClient(TestServer(create_app(settings))) as client:
        response = await client.get("/api/v2/openapi.json")
        assert response.status == 200
        document = await response.json()
        assert document["openapi"].startswith("3.")
        assert document["paths"]["/api/v2/leads"]["post"]["operationId"] == "createLead"
        # Everything else still needs a token.
        assert (await client.get("/api/v2/leads")).status == 401


@pytest.fixture
def web_app(tmp_path: Path) -> Iterator[str]:
    """The web app as a real process on a free loopback port; its base URL."""
    database = f"sqlite:///{tmp_path / 'leads.db'}"
    upgrade(database)
    port = StackPorts.free().web
    environment = {
        **os.environ,
        "DATABASE_URL": database,
        "TRACKER_STORE_URL": f"sqlite:///{tmp_path / 'tracker.db'}",
        "LEADS_API_TOKEN": TOKEN,
        "STOREFRONT_TOKEN": TOKEN + "-storefront",
        "SESSION_SECRET": "openapi-test-secret",
        "LEADS_SPOOL_DIR": str(tmp_path / "spool"),
        "WEB_HOST": "127.0.0.1",
        "WEB_PORT": str(port),
        # Let every generated form submission and sign-in reach the validation code.
        "FORM_RATE_LIMIT": "0",
        "LOGIN_RATE_LIMIT": "0",
        "RASA_TELEMETRY_ENABLED": "false",
    }
    log = tmp_path / "web.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "web"],
            cwd=PROJECT_ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        base_url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + STARTUP_SECONDS
            while True:
                try:
                    with urllib.request.urlopen(f"{base_url}/healthz", timeout=2):
                        break
                except OSError:
                    if time.monotonic() > deadline or process.poll() is not None:
                        pytest.fail(f"web app did not start:\n{log.read_text()}")
                    time.sleep(0.2)
            yield base_url
        finally:
            process.terminate()
            process.wait(timeout=30)


def _text_field(max_length: int) -> dict[str, Any]:
    return {"type": "string", "maxLength": max_length}


def _page_form(fields: dict[str, dict[str, Any]], required: list[str]) -> dict[str, Any]:
    """A POST of the lead pages: the form in both encodings browsers send."""
    schema = {"type": "object", "properties": fields, "required": required}
    return {
        "post": {
            "requestBody": {
                "required": True,
                "content": {
                    "application/x-www-form-urlencoded": {"schema": schema},
                    "multipart/form-data": {"schema": schema},
                },
            },
            "responses": {
                status: {"description": description}
                for status, description in (
                    ("200", "A page"),
                    ("303", "Back to a page"),
                    ("400", "An invalid field or an unreadable body"),
                    ("401", "Not signed in or wrong token"),
                    ("403", "Wrong CSRF or ack token, or a read-only token"),
                    ("404", "Unknown lead or handoff"),
                    ("413", "Body too large"),
                    ("429", "Too many failed sign-ins"),
                )
            },
        }
    }


def _pages_document() -> dict[str, Any]:
    """The lead pages' form posts, for schemathesis only: they are HTML, not the API."""
    lead_id = {"name": "lead_id", "in": "path", "required": True, "schema": {"type": "string"}}
    handoff_id = {**lead_id, "name": "handoff_id"}
    return {
        "openapi": "3.0.3",
        "info": {"title": "Lead pages (test-only)", "version": "1"},
        "paths": {
            "/login": _page_form(
                {"token": _text_field(200), "name": _text_field(200), "next": _text_field(300)},
                ["token", "name"],
            ),
            "/logout": _page_form({"csrf": _text_field(100)}, []),
            "/leads/{lead_id}/status": {
                "parameters": [lead_id],
                **_page_form(
                    {
                        "status": {"type": "string"},
                        "reason": _text_field(2000),
                        "csrf": _text_field(100),
                    },
                    ["status"],
                ),
            },
            "/leads/{lead_id}/notes": {
                "parameters": [lead_id],
                **_page_form({"text": _text_field(6000), "csrf": _text_field(100)}, ["text"]),
            },
            "/handoffs/{handoff_id}/ack": {
                "parameters": [handoff_id],
                **_page_form(
                    {"token": _text_field(100), "name": _text_field(200), "csrf": _text_field(100)},
                    [],
                ),
            },
        },
    }


def _schemathesis(schema: str, base_url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    # 25 examples rather than 40 takes ~35% off this test's time.
    return run_schemathesis(
        schema,
        base_url,
        tmp_path,
        max_examples=25,
        seed=20261130,
        headers=(f"Authorization: Bearer {TOKEN}",),
    )


def test_schemathesis_finds_no_server_error(web_app: str, tmp_path: Path) -> None:
    result = _schemathesis(f"{web_app}/api/v2/openapi.json", web_app, tmp_path)
    log = (tmp_path / "web.log").read_text()
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "unhandled error" not in log, log[-4000:]


def test_schemathesis_finds_no_server_error_on_the_lead_pages(web_app: str, tmp_path: Path) -> None:
    document = tmp_path / "pages.json"
    document.write_text(json.dumps(_pages_document()))
    result = _schemathesis(str(document), web_app, tmp_path)
    log = (tmp_path / "web.log").read_text()
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "unhandled error" not in log, log[-4000:]
