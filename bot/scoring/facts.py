"""What the scorer knows about a lead, folded from its answers and events.

Facts are a compact, bounded summary kept on the lead row: recording an event
folds it in (O(1), whatever the lead's history) instead of re-reading every
event, and ``rescore`` reads only this summary. Folding is order-independent:
out-of-order storefront batches give the same facts as in-order ones. The same
fold over the stored history rebuilds the facts (after a merge, or to backtest a
proposed configuration).
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from bot.scoring.config import (
    ANSWER_SIGNALS,
    ANSWER_TIMELINE_DAYS,
    SCORABLE_SIGNALS,
    STOREFRONT_EVENT_TYPES,
)
from bot.store.records import EventLike

# Only the most recent occurrences of a signal matter once decayed and capped.
MAX_KEPT_PER_SIGNAL = 50
MAX_KEPT_ACTIVITY = 300
# Activity is kept at minute resolution: a visit gap is measured in tens of minutes.
ACTIVITY_RESOLUTION_SECONDS = 60
SCORED_ANSWER_KEYS = frozenset(
    {"timeline", "variant", "location", "budget", "contact_consent", "contact_details"}
)
# Contact details matter to the score only as "given": facts keep which channels
# (email, phone) were given, never the address or number.
CONTACT_KEY = "contact_details"
CONTACT_CHANNELS = ("email", "phone")
# Events the system writes about a lead, which say nothing about the shopper.
SYSTEM_EVENTS = frozenset({"stage_changed", "lead_merged"})
# Fit points a flow awards for an answer (``{"key", "points", "reason"}``).
ANSWER_POINTS = "answer_points"
MAX_ANSWER_POINTS = 100
_STOREFRONT = frozenset(STOREFRONT_EVENT_TYPES)
# Answer signals come from the current answers only, never from an event of that name.
_SCORABLE = frozenset(SCORABLE_SIGNALS) - frozenset(ANSWER_SIGNALS)
_VARIANT_EVENTS = frozenset({"variant_select", "add_to_cart", "checkout_start", "payment_info"})


def signal_of(kind: str, properties: dict[str, Any] | None) -> str:
    """The scoring signal an event stands for (chat questions become ``asked_<topic>``)."""
    if kind == "shopper_question":
        topic = (properties or {}).get("topic")
        return f"asked_{topic}" if isinstance(topic, str) else kind
    if kind == "question_asked":
        question = (properties or {}).get("question")
        return f"prompted:{question}" if isinstance(question, str) else kind
    return kind


def _epoch(ts: datetime) -> int:
    # Whole seconds: precise enough for decay and visits, and integers keep the
    # stored JSON short and fast to read and write.
    return int(ts.timestamp())


def _keep_latest(values: list[float], value: float, limit: int) -> None:
    """Insert ``value`` into the sorted list, keeping only the ``limit`` largest."""
    if len(values) >= limit and value <= values[0]:
        return
    bisect.insort(values, value)
    if len(values) > limit:
        del values[0]


@dataclass
class LeadFacts:
    """Bounded summary of a lead's behaviour and answers.

    ``signals`` holds, per scoring signal, the epoch seconds of its latest
    occurrences (sorted); ``counts`` counts every event kind ever seen;
    ``activity`` holds minutes with any shopper activity (for visits).
    ``answers`` keeps the current answer of each scored question as
    ``{"value", "status", "at"}``. ``variant``/``product``/``country`` are the
    latest storefront context as ``(id, epoch)``. ``points`` keeps, per question
    key, the latest fit points the flow awarded for its answer (``answer_points``
    events) as ``{"p": points, "r": reason, "at": epoch}``.
    """

    signals: dict[str, list[float]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    activity: list[float] = field(default_factory=list)
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    variant: tuple[str, float] | None = None
    product: tuple[str, float] | None = None
    country: tuple[str, float] | None = None
    points: dict[str, dict[str, Any]] = field(default_factory=dict)

    def fold_event(
        self,
        kind: str,
        ts: datetime,
        *,
        product_id: str | None = None,
        variant_id: str | None = None,
        properties: dict[str, Any] | None = None,
    ) -> None:
        """Fold one event in (each event exactly once: the store deduplicates)."""
        if kind in SYSTEM_EVENTS:
            return
        at = _epoch(ts)
        if kind == ANSWER_POINTS:
            self._fold_points(properties or {}, ts.timestamp())
            return
        signal = signal_of(kind, properties)
        self.counts[signal] = self.counts.get(signal, 0) + 1
        if kind != "chat_message" or (properties or {}).get("sender") == "user":
            minute = at - at % ACTIVITY_RESOLUTION_SECONDS
            index = bisect.bisect_left(self.activity, minute)
            if index == len(self.activity) or self.activity[index] != minute:
                _keep_latest(self.activity, minute, MAX_KEPT_ACTIVITY)
        if signal in _SCORABLE:
            _keep_latest(self.signals.setdefault(signal, []), at, MAX_KEPT_PER_SIGNAL)
        if kind in _STOREFRONT:
            if product_id:
                self.product = _later(self.product, product_id, at)
            if variant_id and kind in _VARIANT_EVENTS:
                self.variant = _later(self.variant, variant_id, at)
            country = (properties or {}).get("country")
            if kind == "shipping_check" and isinstance(country, str) and len(country) == 2:
                self.country = _later(self.country, country.upper(), at)

    def _fold_points(self, properties: dict[str, Any], at: float) -> None:
        key, points = properties.get("key"), properties.get("points")
        if not isinstance(key, str) or isinstance(points, bool) or not isinstance(points, int):
            return
        points = max(-MAX_ANSWER_POINTS, min(MAX_ANSWER_POINTS, points))
        reason = properties.get("reason")
        current = self.points.get(key)
        entry = {"p": points, "r": reason if isinstance(reason, str) else None, "at": at}
        # Latest wins; ties on time are broken on the points (order-independent fold).
        if current is None or (at, points) >= (current["at"], current["p"]):
            self.points[key] = entry

    def fold_answer(self, key: str, value: Any, status: str, answered_at: datetime) -> None:
        """Fold one answer in; the latest answer to a question wins."""
        if key not in SCORED_ANSWER_KEYS:
            return
        at = _epoch(answered_at)
        current = self.answers.get(key)
        if current is not None and current["at"] > at:
            return
        kept = _channels(value) if key == CONTACT_KEY else _jsonable(value)
        self.answers[key] = {"value": kept, "status": status, "at": at}

    def answer(self, key: str) -> dict[str, Any] | None:
        """The current answer to ``key`` when it was answered with a value, else ``None``."""
        answer = self.answers.get(key)
        if answer is None or answer.get("status") != "answered" or answer.get("value") is None:
            return None
        return answer

    def answer_signals(self) -> dict[str, float]:
        """The buying signals the current answers show, each with when it was shown.

        Derived from the current answers (not folded as occurrences), so a corrected
        answer takes its signal with it and a rebuild from history agrees.
        """
        found: dict[str, float] = {}
        timeline = self.answer("timeline")
        near = _near_timeline(timeline["value"]) if timeline is not None else None
        if timeline is not None and near is not None:
            found[near] = timeline["at"]
        variant = self.answer("variant")
        if variant is not None:
            found["answered_variant"] = variant["at"]
        location = self.answer("location")
        place = location["value"] if location is not None else None
        if location is not None and isinstance(place, dict) and place.get("serviceable") is True:
            found["answered_location"] = location["at"]
        consent, contact = self.answer("contact_consent"), self.answer(CONTACT_KEY)
        if consent is not None and consent["value"] is True and contact and contact["value"]:
            # Shown once both are given: from the later of the two answers.
            found["answered_contact"] = max(consent["at"], contact["at"])
        return found

    def fold(self, events: Iterable[EventLike], answers: Iterable[AnswerLike]) -> None:
        """Fold several events and answers in."""
        for item in events:
            self.fold_event(
                item.type,
                item.ts,
                product_id=item.product_id,
                variant_id=item.variant_id,
                properties=item.properties,
            )
        for answer in answers:
            self.fold_answer(answer.key, answer.value, answer.status, answer.answered_at)

    def count(self, signal: str) -> int:
        """How often ``signal`` happened."""
        return self.counts.get(signal, 0)

    def to_json(self) -> str:
        """Compact JSON for the lead row."""
        return json.dumps(
            {
                "s": self.signals,
                "c": self.counts,
                "a": self.activity,
                "q": self.answers,
                "v": self.variant,
                "p": self.product,
                "g": self.country,
                **({"f": self.points} if self.points else {}),
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str | None) -> LeadFacts:
        """Inverse of :meth:`to_json` (empty facts for ``None``)."""
        if not text:
            return cls()
        data = json.loads(text)
        return cls(
            signals=data["s"],
            counts=data["c"],
            activity=data["a"],
            answers=data["q"],
            variant=_pair(data.get("v")),
            product=_pair(data.get("p")),
            country=_pair(data.get("g")),
            points=data.get("f") or {},
        )


def _later(current: tuple[str, float] | None, value: str, at: float) -> tuple[str, float]:
    # Ties on time are broken on the value, so the fold stays order-independent.
    return (value, at) if current is None or (at, value) >= (current[1], current[0]) else current


def _pair(raw: Any) -> tuple[str, float] | None:
    return (str(raw[0]), int(raw[1])) if raw else None


def _channels(value: Any) -> list[str]:
    """Which contact channels a contact answer (``{"email"?, "phone"?}``) gave."""
    if not isinstance(value, dict):
        return []
    return [channel for channel in CONTACT_CHANNELS if value.get(channel)]


def _near_timeline(value: Any) -> str | None:
    """The answer signal of a timeline answer, if its purchase date is near."""
    days = value.get("days") if isinstance(value, dict) else None
    if not isinstance(days, int) or isinstance(days, bool) or days < 0:
        return None
    return next((name for name, within in ANSWER_TIMELINE_DAYS if days <= within), None)


def _jsonable(value: Any) -> Any:
    """Answer values as JSON (money as strings, so it stays exact)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    return value


class AnswerLike(Protocol):
    """What the fold reads of an answer (an :class:`AnswerFact`, a stored row, a command)."""

    @property
    def key(self) -> str:
        """The question answered."""

    @property
    def value(self) -> Any:
        """The parsed answer."""

    @property
    def status(self) -> str:
        """``answered`` or ``unknown``."""

    @property
    def answered_at(self) -> datetime:
        """When (aware UTC)."""


@dataclass(frozen=True)
class EventFact:
    """An event as the fold needs it."""

    type: str
    ts: datetime
    product_id: str | None = None
    variant_id: str | None = None
    properties: dict[str, Any] | None = None


@dataclass(frozen=True)
class AnswerFact:
    """A (current or past) answer as the fold needs it."""

    key: str
    value: Any
    status: str
    answered_at: datetime


def facts_from_history(events: Iterable[EventLike], answers: Iterable[AnswerLike]) -> LeadFacts:
    """Facts of a lead rebuilt from its stored events and answers."""
    facts = LeadFacts()
    facts.fold(events, answers)
    return facts
