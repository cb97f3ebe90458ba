"""What the Rasa actions call: flow, catalog, interpreter and the lead recorder.

The action server builds one :class:`Assistant` on first use (never at import
time). Actions translate rasa_sdk trackers into the plain data used here.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from bot.answers import Parsed
from bot.catalog import Catalog, load_catalog, load_rates
from bot.flows import Flow, FlowSet, Question, replies
from bot.flows.facts import CONSENT_KEY
from bot.flows.interpreter import Interpreter, TurnResult
from bot.flows.live import LiveFlows
from bot.flows.loader import flow_context
from bot.flows.rules import Money, page_facts
from bot.handoff import planner_for
from bot.leads import ApplyResult, LeadService, LeadState
from bot.leads.commands import Command, RecordAnswer, RecordEvent, UpdateContact
from bot.leads.spool import UNAVAILABLE_ERRORS, LeadRecorder, Spool
from bot.scoring import Scorer, load_scoring_config
from bot.settings import Settings
from bot.store.db import create_db_engine

_T = TypeVar("_T")

# Threads for lead-store calls. Each call waits at most the store wait
# (ACTIONS_STORE_WAIT_MS) for a locked store, so this many turns can be held at
# once before another waits for a thread; the event loop's default executor
# (min(32, cpus + 4) threads, shared with anything else) would be 6 on 2 cores.
STORE_THREADS = 32

HUMAN_OFFER = (
    "By the way, it looks like you're nearly ready to order. Would you like a specialist "
    'to help you finish? Just say "talk to a person".'
)
# Signals after which offering a person would be redundant or unwelcome.
NO_OFFER_AFTER = ("human_offered", "human_requested", "opt_out")


def should_offer_human(state: LeadState | None) -> bool:
    """Whether to offer a person now: the lead is hot and was never offered one."""
    if state is None or state.stage != "hot":
        return False
    return not any(state.counts.get(signal) for signal in NO_OFFER_AFTER)


def should_skip_consent(state: LeadState | None) -> bool:
    """Whether not to ask for contact details: a cold lead who was already asked once.

    Never while a handoff is open: sales need a way to reach the shopper.
    """
    if state is None or state.stage != "cold" or state.handoff is not None:
        return False
    return state.counts.get(f"prompted:{CONSENT_KEY}", 0) >= 1


MAX_STORED_MESSAGE_CHARS = 5000
PASSED_ON = "I've passed your request to our sales team."


def human_request_reply(answers: dict[str, Any], state: LeadState | None) -> str:
    """What the bot says when the shopper asks for a person: what happens next, and when.

    The "when" comes from the lead's handoff (its SLA in the team's business
    hours); without one (the write was spooled) the bot promises no time.
    """
    consent = answers.get("contact_consent")
    contact = answers.get("contact_details")
    has_contact = isinstance(contact, dict) and bool(contact.get("value"))
    declined = isinstance(consent, dict) and consent.get("value") is False
    when = state.handoff.promise if state is not None and state.handoff is not None else None
    if has_contact:
        return (
            f"{PASSED_ON} {when or 'A specialist will contact you using the details you gave me.'}"
        )
    if declined:
        return (
            f"{PASSED_ON} As you'd rather not share contact details, you can reach them at "
            "any time from the Contact page."
        )
    return (
        f"{PASSED_ON} {when + ' ' if when else ''}So a specialist can reach you, I'll just need "
        "a couple of answers and a way to contact you."
    )


@dataclass(frozen=True)
class ChatMessage:
    """A message of the transcript, from the shopper (``user``) or the bot."""

    sender: str
    text: str
    ts: datetime
    message_id: str | None = None
    intent: str | None = None


def stable_id(*parts: object) -> str:
    """A short deterministic id for events derived from tracker data."""
    digest = hashlib.sha1("\x1f".join(str(part) for part in parts).encode(), usedforsecurity=False)
    return digest.hexdigest()[:24]


class Assistant:
    """Long-lived state of the action server."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.catalog: Catalog = load_catalog(settings.catalog_path)
        rates = load_rates(settings.rates_path)
        self.live_flows = LiveFlows(
            settings.flows_dir,
            flow_context(self.catalog, money=Money(settings.shop_currency, rates)),
        )
        self._interpreters: dict[int, Interpreter] = {}
        self._interpreters_of: FlowSet | None = None
        engine = create_db_engine(
            settings.database_url, lock_wait=settings.actions_store_wait_ms / 1000
        )
        self._store_threads = ThreadPoolExecutor(STORE_THREADS, thread_name_prefix="lead-store")
        scorer = Scorer(load_scoring_config(settings.scoring_config_path), self.catalog, rates)
        self.recorder = LeadRecorder(
            LeadService(engine, scorer, planner_for(settings)), Spool(settings.spool_dir)
        )

    @property
    def flows(self) -> FlowSet:
        """The flows as the files say now (edits apply without a restart)."""
        return self.live_flows.current()

    @property
    def flow(self) -> Flow:
        """The fallback flow (the one used where no page rule applies)."""
        return self.flows.fallback

    def page_facts(self, context: dict[str, Any]) -> dict[str, Any]:
        """Facts of the shopper's page (from message metadata) for flow rules."""
        return page_facts(context, self.catalog)

    def flow_for(self, name: str | None, context: dict[str, Any]) -> Flow:
        """The conversation's flow: the one it started in, else the one the page selects."""
        flows = self.flows
        return flows.named(name) or flows.select(self.page_facts(context))

    def interpreter_for(self, flow: Flow) -> Interpreter:
        """The answer reader of ``flow`` (built once per loaded version of the flows)."""
        flows = self.flows
        if self._interpreters_of is not flows:
            self._interpreters, self._interpreters_of = {}, flows
        interpreter = self._interpreters.get(id(flow))
        if interpreter is None or interpreter.flow is not flow:
            interpreter = Interpreter(
                flow,
                self.catalog,
                currency=self.settings.shop_currency,
                country=self.settings.shop_country,
            )
            self._interpreters[id(flow)] = interpreter
        return interpreter

    def known_answer(
        self, question: Question, facts: dict[str, Any], state: LeadState | None
    ) -> Parsed | None:
        """An answer the shop already has (the shopper's picks, the lead), for ``skip_if_known``.

        A variant counts only when the shopper picked it on the storefront (a
        selection or a cart addition the lead store holds), never because the page
        showed it pre-selected; on another product's page that product is asked about.
        """
        if not question.skip_if_known:
            return None
        kind = question.answer_type
        if kind == "variant":
            return self._picked_variant(facts, state)
        contact = state.contact if state is not None else None
        if not contact:
            return None
        if kind == "email" and contact.get("email"):
            return Parsed(value=contact["email"], display=contact["email"])
        if kind == "phone" and contact.get("phone"):
            return Parsed(value=contact["phone"], display=contact["phone"])
        if kind == "contact" and (contact.get("email") or contact.get("phone")):
            value = {key: contact[key] for key in ("email", "phone") if contact.get(key)}
            return Parsed(value=value, display=", ".join(value.values()))
        if kind == "name" and question.key == "contact_name" and contact.get("first_name"):
            name = {"first_name": contact["first_name"], "last_name": contact.get("last_name")}
            shown = " ".join(part for part in name.values() if part)
            return Parsed(value=name, display=shown)
        return None

    async def _in_store_thread(self, call: Callable[..., _T], *args: Any) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._store_threads, call, *args)

    async def record(self, commands: Sequence[Command]) -> ApplyResult | None:
        """Write ``commands`` off the event loop; ``None`` if they were spooled.

        A locked store holds the turn for at most the store wait, then the
        commands go to the spool.
        """
        return await self._in_store_thread(self.recorder.record, list(commands))

    async def lead_state(self, session_id: str) -> LeadState | None:
        """The session's lead stage and signal counts (``None`` if unknown or unreachable).

        A read waits for a locked store at most the store wait too.
        """
        try:
            return await self._in_store_thread(self.recorder.repository.lead_state, session_id)
        except UNAVAILABLE_ERRORS:
            return None

    async def shop_answer(
        self,
        flow: Flow,
        topic: str,
        answers: dict[str, Any],
        *,
        session_id: str,
        product_id: str | None,
        question: str = "",
    ) -> str:
        """Reply to a shopper's question about shipping, price, returns, discount or stock.

        The item picked on the storefront counts as chosen too (one bounded store read).
        """
        state = await self.lead_state(session_id)
        return replies.shop_answer(
            flow,
            self.catalog,
            topic,
            answers,
            product_id,
            question=question,
            picked_variant=state.picked_variant if state is not None else None,
        )

    def _picked_variant(self, facts: dict[str, Any], state: LeadState | None) -> Parsed | None:
        picked = state.picked_variant if state is not None else None
        found = self.catalog.variant(picked) if picked else None
        if found is None:
            return None
        product, variant = found
        if facts.get("product_id") not in (None, product.id):
            return None
        return Parsed(value=variant.id, display=product.variant_label(variant))

    def summary(self, flow: Flow, answers: dict[str, Any]) -> str:
        """The answers so far, as one line for the shopper."""
        return replies.summary(flow, answers)


