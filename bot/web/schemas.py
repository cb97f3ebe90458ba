"""Schemas the OpenAPI document shares between routes, and helpers to write route docs.

Route modules describe their own parameters and bodies (:class:`bot.web.routes.Doc`);
what several routes answer or accept (a lead, an error, an event) is defined once here
and referred to with :func:`ref`.
"""

from __future__ import annotations

from typing import Any

from bot.leads.outcomes import (
    MAX_ORDER_ID_CHARS,
    MAX_QUANTITY,
    MAX_SKU_CHARS,
    ORDER_DECIMALS,
    WEBHOOK_ORDER_SOURCE,
)
from bot.scoring import STOREFRONT_EVENT_TYPES
from bot.store.contacts import (
    MAX_EMAIL_CHARS,
    MAX_NOTES_CHARS,
    MAX_PHONE_CHARS,
    MAX_SOURCE_CHARS,
    MAX_STATUS_REASON_CHARS,
    TEXT_LIMITS,
)
from bot.store.models import LEAD_STAGES, LEAD_STATUSES, LIFECYCLE_STAGES

TEXT = {"type": ["string", "null"]}
OBJECT = {"type": "object"}
CSV = {"text/csv": {"schema": {"type": "string"}}}


def ref(name: str) -> dict[str, str]:
    """A reference to the shared schema ``name``."""
    return {"$ref": f"#/components/schemas/{name}"}


def error(description: str) -> dict[str, Any]:
    """An error response (the JSON error body)."""
    return {"description": description, "content": {"application/json": {"schema": ref("Error")}}}


