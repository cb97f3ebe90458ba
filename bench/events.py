"""``python -m bench events``: the conversation-events consumer's throughput through RabbitMQ.

For each backend (SQLite, PostgreSQL) a fresh migrated lead store and a queue of
its own on the local RabbitMQ (127.0.0.1:5672, guest/guest) are filled with
``--events`` Rasa-shaped events of ``--conversations`` conversations (a third user
messages, a third actions, a third bot messages; what Rasa's tracker store
publishes), then the consumer (``bot.conversations.consumer.Consumer``, as
``python -m bot events consume`` runs it) drains the queue. Measured: from the
consumer's start to the last event stored and acknowledged; events per second.
A second pass delivers the same events again (all duplicates).
Prints a Markdown table and writes ``var/bench/events.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from datetime import datetime, timezone
from typing import Any

import aio_pika

from bench.databases import BACKENDS, DEFAULT_POSTGRES_URL, scratch_database
from bot.conversations.config import BrokerSettings
from bot.conversations.consumer import Consumer
from bot.conversations.repository import ConversationEvents
from bot.settings import VAR_DIR
from bot.store.db import create_db_engine
from bot.store.migrate import upgrade

OUTPUT = VAR_DIR / "bench" / "events.json"
RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672/"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench events", description="conversation-events consumer throughput"
    )
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--conversations", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--batch-ms", type=int, default=100)
    parser.add_argument("--backends", default=",".join(BACKENDS), help="sqlite,postgres")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    args = parser.parse_args(argv)
    backends = [name.strip() for name in args.backends.split(",") if name.strip()]
    unknown = sorted(set(backends) - set(BACKENDS))
    if unknown:
        parser.error(f"--backends: unknown {', '.join(unknown)} (expected sqlite, postgres)")
    if args.events < 1 or args.conversations < 1 or args.batch_size < 1 or args.batch_ms < 1:
        parser.error("--events, --conversations, --batch-size and --batch-ms must be at least 1")
    args.backend_list = backends
    return args


def rasa_events(count: int, conversations: int) -> list[bytes]:
    """Bodies shaped as Rasa's ``{"sender_id": ..., **event.as_dict()}``."""
    base = time.time() - 86_400
    bodies = []
    for number in range(count):
        sender = f"bench-{number % conversations}"
        timestamp = base + number / 1000
        kind = (number // conversations) % 3
        event: dict[str, Any]
        if kind == 0:
            event = {
                "event": "user",
                "timestamp": timestamp,
                "metadata": {},
                "text": f"how much is the kettle {number}",
                "parse_data": {
                    "intent": {"name": "ask_price", "confidence": 0.93},
                    "entities": [],
                    "text": f"how much is the kettle {number}",
                    "message_id": uuid.uuid4().hex,
                    "metadata": {},
                    "intent_ranking": [{"name": "ask_price", "confidence": 0.93}],
                },
                "input_channel": "rest",
                "message_id": uuid.uuid4().hex,
            }
        elif kind == 1:
            event = {
                "event": "action",
                "timestamp": timestamp,
                "name": "utter_price",
                "policy": "RulePolicy",
                "confidence": 1.0,
                "action_text": None,
                "hide_rule_turn": False,
            }
        else:
            event = {
                "event": "bot",
                "timestamp": timestamp,
                "metadata": {"utter_action": "utter_price"},
                "text": "The kettle is 49 EUR.",
                "data": {"elements": None, "buttons": None},
            }
        bodies.append(json.dumps({"sender_id": sender, **event}).encode())
    return bodies


async def fill(queue: str, bodies: list[bytes]) -> None:
    """Put ``bodies`` into ``queue`` (durable, persistent messages) and wait for all of them."""
    connection = await aio_pika.connect(RABBITMQ_URL, timeout=10)
    async with connection:
        channel = await connection.channel(publisher_confirms=False)
        await channel.declare_queue(queue, durable=True)
        for body in bodies:
            await channel.default_exchange.publish(
                aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT), queue
            )
        for _ in range(6000):
            declared = await channel.declare_queue(queue, durable=True, passive=True)
            if (declared.declaration_result.message_count or 0) >= len(bodies):
                return
            await asyncio.sleep(0.01)
        raise RuntimeError(f"RabbitMQ holds fewer than {len(bodies)} messages after 60 s")