def event(
    session_id: str, kind: str, ts: datetime, *, dedupe: str, **properties: Any
) -> RecordEvent:
    """A chat-behaviour event whose id derives from ``dedupe`` (idempotent on retries)."""
    return RecordEvent(
        session_id=session_id,
        event_id=f"chat:{stable_id(session_id, kind, dedupe)}",
        type=kind,
        ts=ts,
        source="chat",
        properties=properties,
    )


def transcript_commands(session_id: str, messages: Iterable[ChatMessage]) -> list[RecordEvent]:
    """``chat_message`` events for the transcript (replays are no-ops)."""
    commands = []
    for message in messages:
        identity = message.message_id or message.ts.isoformat()
        commands.append(
            event(
                session_id,
                "chat_message",
                message.ts,
                dedupe=f"{message.sender}:{identity}",
                sender=message.sender,
                text=message.text[:MAX_STORED_MESSAGE_CHARS],
                intent=message.intent,
            )
        )
    return commands


def turn_commands(
    session_id: str,
    message_id: str,
    result: TurnResult,
    now: datetime,
    *,
    consent_text: str | None,
    flow: Flow | None = None,
) -> list[Command]:
    """Store writes for one interpreted message.

    Contact answers update the lead's contact fields by their answer type, so a
    marketer's own ``email`` or ``phone`` question fills them too.
    """
    commands: list[Command] = []
    for key, answer in result.answers.items():
        commands.append(
            RecordAnswer(
                session_id=session_id,
                answer_id=f"{message_id}:{key}",
                key=key,
                raw=answer["raw"],
                value=answer["value"],
                status=answer["status"],
                answered_at=now,
            )
        )
    for index, (event_type, properties) in enumerate(result.events):
        commands.append(
            event(session_id, event_type, now, dedupe=f"{message_id}:{index}", **properties)
        )
    consent = result.answers.get("contact_consent")
    if consent is not None and consent["value"] is True:
        commands.append(
            UpdateContact(session_id=session_id, consent_text=consent_text, consent_at=now)
        )
        commands.append(event(session_id, "consent_given", now, dedupe=f"{message_id}:consent"))
    for key, answer in result.answers.items():
        value = answer["value"]
        question = flow.question(key) if flow is not None else None
        kind = question.answer_type if question is not None else _CORE_CONTACT_TYPES.get(key)
        if not value or kind is None or (kind == "name" and key != "contact_name"):
            # Only the core name question names the shopper ("Recipient's name?" does not).
            continue
        if kind == "name":
            commands.append(
                UpdateContact(
                    session_id=session_id,
                    first_name=value.get("first_name"),
                    last_name=value.get("last_name"),
                )
            )
        elif kind == "contact":
            commands.append(
                UpdateContact(
                    session_id=session_id, email=value.get("email"), phone=value.get("phone")
                )
            )
        elif kind == "email":
            commands.append(UpdateContact(session_id=session_id, email=value))
        elif kind == "phone":
            commands.append(UpdateContact(session_id=session_id, phone=value))
    return commands


_CORE_CONTACT_TYPES = {"contact_name": "name", "contact_details": "contact"}
