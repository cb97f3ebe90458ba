"""Every route that reads a body answers a body it cannot read with a 4xx, never a 500.

Each request shape below once gave a 500 on some route (aiohttp's form reader
lets its decoding and framing errors through). The routes are taken from the
app's router, so a route added later is covered without editing this file.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from bot import logredact
from bot.settings import Settings
from bot.store.migrate import upgrade
from bot.web import create_app

TOKEN = "hostile-bodies-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
URLENCODED = "application/x-www-form-urlencoded"
PART = b'--b\r\nContent-Disposition: form-data; name="text"\r\n'

BODIES = [
    # (id, Content-Type, body)
    ("invalid-utf8-form", URLENCODED, b"token=\xff\xfe&name=x&text=\xc3"),
    ("unknown-charset-form", f"{URLENCODED}; charset=foo", b"token=a&name=x&text=y"),
    ("binary-codec-charset", f"{URLENCODED}; charset=base64", b"token=a"),
    ("multipart-no-boundary", "multipart/form-data", b"token=a"),
    ("multipart-empty-boundary", 'multipart/form-data; boundary=""', b"--\r\n"),
    ("multipart-long-boundary", f"multipart/form-data; boundary={'b' * 71}", b"--b\r\n"),
    ("multipart-truncated", "multipart/form-data; boundary=b", PART + b"\r\nvalue"),
    ("multipart-no-first-boundary", "multipart/form-data; boundary=b", b"value\r\n"),
    (
        "multipart-part-without-name",
        "multipart/form-data; boundary=b",
        b"--b\r\nContent-Disposition: form-data\r\n\r\nvalue\r\n--b--\r\n",
    ),
    (
        "multipart-part-unknown-charset",
        "multipart/form-data; boundary=b",
        PART + b"Content-Type: text/plain; charset=foo\r\n\r\nvalue\r\n--b--\r\n",
    ),
    (
        "multipart-part-invalid-utf8",
        "multipart/form-data; boundary=b",
        PART + b"Content-Type: text/plain\r\n\r\n\xff\xfe\r\n--b--\r\n",
    ),
    (
        "multipart-part-bad-header",
        "multipart/form-data; boundary=b",
        b"--b\r\nBad Header\r\n\r\nvalue\r\n--b--\r\n",
    ),
    (
        "multipart-unknown-transfer-encoding",
        "multipart/form-data; boundary=b",
        PART + b"Content-Transfer-Encoding: rot13\r\n\r\nvalue\r\n--b--\r\n",
    ),
    (
        "multipart-bad-base64",
        "multipart/form-data; boundary=b",
        PART + b"Content-Transfer-Encoding: base64\r\n\r\n%%%\r\n--b--\r\n",
    ),
    (
        "multipart-bad-charset-field",
        "multipart/form-data; boundary=b",
        b'--b\r\nContent-Disposition: form-data; name="_charset_"\r\n\r\n'
        + b"x" * 40
        + b"\r\n--b--\r\n",
    ),
    ("json-invalid-utf8", "application/json", b'{"a": "\xff"}'),
    ("json-not-an-object", "application/json", b"[1, 2]"),
    ("json-scalar", "application/json", b'"text"'),
    ("json-unknown-charset", "application/json; charset=foo", b"{}"),
    ("json-deep", "application/json", b"[" * 100_000),
    ("csv-unknown-charset", "text/csv; charset=foo", b"email\na@b.c\n"),
    ("csv-utf16-no-bom", "text/csv; charset=utf-16", "email\na@b.c\n".encode("utf-16-le")),
    ("empty", URLENCODED, b""),
]


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def client(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[TestClient]:
    base = tmp_path_factory.mktemp("hostile")
    settings = replace(
        Settings(),
        database_url=f"sqlite:///{base / 'leads.db'}",
        tracker_store_url=f"sqlite:///{base / 'tracker.db'}",
        leads_api_token=TOKEN,
        spool_dir=base / "spool",
        public_url="http://localhost:8000",
        form_rate_limit=0,
        events_rate_limit=0,
    )
    upgrade(settings.database_url)
    async with TestClient(TestServer(create_app(settings))) as served:
        yield served


def _body_routes() -> list[tuple[str, str]]:
    app = create_app(Settings())
    routes = {
        (route.method, re.sub(r"\{[^}]+\}", "x0", route.resource.canonical))
        for route in app.router.routes()
        if route.method in ("POST", "PUT", "PATCH") and route.resource is not None
    }
    return sorted(routes)


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize(("method", "path"), _body_routes())
@pytest.mark.parametrize(
    ("content_type", "body"), [b[1:] for b in BODIES], ids=[b[0] for b in BODIES]
)
@pytest.mark.parametrize("signed", [True, False], ids=["bearer", "anonymous"])
async def test_no_body_shape_is_a_server_error(
    client: TestClient,
    caplog: pytest.LogCaptureFixture,
    method: str,
    path: str,
    content_type: str,
    body: bytes,
    signed: bool,
) -> None:
    headers = {"Content-Type": content_type, **(AUTH if signed else {})}
    with caplog.at_level(logging.ERROR):
        response = await client.request(
            method, path, data=body, headers=headers, allow_redirects=False
        )
        text = await response.text()
    assert response.status < 500, text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    if response.status >= 400:
        # JSON for the API, a page for everything a browser posts.
        expected = "application/json" if path.startswith("/api/") else "text/html"
        assert response.content_type == expected, (response.status, text[:300])


SECRET = "Zx9-secret-bearer-value_0123456789"


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize(
    "request_head",
    [
        # aiohttp logs the line it cannot parse, header and all.
        f"GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {SECRET}\x01\r\n\r\n",
        f"GET / HTTP/1.1\r\nHost: x\r\nAuthorization Bearer {SECRET}\r\n\r\n",
        f"GET /?token={SECRET} HTTP/1.1 junk\r\nHost: x\r\n\r\n",
        f"GET / HTTP/1.1\r\nHost: x\r\nCookie: leads_session={SECRET}\x7f\r\n\r\n",
    ],
    ids=["bad-header-value", "header-without-colon", "bad-request-line", "bad-cookie"],
)
async def test_unparsable_requests_log_no_credentials(
    client: TestClient, caplog: pytest.LogCaptureFixture, request_head: str
) -> None:
    logredact.install()
    with caplog.at_level(logging.DEBUG):
        reader, writer = await asyncio.open_connection(client.host, client.port)
        writer.write(request_head.encode("latin-1"))
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), timeout=10)
        writer.close()
    assert answer.startswith(b"HTTP/1.0 400") or answer.startswith(b"HTTP/1.1 400"), answer
    assert "Error handling request" in caplog.text  # aiohttp did log the request
    assert SECRET not in caplog.text
    for record in caplog.records:
        assert SECRET not in (record.exc_text or "")
