"""Conversations sent to several Rasa servers at once, and what the stores say about them.

:func:`drive` sends each conversation's messages two at a time, one to each of two
Rasa servers, so both serve the same conversation at the same moment and only the
lock store keeps its turns apart. :func:`tracker_problems` and
:func:`consumer_problems` read what was stored.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests
from sqlalchemy import create_engine, text

# Twenty different things shoppers write (answers, questions, changes of mind), so each
# stored user event names the message it came from.
MESSAGES = (
    "Hi! I'm interested in your products",
    "I'd like the black hoodie in XL",
    "probably within the next two weeks",
    "deliver to Lyon, France",
    "my budget is around 80 euros",
    "what materials is it made of?",
    "do you ship to Belgium?",
    "actually my budget is 120",
    "how long does delivery take?",
    "is there a discount?",
    "the grey one in M would be fine too",
    "can I pay by card?",
    "next month maybe",
    "Paris actually",
    "what sizes do you have?",
    "do you have it in stock?",
    "thanks",
    "hello again",
    "what colours are there?",
    "sounds good",
)


@dataclass
class Drive:
    """What the senders saw."""

    sent: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    problems: list[str] = field(default_factory=list)
    replies: int = 0
    seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def problem(self, text: str) -> None:
        with self._lock:
            self.problems.append(text)


def drive(
    replica_urls: list[str],
    conversations: int,
    messages: int,
    *,
    prefix: str,
    parallel: int = 8,
    timeout: float = 30.0,
    stop_on_problem: bool = False,
) -> Drive:
    """Send ``messages`` messages in each of ``conversations`` conversations, two at once."""
    assert len(replica_urls) == 2
    assert messages <= len(MESSAGES) and messages % 2 == 0
    outcome = Drive()
    stop = threading.Event()

    def send(url: str, sender: str, message: str) -> None:
        try:
            response = requests.post(
                f"{url}/webhooks/rest/webhook",
                json={"sender": sender, "message": message},
                timeout=timeout,
            )
        except requests.RequestException as exc:
            outcome.problem(f"{sender} {message!r}: {type(exc).__name__}")
            stop.set()
            return
        if response.status_code != 200:
            outcome.problem(f"{sender} {message!r}: HTTP {response.status_code}")
        elif not response.json():
            outcome.problem(f"{sender} {message!r}: empty reply")
        else:
            with outcome._lock:
                outcome.replies += 1
            return
        if stop_on_problem:
            stop.set()

    def conversation(index: int) -> None:
        sender = f"{prefix}-{index:03d}"
        for pair in range(0, messages, 2):
            if stop.is_set() and stop_on_problem:
                return
            first, second = MESSAGES[pair], MESSAGES[pair + 1]
            with outcome._lock:
                outcome.sent[sender] += [first, second]
            other = threading.Thread(target=send, args=(replica_urls[1], sender, second))
            other.start()
            send(replica_urls[0], sender, first)
            other.join(timeout + 5)

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        list(pool.map(conversation, range(conversations)))
    outcome.seconds = time.monotonic() - started
    return outcome


def stored_events(tracker_url: str, senders: list[str]) -> dict[str, list[dict[str, object]]]:
    """Each conversation's events in Rasa's tracker store, in the order they were stored."""
    engine = create_engine(tracker_url, future=True)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT sender_id, type_name, data FROM events "
                    "WHERE sender_id = ANY(:senders) ORDER BY id"
                ),
                {"senders": senders},
            ).all()
    finally:
        engine.dispose()
    events: dict[str, list[dict[str, object]]] = defaultdict(list)
    for sender, _type, data in rows:
        events[sender].append(json.loads(data))
    return events


def tracker_problems(tracker_url: str, sent: dict[str, list[str]]) -> list[str]:
    """Messages not stored exactly once, and turns that ran into each other."""
    problems = []
    stored = stored_events(tracker_url, list(sent))
    for sender, texts in sent.items():
        events = stored.get(sender, [])
        said = [str(event.get("text")) for event in events if event.get("event") == "user"]
        if Counter(said) != Counter(texts):
            missing = Counter(texts) - Counter(said)
            extra = Counter(said) - Counter(texts)
            problems.append(f"{sender}: missing {dict(missing)}, twice or more {dict(extra)}")
        # A turn is a user event, then the actions, then action_listen: a second user
        # event before that action_listen is a turn that ran into the one before.
        listening = True
        for event in events:
            if event.get("event") == "user":
                if not listening:
                    problems.append(f"{sender}: {event.get('text')!r} began inside another turn")
                listening = False
            elif event.get("event") == "action" and event.get("name") == "action_listen":
                listening = True
        if not listening:
            problems.append(f"{sender}: the last turn never finished")
    return problems


def consumer_problems(
    leads_url: str, tracker_url: str, senders: list[str], *, wait_seconds: float = 60.0
) -> list[str]:
    """Conversations whose events the consumer does not hold exactly once (after it caught up)."""
    expected = {
        sender: len(events) for sender, events in stored_events(tracker_url, senders).items()
    }
    engine = create_engine(leads_url, future=True)
    deadline = time.monotonic() + wait_seconds
    try:
        while True:
            with engine.connect() as connection:
                rows = connection.execute(
                    text(
                        "SELECT sender_id, count(*), count(DISTINCT dedup_key) "
                        "FROM conversation_events WHERE sender_id = ANY(:senders) "
                        "AND orphaned_at IS NULL GROUP BY sender_id"
                    ),
                    {"senders": senders},
                ).all()
            seen = {sender: (count, distinct) for sender, count, distinct in rows}
            problems = [
                f"{sender}: the tracker holds {count} events, the consumer "
                f"{seen.get(sender, (0, 0))[0]} ({seen.get(sender, (0, 0))[1]} distinct)"
                for sender, count in expected.items()
                if seen.get(sender) != (count, count)
            ]
            if not problems or time.monotonic() > deadline:
                return problems
            time.sleep(0.5)
    finally:
        engine.dispose()
