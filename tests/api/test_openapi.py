"""The OpenAPI document: public, complete, and a schemathesis run finds no 5xx."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import schemathesis
from aiohttp.test_utils import TestClient, TestServer

from bot.devstack import StackPorts
from bot.settings import PROJECT_ROOT, Settings
from bot.store.migrate import upgrade
from bot.web import create_app
from bot.web.openapi import build_spec

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
        # Let every generated form submission reach the validation code.
        "FORM_RATE_LIMIT": "0",
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


def test_schemathesis_finds_no_server_error(web_app: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "schemathesis"),
            "run",
            f"{web_app}/api/v2/openapi.json",
            "--header",
            f"Authorization: Bearer {TOKEN}",
            "--checks",
            "not_a_server_error",
            # Per operation and phase (every phase runs). 25 rather than 40 takes ~35%
            # off this test's time; the fixed seed keeps the run reproducible.
            "--max-examples",
            "25",
            "--seed",
            "20261130",
            "--generation-database",
            "none",
            "--workers",
            "1",
            "--request-timeout",
            "20",
            "--no-color",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
    )
    log = (tmp_path / "web.log").read_text()
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "unhandled error" not in log, log[-4000:]
