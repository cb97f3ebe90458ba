"""The OpenAPI 3 description of the HTTP API, served at ``GET /api/v2/openapi.json``.

Kept next to the handlers and checked against the router by the tests: every
``/api/`` route is documented, and a schemathesis run against this document
finds no 5xx.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.handoff.outbox import OUTBOX_STATUSES
from bot.scoring import STOREFRONT_EVENT_TYPES
from bot.store.contacts import (
    MAX_EMAIL_CHARS,
    MAX_NOTES_CHARS,
    MAX_PHONE_CHARS,
    MAX_SOURCE_CHARS,
    MAX_STATUS_REASON_CHARS,
    TEXT_LIMITS,
)
from bot.store.models import HANDOFF_STATUSES, LEAD_STAGES, LEAD_STATUSES, LIFECYCLE_STAGES
from bot.store.repository import LEAD_SORTS
from bot.web.json import json_response

OPENAPI_PATH = "/api/v2/openapi.json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": _ref("Error")}},
    }


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def _path(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string", "minLength": 1, "maxLength": 64},
        "description": description,
    }


_TEXT = {"type": ["string", "null"]}
_AUTH_ERRORS = {
    "401": _error("Missing, unknown or revoked bearer token"),
    "403": _error("The token lacks the scope this operation needs"),
}
_LEAD_ID = _path("lead_id", "Lead id (a merged lead's id stands for the lead it was merged into)")
# What a created lead's id can be used for (schemathesis follows these).
_LEAD_LINKS = {
    operation: {"operationId": operation, "parameters": {"lead_id": "$response.body#/id"}}
    for operation in (
        "getLead",
        "replaceLead",
        "patchLead",
        "convertLead",
        "getLeadEvents",
        "getLeadScore",
        "exportLeadData",
        "eraseLead",
        "deleteLead",
    )
}
_GONE = {"404": _error("No such lead"), "410": _error("The lead was erased")}


def _lead_fields(*, for_form: bool = False) -> dict[str, Any]:
    properties: dict[str, Any] = {
        name: {"type": ["string", "null"], "maxLength": limit}
        for name, limit in TEXT_LIMITS.items()
        if name != "customer_group"
    }
    properties["email"] = {
        "type": ["string", "null"],
        "format": "email",
        "maxLength": MAX_EMAIL_CHARS,
    }
    properties["phone"] = {
        "type": ["string", "null"],
        "maxLength": MAX_PHONE_CHARS,
        "description": "Any common notation; stored as E.164 (numbers without + are read "
        "in SHOP_COUNTRY)",
    }
    properties["notes"] = {
        "type": ["string", "null"],
        "maxLength": MAX_NOTES_CHARS,
        "description": "Added as a note on the lead",
    }
    if not for_form:
        properties["source"] = {
            "type": ["string", "null"],
            "minLength": 1,
            "description": "Where the lead came from, as people write it (Website inquiry, "
            "Phone call, Trade show, Email campaign, Social media, Referral). Stored as "
            "written, trimmed and with runs of spaces made one; case is kept. 1-"
            f"{MAX_SOURCE_CHARS} characters after trimming, no control or invisible "
            "characters. null: 'api' for a new lead, unchanged on an update",
        }
        properties["status"] = {"type": ["string", "null"], "enum": [*LEAD_STATUSES, None]}
        properties["status_reason"] = {
            "type": ["string", "null"],
            "maxLength": MAX_STATUS_REASON_CHARS,
            "description": "Why the status changed (kept in the status history)",
        }
    return properties


def build_spec(server_url: str = "/") -> dict[str, Any]:
    """The OpenAPI document."""
    lead_input = {
        "type": "object",
        "additionalProperties": False,
        "properties": _lead_fields(),
    }
    form = {
        "type": "object",
        "additionalProperties": False,
        "required": ["first_name", "last_name", "consent"],
        "properties": {
            **_lead_fields(for_form=True),
            "consent": {"type": "string", "enum": ["yes", "on", "true", "1"]},
            "consent_text": {"type": "string", "maxLength": 1000},
            "session_id": {"type": "string", "maxLength": 128},
            "redirect": {"type": "string", "maxLength": 2000},
            "website": {"type": "string", "description": "Honeypot: leave empty"},
        },
    }
    list_params = [
        _query("session_id", {"type": "string"}, "Storefront/chat session id"),
        _query("stage", {"type": "string", "enum": list(LEAD_STAGES)}, "Scoring stage"),
        _query("status", {"type": "string", "enum": list(LEAD_STATUSES)}, "Sales status"),
        _query(
            "min_score",
            {"type": "integer", "minimum": -10000, "maximum": 10000},
            "Lowest score",
        ),
        _query(
            "source",
            {"type": "string"},
            "Where the lead came from, in any case and spacing: 'trade  SHOW' finds "
            "'Trade show' (on SQLite, case is ignored for the letters A-Z only). A label "
            "people wrote, or a source the product sets: chat, storefront, web_form, api, "
            "import. Empty: every source",
        ),
        _query(
            "q",
            {"type": "string", "maxLength": 200},
            "Case-insensitive text in first or last name, e-mail or company",
        ),
        _query(
            "updated_since",
            {"type": "string", "format": "date-time"},
            "Only leads changed at or after this time (with timezone)",
        ),
    ]
    page_params = [
        _query("sort", {"type": "string", "enum": list(LEAD_SORTS)}, "Order; '-' descends"),
        _query("limit", {"type": "integer", "minimum": 1, "maximum": 200}, "Page size"),
        _query("cursor", {"type": "string"}, "next_cursor of the previous page"),
    ]
    event = {
        "type": "object",
        "required": ["event_id", "session_id", "type", "ts"],
        "properties": {
            "event_id": {"type": "string", "maxLength": 160},
            "session_id": {"type": "string", "maxLength": 128},
            "type": {"type": "string", "enum": sorted(STOREFRONT_EVENT_TYPES)},
            "ts": {"type": "string", "format": "date-time"},
            "product_id": {"type": "string", "maxLength": 120},
            "variant_id": {"type": "string", "maxLength": 120},
            "value": {"type": "number"},
            "properties": {"type": "object"},
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Storefront lead-qualification API",
            "version": "2",
            "description": "Leads, storefront events, web-form capture and handoffs to sales. "
            "Authenticate with `Authorization: Bearer <token>`; scopes: events:write, "
            "leads:read, leads:write, admin.",
        },
        "servers": [{"url": server_url}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["status", "message"],
                            "properties": {
                                "status": {"type": "integer"},
                                "message": {"type": "string"},
                            },
                        }
                    },
                },
                "Answer": {
                    "type": "object",
                    "required": ["raw", "value", "answered_at"],
                    "properties": {
                        "raw": {"type": "string"},
                        "value": {},
                        "status": {"type": "string"},
                        "answered_at": {"type": "string", "format": "date-time"},
                    },
                },
                "Lead": {
                    "type": "object",
                    "required": [
                        "id",
                        "session_id",
                        "status",
                        "stage",
                        "score",
                        "intent_score",
                        "fit_score",
                        "reasons",
                        "answers",
                        "lifecycle",
                        "created_at",
                        "updated_at",
                    ],
                    "properties": {
                        "id": {"type": "string"},
                        "session_id": {"type": "string"},
                        "first_name": _TEXT,
                        "last_name": _TEXT,
                        "email": _TEXT,
                        "phone": _TEXT,
                        "company": _TEXT,
                        "position": _TEXT,
                        "address": _TEXT,
                        "source": {
                            "type": "string",
                            "description": "A label as written (Trade show) or one the "
                            "product sets: chat, storefront, web_form, api, import",
                        },
                        "status": {"type": "string", "enum": list(LEAD_STATUSES)},
                        "stage": {"type": "string", "enum": list(LEAD_STAGES)},
                        "lifecycle": {"type": "string", "enum": list(LIFECYCLE_STAGES)},
                        "score": {"type": "integer"},
                        "intent_score": {"type": "integer"},
                        "fit_score": {"type": "integer"},
                        "reasons": {"type": "array", "items": {"type": "object"}},
                        "answers": {
                            "type": "object",
                            "additionalProperties": _ref("Answer"),
                        },
                        "customer_group": _TEXT,
                        "converted_at": _TEXT,
                        "possible_duplicates": {
                            "type": "array",
                            "description": "Leads sharing this lead's e-mail or phone; "
                            "never merged automatically (see the merge operation)",
                            "items": _ref("PossibleDuplicate"),
                        },
                        "created_at": {"type": "string", "format": "date-time"},
                        "updated_at": {"type": "string", "format": "date-time"},
                    },
                },
                "PossibleDuplicate": {
                    "type": "object",
                    "required": ["id", "matched_on", "found_at", "differs"],
                    "properties": {
                        "id": {"type": "string"},
                        "matched_on": {
                            "type": "array",
                            "items": {"type": "string", "enum": ["email", "phone"]},
                        },
                        "found_at": {"type": "string", "format": "date-time"},
                        "first_name": _TEXT,
                        "last_name": _TEXT,
                        "email": _TEXT,
                        "phone": _TEXT,
                        "company": _TEXT,
                        "created_at": {"type": "string", "format": "date-time"},
                        "differs": {
                            "type": "array",
                            "description": "Contact fields both leads have, with different values",
                            "items": {"type": "string"},
                        },
                    },
                },
                "LeadInput": lead_input,
                "LeadPage": {
                    "type": "object",
                    "required": ["items", "next_cursor", "limit"],
                    "properties": {
                        "items": {"type": "array", "items": _ref("Lead")},
                        "next_cursor": {"type": ["string", "null"]},
                        "limit": {"type": "integer"},
                        "sort": {"type": "string"},
                    },
                },
                "Event": event,
                "WebForm": form,
            },
        },
        "paths": {
            "/api/v2/leads": {
                "get": {
                    "summary": "List leads",
                    "operationId": "listLeads",
                    "parameters": list_params + page_params,
                    "responses": {
                        "200": _json("A page of leads", _ref("LeadPage")),
                        "400": _error("Bad query parameter"),
                        **_AUTH_ERRORS,
                    },
                },
                "post": {
                    "summary": "Create a lead",
                    "description": "Requires first_name, last_name and email or phone. "
                    "A known e-mail is a 409 unless merge=true.",
                    "operationId": "createLead",
                    "parameters": [
                        _query("merge", {"type": "boolean"}, "Update the lead with this e-mail")
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("LeadInput")}},
                    },
                    "responses": {
                        "201": {**_json("Created", _ref("Lead")), "links": _LEAD_LINKS},
                        "200": _json("Merged into the existing lead", _ref("Lead")),
                        "400": _error("Invalid fields (each named)"),
                        "409": _error("A lead with this e-mail exists (existing_id)"),
                        "413": _error("Body over 1 MB"),
                        **_AUTH_ERRORS,
                    },
                },
            },
            "/api/v2/leads/{lead_id}": {
                "parameters": [_LEAD_ID],
                "get": {
                    "summary": "Read a lead",
                    "operationId": "getLead",
                    "responses": {"200": _json("The lead", _ref("Lead")), **_GONE, **_AUTH_ERRORS},
                },
                "put": {
                    "summary": "Replace a lead's contact fields (others are cleared)",
                    "operationId": "replaceLead",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("LeadInput")}},
                    },
                    "responses": {
                        "200": _json("The lead", _ref("Lead")),
                        "400": _error("Invalid fields"),
                        "409": _error("The e-mail belongs to another lead"),
                        **_GONE,
                        **_AUTH_ERRORS,
                    },
                },
                "patch": {
                    "summary": "Change some fields of a lead (null clears one)",
                    "operationId": "patchLead",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("LeadInput")}},
                    },
                    "responses": {
                        "200": _json("The lead", _ref("Lead")),
                        "400": _error("Invalid fields"),
                        "409": _error("The e-mail belongs to another lead"),
                        **_GONE,
                        **_AUTH_ERRORS,
                    },
                },
                "delete": {
                    "summary": "Delete a lead and its data (admin)",
                    "operationId": "deleteLead",
                    "responses": {"204": {"description": "Deleted"}, **_GONE, **_AUTH_ERRORS},
                },
            },
            "/api/v2/leads/{lead_id}/convert": {
                "parameters": [_LEAD_ID],
                "post": {
                    "summary": "Convert to a customer (status Won, lifecycle customer)",
                    "operationId": "convertLead",
                    "requestBody": {
                        "required": False,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "properties": {
                                        "customer_group": {"type": "string", "maxLength": 64},
                                        "reason": {"type": "string", "maxLength": 1000},
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": _json("The customer", _ref("Lead")),
                        "400": _error("Invalid fields"),
                        **_GONE,
                        **_AUTH_ERRORS,
                    },
                },
            },
            "/api/v2/leads/{lead_id}/merge": {
                "parameters": [_LEAD_ID],
                "post": {
                    "summary": "Merge a likely duplicate into this lead (same person, confirmed)",
                    "description": "This lead keeps its contact fields, status and consent; the "
                    "duplicate's fill only empty ones. Answers, events, handoffs and histories "
                    "move over and the lead is rescored. Repeating a merge changes nothing.",
                    "operationId": "mergeLead",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "required": ["duplicate_id"],
                                    "properties": {
                                        "duplicate_id": {
                                            "type": "string",
                                            "minLength": 1,
                                            "maxLength": 64,
                                        }
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": _json("The merged lead", _ref("Lead")),
                        "400": _error("Invalid body, or the lead itself as duplicate_id"),
                        **_GONE,
                        **_AUTH_ERRORS,
                    },
                },
            },
            "/api/v2/leads/{lead_id}/data": {
                "parameters": [_LEAD_ID],
                "get": {
                    "summary": "Everything held about the person (admin)",
                    "operationId": "exportLeadData",
                    "responses": {
                        "200": _json("The person's data", {"type": "object"}),
                        **_GONE,
                        **_AUTH_ERRORS,
                    },
                },
            },
            "/api/v2/leads/{lead_id}/erase": {
                "parameters": [_LEAD_ID],
                "post": {
                    "summary": "Erase the person: lead, answers, events, conversation (admin)",
                    "operationId": "eraseLead",
                    "responses": {
                        "200": _json("What was removed", {"type": "object"}),
                        **_GONE,
                        **_AUTH_ERRORS,
                    },
                },
            },
            "/api/v2/leads/{lead_id}/events": {
                "parameters": [_LEAD_ID],
                "get": {
                    "summary": "The lead's chat and storefront events",
                    "operationId": "getLeadEvents",
                    "responses": {
                        "200": _json("Events, oldest first", {"type": "object"}),
                        **_GONE,
                        **_AUTH_ERRORS,
                    },
                },
            },
            "/api/v2/leads/{lead_id}/score": {
                "parameters": [_LEAD_ID],
                "get": {
                    "summary": "Score breakdown, snapshots and stage changes",
                    "operationId": "getLeadScore",
                    "responses": {
                        "200": _json("The score", {"type": "object"}),
                        **_GONE,
                        **_AUTH_ERRORS,
                    },
                },
            },
            "/api/v2/leads/import/template": {
                "get": {
                    "summary": "CSV import template",
                    "operationId": "getImportTemplate",
                    "responses": {
                        "200": {
                            "description": "The template",
                            "content": {"text/csv": {"schema": {"type": "string"}}},
                        },
                        **_AUTH_ERRORS,
                    },
                },
            },
            "/api/v2/leads/import": {
                "post": {
                    "summary": "Import leads from CSV",
                    "operationId": "importLeads",
                    "parameters": [
                        _query(
                            "on_duplicate",
                            {"type": "string", "enum": ["skip", "update"]},
                            "A row whose e-mail (or phone) a lead has",
                        ),
                        _query("dry_run", {"type": "boolean"}, "Check only, write nothing"),
                        _query(
                            "encoding",
                            {"type": "string", "maxLength": 40},
                            "The file's encoding (default: the body's charset, else utf-8)",
                        ),
                        _query(
                            "ignore_unknown_columns",
                            {"type": "boolean"},
                            "Skip columns it does not know instead of refusing the file",
                        ),
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {"text/csv": {"schema": {"type": "string"}}},
                    },
                    "responses": {
                        "200": _json("Import summary with row errors", {"type": "object"}),
                        "400": _error("The file cannot be imported"),
                        "413": _error("File over 20 MB"),
                        "415": _error("Not a CSV body"),
                        **_AUTH_ERRORS,
                    },
                },
            },
            "/api/v2/leads/export.csv": {
                "get": {
                    "summary": "Export leads as CSV (same filters as the list)",
                    "operationId": "exportLeads",
                    "parameters": list_params,
                    "responses": {
                        "200": {
                            "description": "The leads",
                            "content": {"text/csv": {"schema": {"type": "string"}}},
                        },
                        "400": _error("Bad query parameter"),
                        **_AUTH_ERRORS,
                    },
                },
            },
            "/api/v2/events": {
                "post": {
                    "summary": "Record storefront events (one, or a batch of up to 500)",
                    "operationId": "postEvents",
                    "description": "Shop pages may call this from any origin (CORS; "
                    "SHOP_ORIGINS narrows it: a page on another origin gets a 403 it can "
                    "read, naming the origin). `navigator.sendBeacon` cannot set headers: "
                    "without an Authorization header, an events:write token (the storefront "
                    "token) is read from a top-level `token` field of the body, which may be "
                    "sent as text/plain.",
                    "security": [{"bearer": []}, {}],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "oneOf": [
                                        _ref("Event"),
                                        {
                                            "type": "object",
                                            "required": ["events"],
                                            "properties": {
                                                "events": {
                                                    "type": "array",
                                                    "maxItems": 500,
                                                    "items": _ref("Event"),
                                                },
                                                "token": {
                                                    "type": "string",
                                                    "description": "Storefront token, "
                                                    "only without an Authorization header "
                                                    "(beacons)",
                                                },
                                            },
                                        },
                                    ]
                                }
                            }
                        },
                    },
                    "responses": {
                        "202": _json("Accepted and duplicate counts", {"type": "object"}),
                        "400": _error("Bad events (per-event errors; good ones are stored)"),
                        "413": _error("Body over 1 MB"),
                        "429": _error("Too many requests from this address (storefront token)"),
                        "503": _error("Lead store unavailable; retry"),
                        **_AUTH_ERRORS,
                    },
                },
            },
            "/api/create-lead": {
                "post": {
                    "summary": "Web-form lead capture (public)",
                    "operationId": "createLeadFromForm",
                    "security": [],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/x-www-form-urlencoded": {"schema": _ref("WebForm")},
                            "multipart/form-data": {"schema": _ref("WebForm")},
                            "application/json": {"schema": _ref("WebForm")},
                        },
                    },
                    "responses": {
                        "201": _json("Received", {"type": "object"}),
                        "303": {"description": "Sent to the form's redirect"},
                        "400": _error(
                            "Invalid or unknown fields, no consent, or a body that cannot be "
                            "read (bad charset or encoding, broken multipart)"
                        ),
                        "413": _error("Body over 1 MB"),
                        "415": _error("Unsupported content type"),
                        "429": _error("Too many submissions from this address"),
                    },
                },
            },
            "/api/v2/handoffs": {
                "get": {
                    "summary": "Handoffs to sales, newest first",
                    "operationId": "listHandoffs",
                    "parameters": [
                        _query("status", {"type": "string", "enum": list(HANDOFF_STATUSES)}, ""),
                        _query("overdue", {"type": "string", "enum": ["true", "false"]}, ""),
                        _query("lead_id", {"type": "string"}, ""),
                        _query("limit", {"type": "integer", "minimum": 1, "maximum": 200}, ""),
                    ],
                    "responses": {
                        "200": _json("Handoffs", {"type": "object"}),
                        "400": _error("Bad query parameter"),
                        **_AUTH_ERRORS,
                    },
                },
            },
            "/api/v2/handoffs/{handoff_id}": {
                "parameters": [_path("handoff_id", "Handoff id")],
                "get": {
                    "summary": "One handoff with its deliveries",
                    "operationId": "getHandoff",
                    "responses": {
                        "200": _json("The handoff", {"type": "object"}),
                        "404": _error("No such handoff"),
                        **_AUTH_ERRORS,
                    },
                },
            },
            "/api/v2/outbox": {
                "get": {
                    "summary": "Notifications and their delivery log",
                    "operationId": "listOutbox",
                    "parameters": [
                        _query("status", {"type": "string", "enum": list(OUTBOX_STATUSES)}, ""),
                        _query("limit", {"type": "integer", "minimum": 1, "maximum": 200}, ""),
                    ],
                    "responses": {
                        "200": _json("Notifications", {"type": "object"}),
                        "400": _error("Bad query parameter"),
                        **_AUTH_ERRORS,
                    },
                },
            },
            "/api/v2/flows/report": {
                "get": {
                    "summary": "Funnel of the question flows per question and prompt variant",
                    "description": (
                        "Per flow, question and A/B arm (prompt variant): distinct leads "
                        "asked, answered, volunteered, skipped, re-asked, given up, dropped "
                        "(the conversation ended there), median seconds to answer, and the "
                        "share of asked leads now hot / Won. Definitions: README, 'Funnel "
                        "report'."
                    ),
                    "operationId": "getFlowReport",
                    "parameters": [
                        _query(
                            "since",
                            {"type": "string", "format": "date-time"},
                            "Only events at or after this time (with timezone)",
                        ),
                        _query(
                            "until",
                            {"type": "string", "format": "date-time"},
                            "Only events before this time (with timezone)",
                        ),
                        _query(
                            "flow",
                            {"type": "string", "minLength": 1, "maxLength": 200},
                            "Only this flow (its `flow:` name)",
                        ),
                    ],
                    "responses": {
                        "200": _json("The funnel", {"type": "object"}),
                        "400": _error("Bad query parameter"),
                        **_AUTH_ERRORS,
                    },
                },
            },
            "/api/v2/outbox/{message_id}/retry": {
                "parameters": [_path("message_id", "webhook-id of a dead-lettered notification")],
                "post": {
                    "summary": "Queue a dead-lettered notification again",
                    "operationId": "retryNotification",
                    "responses": {
                        "200": _json("Queued", {"type": "object"}),
                        "404": _error("No such dead letter"),
                        **_AUTH_ERRORS,
                    },
                },
            },
            OPENAPI_PATH: {
                "get": {
                    "summary": "This document",
                    "operationId": "getOpenApi",
                    "security": [],
                    "responses": {"200": _json("OpenAPI 3.1", {"type": "object"})},
                },
            },
        },
    }


async def get_spec(request: web.Request) -> web.Response:
    """``GET /api/v2/openapi.json``."""
    return json_response(build_spec())


def setup(app: web.Application) -> None:
    """Register the route of this resource."""
    app.router.add_get(OPENAPI_PATH, get_spec)
