"""``python -m actions.server``: the action server, answering only the Rasa server.

``rasa run actions`` (rasa_sdk 3.6.2) has no authentication, so anything that can
reach its port could run actions as any shopper (e.g. rewrite their e-mail).
This builds the same Sanic app (``rasa_sdk.endpoint.create_app``) and refuses
every request but ``GET /health`` (kept open for liveness checks) that lacks
``Authorization: Bearer <ACTIONS_TOKEN>``; the Rasa server sends that header
(``headers`` of ``action_endpoint`` in endpoints.yml).

rasa_sdk imports every module of the ``actions`` package to find actions, so
this one only defines things: it starts a server only when run as ``__main__``.
"""

from __future__ import annotations

import argparse
import hmac
import os
import sys
from collections.abc import Awaitable, Callable

from rasa_sdk import utils
from rasa_sdk.endpoint import create_app as create_sdk_app
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.settings import Settings

ACTIONS_PACKAGE = "actions"
ACTION_SERVER_KEEPALIVE_SECONDS = 30
OPEN_PATHS = frozenset({"/health"})
UNAUTHORIZED = {
    "error": "unauthorized",
    "detail": "the action server answers only the Rasa server: "
    "send Authorization: Bearer <ACTIONS_TOKEN>",
}


def token_check(token: str) -> Callable[[Request], Awaitable[HTTPResponse | None]]:
    """A Sanic request middleware answering 401 unless the request carries ``token``."""
    expected = f"Bearer {token}".encode()

    async def check(request: Request) -> HTTPResponse | None:
        if request.path in OPEN_PATHS:
            return None
        # Sanic 21.12 decodes header bytes as latin-1, so any header encodes back;
        # compare_digest takes the same time wherever the first difference is.
        given = request.headers.get("Authorization", "").encode("utf-8")
        if hmac.compare_digest(given, expected):
            return None
        return response.json(UNAUTHORIZED, status=401, headers={"WWW-Authenticate": "Bearer"})

    return check


def create_app(token: str) -> Sanic:
    """rasa_sdk's action server app for the ``actions`` package, behind ``token``."""
    if not token:
        raise ValueError("the action server needs a token (ACTIONS_TOKEN)")
    # No CORS origins, as `rasa run actions` without --cors: no browser calls it.
    app = create_sdk_app(ACTIONS_PACKAGE, cors_origins="")
    # Idle connections from the Rasa server stay open longer than its client keeps
    # them (rasa_ext.ACTION_CLIENT_KEEPALIVE_SECONDS), so the client always closes first.
    app.config.KEEP_ALIVE_TIMEOUT = ACTION_SERVER_KEEPALIVE_SECONDS
    app.register_middleware(token_check(token), attach_to="request")
    return app


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m actions.server",
        description="Runs the action server; only callers sending ACTIONS_TOKEN are answered.",
    )
    parser.add_argument("--port", type=int, help="port (default: ACTIONS_PORT, else 5055)")
    utils.add_logging_level_option_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Start the action server on ``SANIC_HOST`` (default 127.0.0.1); returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except ValueError as exc:
        print(f"cannot start the action server: {exc}", file=sys.stderr)
        return 2
    if not settings.actions_token:
        print(
            "cannot start the action server: ACTIONS_TOKEN is not set. It is the secret the "
            "Rasa server sends on every action call (endpoints.yml); `make run` generates one "
            "and keeps it in var/tokens.json.",
            file=sys.stderr,
        )
        return 2
    # The logging set-up of `rasa run actions` (rasa_sdk 3.6.2's main_from_args).
    utils.configure_colored_logging(args.loglevel)
    utils.update_sanic_log_level()
    app = create_app(settings.actions_token)
    host = os.environ.get("SANIC_HOST", "127.0.0.1")
    app.run(host, args.port or settings.actions_port, workers=utils.number_of_sanic_workers())
    return 0


if __name__ == "__main__":
    sys.exit(main())