async def drain(consumer: Consumer, expected_received: int) -> float:
    """Seconds from the consumer's start until it has written ``expected_received`` messages."""
    stop = asyncio.Event()
    started = time.perf_counter()
    running = asyncio.create_task(consumer.run(stop))
    # Bounded: 20 minutes of 10 ms polls.
    for _ in range(120_000):
        if consumer.stats.received >= expected_received or running.done():
            break
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - started
    stop.set()
    await running
    if consumer.stats.received < expected_received:
        raise RuntimeError(f"the consumer took {consumer.stats.received} of {expected_received}")
    return elapsed


async def delete_queue(queue: str) -> None:
    connection = await aio_pika.connect(RABBITMQ_URL, timeout=10)
    async with connection:
        channel = await connection.channel()
        await channel.queue_delete(queue)


def measure(backend: str, args: argparse.Namespace, bodies: list[bytes]) -> dict[str, Any]:
    with scratch_database(backend, args.postgres_url, "bench-events") as url:
        upgrade(url)
        engine = create_db_engine(url)
        queue = f"bench_events_{uuid.uuid4().hex}"
        store = ConversationEvents(engine)
        passes: dict[str, Any] = {}
        try:
            for name in ("first", "again"):
                asyncio.run(fill(queue, bodies))
                consumer = Consumer(
                    BrokerSettings(queue=queue),
                    store,
                    batch_size=args.batch_size,
                    batch_seconds=args.batch_ms / 1000,
                )
                seconds = asyncio.run(drain(consumer, len(bodies)))
                passes[name] = {
                    "seconds": round(seconds, 2),
                    "events_per_second": round(len(bodies) / seconds),
                    "stored": consumer.stats.stored,
                    "duplicates": consumer.stats.duplicates,
                    "batches": consumer.stats.batches,
                }
            counts = store.counts()
        finally:
            asyncio.run(delete_queue(queue))
            engine.dispose()
    if counts["events"] != len(bodies):
        raise RuntimeError(f"{backend}: stored {counts['events']} of {len(bodies)} events")
    return {**passes, "conversations": counts["conversations"]}


def main(argv: list[str] | None = None, *, machine: str = "") -> int:
    """Run the benchmark; prints Markdown and writes JSON."""
    args = parse_args(argv)
    bodies = rasa_events(args.events, args.conversations)
    load_before = os.getloadavg()
    results = {}
    for backend in args.backend_list:
        print(f"{backend}: {args.events:,} events …", file=sys.stderr, flush=True)
        results[backend] = measure(backend, args, bodies)
    report = {
        "measured_at": datetime.now(timezone.utc).isoformat(),
        "machine": machine,
        "load_average_1m": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "events": args.events,
        "conversations": args.conversations,
        "batch_size": args.batch_size,
        "batch_ms": args.batch_ms,
        "results": results,
    }
    print(
        f"Conversation events consumer, {args.events:,} events of {args.conversations} "
        f"conversations through the local RabbitMQ, batches of up to {args.batch_size} "
        f"({args.batch_ms} ms); {machine}\n"
    )
    print("| lead store | first delivery | events/s | again (all duplicates) | events/s |")
    print("|---|---|---|---|---|")
    for backend, result in results.items():
        first, again = result["first"], result["again"]
        print(
            f"| {backend} | {first['seconds']} s | {first['events_per_second']:,} "
            f"| {again['seconds']} s | {again['events_per_second']:,} |"
        )
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\nwritten to {OUTPUT}", file=sys.stderr)
    return 0
