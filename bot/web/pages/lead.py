"""The lead page, ``GET /leads/{lead_id}``: one lead read like a brief, with the sales forms.

The store gives the facts; :mod:`bot.web.pages.words` puts them in words with the
catalogue (names, prices, stock, delivery), the scoring file (what makes a stage)
and the team's time zone from the handoff file.
"""

from __future__ import annotations

import asyncio
from functools import lru_cache
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.catalog import Catalog, load_catalog
from bot.clock import now as clock_now
from bot.followups.planner import followups_of
from bot.handoff.brief import DID as BRIEF_DID
from bot.handoff.brief import money, next_step, summary
from bot.leads.outcomes import Orders
from bot.scoring.config import ScoringConfig, load_scoring_config
from bot.store.models import LEAD_STATUSES
from bot.web.keys import LEADS, SALES, SETTINGS
from bot.web.pages.leads import unknown_lead
from bot.web.pages.sessions import form_csrf, required_viewer
from bot.web.pages.site import LEAD_PAGES
from bot.web.pages.words import Wanted, answer_words, product_words, wanted
from bot.web.teamtime import handoff_config, team_clock

# What a shopper did on the shop, as the journey reads it: the brief's words and the
# steps the brief leaves out of its paragraph.
DID = {
    **BRIEF_DID,
    "page_view": "looked at a page",
    "shipping_check": "checked shipping for",
    "payment_info": "entered payment details",
    "email_click": "clicked an email about",
    "human_requested": "asked for a person",
}


# Events the lead store writes about the lead itself, not something the shopper did.
BOOKKEEPING = frozenset({"stage_changed"})


@lru_cache(maxsize=4)
def _catalog(path: Path) -> Catalog:
    return load_catalog(path)


@lru_cache(maxsize=4)
def _scoring(path: Path) -> ScoringConfig:
    return load_scoring_config(path)


def journey(catalog: Catalog, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each shop event as ``at``, ``did`` and the product by name (``what``, maybe ``None``)."""
    return [
        {
            "at": event["ts"],
            "did": DID.get(str(event["type"]), str(event["type"]).replace("_", " ")),
            "what": product_words(catalog, event.get("product_id"), event.get("variant_id")),
        }
        for event in events
        if event["type"] not in BOOKKEEPING
    ]


def brief(request: web.Request, page: dict[str, Any]) -> dict[str, Any]:
    """The page's facts in words: the context the lead page's templates read."""
    settings = request.config_dict[SETTINGS]
    catalog = _catalog(settings.catalog_path)
    handoffs = handoff_config(settings.handoff_config_path)
    clock = team_clock(handoffs, (handoff.get("team") for handoff in page["handoffs"]))
    lead = page["lead"]
    want: Wanted = wanted(catalog, lead["answers"], page["events"])
    words = {
        answer["key"]: answer_words(
            answer["key"],
            answer["value"],
            answer["answered_at"],
            catalog=catalog,
            want=want,
        )
        for answer in page["answers"]
    }
    questions = [m for m in page["transcript"] if m["sender"] == "user" and "?" in m["text"]]
    handoff = next((h for h in page["handoffs"] if h["status"] == "open"), None)
    return {
        "summary": summary(
            lead,
            events=page["events"],
            messages=page["transcript"],
            catalog=catalog,
            zone=clock.zone,
        ),
        "next_step": handoff
        and next_step(
            lead, handoff, sla=handoffs.slas.get(handoff["sla"]), zone=clock.zone, now=clock_now()
        ),
        "clock": clock,
        "words": words,
        "want": want,
        "journey": journey(catalog, page["events"]),
        "chat_questions": len(questions),
        "stages": _scoring(settings.scoring_config_path),
        "open_handoff": handoff,
    }


def purchases(catalog: Catalog, bought: dict[str, Any]) -> dict[str, Any]:
    """The lead's orders in words (value, what, when), its Won revenue and what it paid."""
    revenue = bought["revenue"]
    return {
        "revenue": money(revenue, bought["revenue_currency"]) if revenue is not None else None,
        "count": bought["order_count"],
        "paid": [money(total, code) for code, total in bought["revenue_by_currency"].items()],
        "orders": [
            {
                "at": order["ordered_at"],
                "value": money(order["value"], order["currency"]),
                "what": product_words(catalog, order["product_id"], order["variant_id"])
                or order["variant_id"]
                or order["sku"],
                "quantity": order["quantity"],
                "order_id": order["order_id"],
                "source": order["source"],
            }
            for order in bought["orders"]
        ],
    }


async def lead_page(request: web.Request) -> web.StreamResponse:
    """``GET /leads/{lead_id}``: everything about one lead, with the sales forms."""
    viewer = await required_viewer(request)
    lead_id = request.match_info["lead_id"]
    page = await asyncio.to_thread(request.config_dict[SALES].lead_page, lead_id)
    if page is None:
        raise unknown_lead(lead_id)
    engine = request.config_dict[LEADS].engine

    def followups() -> list[dict[str, Any]]:
        with engine.connect() as connection:
            return followups_of(connection, page["lead"]["id"])

    page["followups"] = await asyncio.to_thread(followups)
    service = request.config_dict[LEADS]
    bought = await asyncio.to_thread(
        Orders(service.engine, service.revenue).lead_orders, page["lead"]["id"]
    )
    return LEAD_PAGES.render(
        request,
        "leads/lead.html",
        {
            "page": page,
            "lead": page["lead"],
            "csrf": form_csrf(request, viewer),
            "statuses": LEAD_STATUSES,
            "purchases": purchases(_catalog(request.config_dict[SETTINGS].catalog_path), bought),
            **brief(request, page),
        },
    )
