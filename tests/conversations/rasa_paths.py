"""Rasa's own two ways of publishing a conversation's events, captured instead of sent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rasa.core.brokers.broker import EventBroker
from rasa.core.exporter import Exporter
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered


class CapturingBroker(EventBroker):
    """An event broker that keeps what Rasa publishes (bodies and headers)."""

    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []
        self.headers: list[dict[str, str] | None] = []

    def publish(self, event: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        self.published.append(event)
        self.headers.append(headers)

    def is_ready(self) -> bool:
        return True


def shopper_turn(number: int, intent: str = "ask_price", confidence: float = 0.91) -> list[Any]:
    """One turn's events, as a Rasa server adds them to the tracker."""
    return [
        UserUttered(
            f"message {number} — ça coûte combien ?",
            {"name": intent, "confidence": confidence},
            [{"entity": "product", "value": "kettle", "start": 0, "end": 6}],
            parse_data={
                "text": f"message {number}",
                "intent": {"name": intent, "confidence": confidence},
                "entities": [],
                "intent_ranking": [{"name": intent, "confidence": confidence}],
            },
            input_channel="rest",
            message_id=f"msg-{number}",
            metadata={"page": "/p/kettle"},
        ),
        ActionExecuted("utter_price", policy="RulePolicy", confidence=1.0),
        BotUttered(f"reply {number}", {"buttons": None}, {"utter_action": "utter_price"}),
        SlotSet("budget", {"amount": "120.50", "currency": "EUR"}),
        ActionExecuted("action_listen"),
    ]


def tracker_store(path: Path, broker: EventBroker | None) -> SQLTrackerStore:
    """Rasa's SQL tracker store on the SQLite file ``path``."""
    return SQLTrackerStore(Domain.empty(), db=str(path), event_broker=broker)


async def live_turns(path: Path, turns: dict[str, list[list[Any]]]) -> CapturingBroker:
    """Save each conversation's turns as a Rasa server does; what it published."""
    broker = CapturingBroker()
    store = tracker_store(path, broker)
    for sender_id, conversation in turns.items():
        for events in conversation:
            tracker = await store.get_or_create_tracker(sender_id)
            for event in events:
                tracker.update(event)
            await store.save(tracker)
    return broker


async def exported(
    path: Path, minimum: float | None = None, maximum: float | None = None
) -> CapturingBroker:
    """What ``rasa export`` publishes from the tracker store at ``path``."""
    broker = CapturingBroker()
    exporter = Exporter(
        tracker_store(path, None),
        broker,
        endpoints_path="endpoints.yml",
        minimum_timestamp=minimum,
        maximum_timestamp=maximum,
    )
    await exporter.publish_events()
    return broker