def json_answer(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON response."""
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def json_body(schema: dict[str, Any], *, required: bool = True) -> dict[str, Any]:
    """A JSON request body."""
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def query(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    """An optional query parameter."""
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def page_size(maximum: int = 200) -> dict[str, Any]:
    """The ``limit`` parameter of a listing."""
    return query("limit", {"type": "integer", "minimum": 1, "maximum": maximum}, "Page size")


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


ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["status", "message"],
            "properties": {"status": {"type": "integer"}, "message": {"type": "string"}},
        }
    },
}
ANSWER = {
    "type": "object",
    "required": ["raw", "value", "answered_at"],
    "properties": {
        "raw": {"type": "string"},
        "value": {},
        "status": {"type": "string"},
        "answered_at": {"type": "string", "format": "date-time"},
    },
}
LEAD = {
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
        "first_name": TEXT,
        "last_name": TEXT,
        "email": TEXT,
        "phone": TEXT,
        "company": TEXT,
        "position": TEXT,
        "address": TEXT,
        "source": {
            "type": "string",
            "description": "A label as written (Trade show) or one the product sets: chat, "
            "storefront, web_form, api, import",
        },
        "status": {"type": "string", "enum": list(LEAD_STATUSES)},
        "stage": {"type": "string", "enum": list(LEAD_STAGES)},
        "lifecycle": {"type": "string", "enum": list(LIFECYCLE_STAGES)},
        "score": {"type": "integer"},
        "intent_score": {"type": "integer"},
        "fit_score": {"type": "integer"},
        "reasons": {"type": "array", "items": OBJECT},
        "answers": {"type": "object", "additionalProperties": ref("Answer")},
        "customer_group": TEXT,
        "converted_at": TEXT,
        "purchases": ref("Purchases"),
        "possible_duplicates": {
            "type": "array",
            "description": "Leads sharing this lead's e-mail or phone; never merged "
            "automatically (see the merge operation)",
            "items": ref("PossibleDuplicate"),
        },
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
    },
}
NUMBER_OR_NULL = {"type": ["number", "null"]}
ORDER = {
    "type": "object",
    "required": ["source", "order_id", "value", "currency", "ordered_at"],
    "properties": {
        "source": {"type": "string", "description": "The shop platform (or storefront)"},
        "order_id": {"type": "string", "description": "The order's id there"},
        "lead_id": {"type": ["string", "null"]},
        "matched_by": {"type": ["string", "null"]},
        "value": {**NUMBER_OR_NULL, "description": "What the order cost, in currency"},
        "currency": {"type": "string", "description": "ISO 4217 code the order was paid in"},
        "shop_value": {"type": "number", "description": "The value in the shop's currency"},
        "shop_currency": {"type": "string"},
        "product_id": TEXT,
        "variant_id": TEXT,
        "sku": TEXT,
        "quantity": {"type": "integer"},
        "ordered_at": {"type": "string", "format": "date-time"},
        "received_at": {"type": "string", "format": "date-time"},
    },
}
PURCHASES = {
    "type": "object",
    "description": "What the lead bought (with the leads merged into it); in the JSON of "
    "one lead (GET /api/v2/leads/{lead_id} and the answers that return one lead), not in "
    "lists",
    "required": ["order_count", "revenue", "revenue_currency", "revenue_by_currency", "orders"],
    "properties": {
        "order_count": {"type": "integer", "minimum": 0},
        "revenue": {
            **NUMBER_OR_NULL,
            "description": "The lead's Won revenue: the sum of its orders in the shop's "
            "currency (null before any order)",
        },
        "revenue_currency": TEXT,
        "revenue_by_currency": {
            "type": "object",
            "description": "Order totals per currency paid (ISO 4217 code -> sum)",
            "additionalProperties": {"type": "number"},
        },
        "orders": {"type": "array", "items": ref("Order"), "description": "Newest first"},
    },
}
POSSIBLE_DUPLICATE = {
    "type": "object",
    "required": ["id", "matched_on", "found_at", "differs"],
    "properties": {
        "id": {"type": "string"},
        "matched_on": {"type": "array", "items": {"type": "string", "enum": ["email", "phone"]}},
        "found_at": {"type": "string", "format": "date-time"},
        "first_name": TEXT,
        "last_name": TEXT,
        "email": TEXT,
        "phone": TEXT,
        "company": TEXT,
        "created_at": {"type": "string", "format": "date-time"},
        "differs": {
            "type": "array",
            "description": "Contact fields both leads have, with different values",
            "items": {"type": "string"},
        },
    },
}
LEAD_PAGE = {
    "type": "object",
    "required": ["items", "next_cursor", "limit"],
    "properties": {
        "items": {"type": "array", "items": ref("Lead")},
        "next_cursor": {"type": ["string", "null"]},
        "limit": {"type": "integer"},
        "sort": {"type": "string"},
        # With counts=true: the leads of each stage the filters keep, and their sum.
        "counts": {
            "type": "object",
            "properties": {stage: {"type": "integer"} for stage in ("cold", "warm", "hot")},
        },
        "total": {"type": "integer"},
    },
}
EVENT = {
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
        "properties": OBJECT,
    },
}
WEB_FORM = {
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

ORDER_INPUT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["order_id", "value", "currency", "ordered_at"],
    "properties": {
        "order_id": {
            "type": ["string", "integer"],
            "maxLength": MAX_ORDER_ID_CHARS,
            "description": "The order's id on the shop platform; with source, stored once",
        },
        "source": {
            "type": "string",
            "pattern": "^[a-z0-9][a-z0-9_.-]{0,39}$",
            "description": f"The shop platform (default {WEBHOOK_ORDER_SOURCE!r})",
        },
        "value": {
            "type": ["number", "string"],
            "description": f"Order total, 0 to 1,000,000,000, at most {ORDER_DECIMALS} decimals",
        },
        "currency": {"type": "string", "description": "ISO 4217 code, e.g. EUR"},
        "ordered_at": {"type": "string", "format": "date-time"},
        "product_id": {"type": "string", "maxLength": 120},
        "variant_id": {"type": "string", "maxLength": 120},
        "sku": {"type": "string", "maxLength": MAX_SKU_CHARS},
        "quantity": {"type": "integer", "minimum": 1, "maximum": MAX_QUANTITY},
        "lead_id": {"type": "string", "description": "Matched first"},
        "session_id": {
            "type": "string",
            "maxLength": 128,
            "description": "The storefront/chat session id; matched second",
        },
        "email": {
            "type": "string",
            "maxLength": MAX_EMAIL_CHARS,
            "description": "Matched last: the most recently updated lead with it",
        },
    },
}
ORDER_RESULT = {
    "type": "object",
    "required": ["duplicate", "matched", "lead_id", "order"],
    "properties": {
        "duplicate": {"type": "boolean"},
        "matched": {"type": "boolean"},
        "matched_by": {
            "type": ["string", "null"],
            "enum": ["lead_id", "session_id", "email", None],
        },
        "lead_id": {"type": ["string", "null"]},
        "status": {"type": ["string", "null"]},
        "revenue": {"type": ["number", "null"]},
        "revenue_currency": {"type": ["string", "null"]},
        "closed_handoffs": {"type": "array", "items": {"type": "string"}},
        "order": {"type": "object"},
        "message": {"type": "string"},
    },
}

SCHEMAS: dict[str, Any] = {
    "Error": ERROR,
    "Answer": ANSWER,
    "Lead": LEAD,
    "Purchases": PURCHASES,
    "Order": ORDER,
    "PossibleDuplicate": POSSIBLE_DUPLICATE,
    "LeadInput": {"type": "object", "additionalProperties": False, "properties": _lead_fields()},
    "LeadPage": LEAD_PAGE,
    "Event": EVENT,
    "WebForm": WEB_FORM,
    "OrderInput": ORDER_INPUT,
    "OrderResult": ORDER_RESULT,
}
