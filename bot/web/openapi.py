"""The OpenAPI 3 document of the HTTP API, served at ``GET /api/v2/openapi.json``.

Assembled from the routes' own declarations (:class:`bot.web.routes.ApiRoute`:
summary, scope, parameters, bodies, answers) and the shared schemas of
:mod:`bot.web.schemas`. The tests check it against the router (every ``/api/``
route is documented, and nothing else), and a schemathesis run against it finds
no 5xx.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aiohttp import web

from bot.web.json import json_response
from bot.web.routes import ApiRoute, Doc, PathId
from bot.web.schemas import OBJECT, SCHEMAS, error, json_answer

OPENAPI_PATH = "/api/v2/openapi.json"
DOCUMENT = web.AppKey("openapi_document", dict[str, Any])
_AUTH_ERRORS = {
    "401": error("Missing, unknown or revoked bearer token"),
    "403": error("The token lacks the scope this operation needs"),
}


def document(routes: Iterable[ApiRoute], server_url: str = "/") -> dict[str, Any]:
    """The OpenAPI document of ``routes``."""
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        item = paths.setdefault(route.path, {})
        if route.ids:
            item["parameters"] = [_path_parameter(path_id) for path_id in route.ids]
        item[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Storefront lead-qualification API",
            "version": "2",
            "description": "Leads, storefront events, shop orders, web-form capture and "
            "handoffs to sales. Authenticate with `Authorization: Bearer <token>`; scopes: "
            "events:write, leads:read, leads:write, admin. The order webhook is signed "
            "instead (Standard Webhooks, ORDER_WEBHOOK_SECRETS).",
        },
        "servers": [{"url": server_url}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": SCHEMAS,
        },
        "paths": paths,
    }


def _operation(route: ApiRoute) -> dict[str, Any]:
    doc = route.doc
    operation: dict[str, Any] = {"summary": doc.summary, "operationId": doc.operation_id}
    if doc.description:
        operation["description"] = doc.description
    if doc.query:
        operation["parameters"] = list(doc.query)
    if doc.body is not None:
        operation["requestBody"] = doc.body
    if route.scope is None:
        operation["security"] = []
    elif route.body_token:
        operation["security"] = [{"bearer": []}, {}]
    answers = {
        status: error(text) for path_id in route.ids for status, text in path_id.answers.items()
    }
    operation["responses"] = {
        **doc.responses,
        **answers,
        **(_AUTH_ERRORS if route.scope is not None else {}),
    }
    return operation


def _path_parameter(path_id: PathId) -> dict[str, Any]:
    return {
        "name": path_id.name,
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": f"^{path_id.pattern}$"},
        "description": path_id.description,
    }


async def get_spec(request: web.Request) -> web.Response:
    """``GET /api/v2/openapi.json``."""
    return json_response(request.config_dict[DOCUMENT])


ROUTES = (
    ApiRoute(
        "GET",
        OPENAPI_PATH,
        get_spec,
        scope=None,
        doc=Doc("This document", "getOpenApi", {"200": json_answer("OpenAPI 3.1", OBJECT)}),
    ),
)
