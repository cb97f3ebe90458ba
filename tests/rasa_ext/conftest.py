"""Sanic apps of the Rasa server's channels and guards, served on loopback in the test process."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sanic import Sanic

LOOPBACK = "127.0.0.1"


@pytest.fixture(autouse=True)
def _sanic_test_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    # Sanic rewrites its protocol's methods when a server starts; in test mode it
    # starts again from the originals, so that one process can start several servers.
    monkeypatch.setattr(Sanic, "test_mode", True)


def free_port() -> int:
    """A port that is free on loopback right now."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
    return port


@asynccontextmanager
async def serving(app: Sanic, port: int) -> AsyncIterator[None]:
    """``app`` answering on ``port`` until the block ends."""
    server = await app.create_server(
        host=LOOPBACK, port=port, return_asyncio_server=True, access_log=False
    )
    assert server is not None
    await server.startup()
    # Listeners too: sanic-cors adds its middleware before the server starts.
    await server.before_start()
    try:
        yield
    finally:
        server.close()
        await server.wait_closed()
        await server.after_stop()
