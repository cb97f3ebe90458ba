"""Proof: two Rasa servers serving the same conversations at once lose and mix nothing.

50 conversations of 20 messages, each conversation's messages sent two at a time,
one to each replica (not through HAProxy, so the two really serve the same
conversation together): every message is answered, stored once, no turn runs
into another, and the events consumer holds each stored event once. The same
drive against Rasa's stock ``RedisLockStore`` goes wrong (``test_cluster_stock_lock``).

Then, through HAProxy, one replica is killed (SIGKILL) while it runs a turn: its
shoppers go on with the other replica, the interrupted message is stored once and
whole, and the lead store holds it once though the shopper sent it twice.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter

import redis
import requests
from sqlalchemy import create_engine, text

from bot.devstack import ClusterStack
from bot.settings import PROJECT_ROOT
from tests.cluster.turns import MESSAGES as TEXTS
from tests.cluster.turns import consumer_problems, drive, tracker_problems

CONVERSATIONS = 50
RESULTS = PROJECT_ROOT / "var" / "results"
# A shopper whose request fails sends it again, with the same message id, this long.
RETRY_SECONDS = 60.0
MESSAGES = 20


def test_two_replicas_share_conversations_without_losing_or_mixing_turns(
    cluster: ClusterStack,
) -> None:
    urls = [cluster.replica_url(1), cluster.replica_url(2)]

    outcome = drive(urls, CONVERSATIONS, MESSAGES, prefix="shared")

    assert outcome.problems == []
    assert outcome.replies == CONVERSATIONS * MESSAGES
    tracker_url = cluster.env["TRACKER_STORE_URL"]
    assert tracker_problems(tracker_url, outcome.sent) == []
    assert consumer_problems(cluster.env["DATABASE_URL"], tracker_url, list(outcome.sent)) == []


def test_the_widgets_socket_io_chat_goes_through_haproxy_to_one_replica(
    cluster: ClusterStack,
) -> None:
    import queue

    import socketio

    sender = f"socket-{uuid.uuid4().hex[:8]}"
    replies: queue.Queue[str] = queue.Queue()
    confirmed: queue.Queue[str] = queue.Queue()
    # The synchronous client: python-engineio's asyncio WebSocket needs a newer aiohttp.
    client = socketio.Client(reconnection=False)
    client.on("bot_uttered", lambda data: replies.put(str(data.get("text"))))
    client.on("session_confirm", lambda data: confirmed.put(str(data)))
    # As the widget: polling first, then the upgrade to a WebSocket, all with ?sender=.
    client.connect(
        f"{cluster.chat_url}?sender={sender}",
        socketio_path="/socket.io",
        transports=["polling", "websocket"],
        wait_timeout=20,
    )
    texts = []
    try:
        assert client.transport() == "websocket"
        client.emit("session_request", {"session_id": sender})
        assert confirmed.get(timeout=20) == sender
        for message in ("Hi! I'm interested in your products", "the black hoodie in XL"):
            client.emit(
                "user_uttered",
                {"message": message, "message_id": str(uuid.uuid4()), "session_id": sender},
            )
            texts.append(replies.get(timeout=30))
    finally:
        client.disconnect()

    assert len(texts) == 2 and all(texts)
    sent = {sender: ["Hi! I'm interested in your products", "the black hoodie in XL"]}
    # The second turn may still be saving when its first reply arrives.
    deadline = time.monotonic() + 30
    while tracker_problems(cluster.env["TRACKER_STORE_URL"], sent) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert tracker_problems(cluster.env["TRACKER_STORE_URL"], sent) == []


class Shopper:
    """A widget through HAProxy: each message with its id, sent again after a failure."""

    def __init__(self, cluster: ClusterStack, sender: str) -> None:
        self.url = f"{cluster.chat_url}/webhooks/rest/webhook"
        self.sender = sender
        self.sent: list[str] = []
        self.failures = 0
        self.problems: list[str] = []
        self.answered_at: list[float] = []
        self.served_by = ""

    def say(self, message: str) -> None:
        message_id = str(uuid.uuid4())
        self.sent.append(message)
        deadline = time.monotonic() + RETRY_SECONDS
        while time.monotonic() < deadline:
            try:
                response = requests.post(
                    self.url,
                    json={"sender": self.sender, "message": message, "message_id": message_id},
                    timeout=30,
                )
            except requests.RequestException:
                response = None
            if response is not None and response.status_code == 200:
                if not response.json():
                    self.problems.append(f"{message!r}: empty reply")
                self.served_by = response.headers.get("X-Served-By", "")
                self.answered_at.append(time.monotonic())
                return
            if response is not None and response.status_code not in (502, 503, 504):
                self.problems.append(f"{message!r}: HTTP {response.status_code}")
                return
            self.failures += 1
            time.sleep(0.5)
        self.problems.append(f"{message!r}: no answer within {RETRY_SECONDS:.0f} s")


def test_a_replica_killed_mid_turn_loses_no_message_and_writes_nothing_twice(
    cluster: ClusterStack,
) -> None:
    # Shoppers on both replicas (HAProxy pins each by its sender id).
    shoppers: list[Shopper] = []
    for index in range(40):
        shopper = Shopper(cluster, f"failover-{index:02d}")
        shopper.say(TEXTS[0])
        shoppers.append(shopper)
        served = Counter(s.served_by for s in shoppers)
        if len(served) == 2 and min(served.values()) >= 3:
            break
    victim_name = shoppers[0].served_by
    assert victim_name in ("rasa-1", "rasa-2")
    victims = [s for s in shoppers if s.served_by == victim_name]
    others = [s for s in shoppers if s.served_by != victim_name]
    assert others

    # Everyone else keeps chatting while the victim's replica is killed.
    stop = threading.Event()

    def chat(shopper: Shopper) -> None:
        for message in TEXTS[1:12]:
            if stop.is_set():
                return
            shopper.say(message)

    background = [threading.Thread(target=chat, args=(s,)) for s in shoppers[1:]]
    for thread in background:
        thread.start()

    # Kill while the first victim's turn runs: its conversation lock is held in Redis.
    first = victims[0]
    lock_key = f"{cluster.env['REDIS_LOCK_PREFIX']}:atomiclock:{first.sender}"
    red = redis.Redis(host="127.0.0.1", port=6379, db=1)
    killed_at = None
    interrupted = ""
    for message in TEXTS[1:12]:
        sending = threading.Thread(target=first.say, args=(message,))
        sending.start()
        watch_until = time.monotonic() + 5
        while time.monotonic() < watch_until and sending.is_alive():
            if red.exists(lock_key):
                cluster.kill_member(victim_name)
                killed_at = time.monotonic()
                interrupted = message
                break
        sending.join(RETRY_SECONDS + 35)
        if killed_at is not None:
            break
    assert killed_at is not None, "never saw the victim's turn running"
    for message in TEXTS[len(first.sent) : 12]:
        first.say(message)
    stop_after = time.monotonic() + RETRY_SECONDS + 60
    for thread in background:
        thread.join(max(1.0, stop_after - time.monotonic()))
    stop.set()

    # Every message was answered; the interrupted one needed at least one more try.
    assert [s.problems for s in shoppers] == [[] for _ in shoppers]
    assert first.failures >= 1
    # The victim's shoppers went on with the other replica within seconds.
    gaps = {}
    for shopper in victims:
        after = [t for t in shopper.answered_at if t > killed_at]
        assert after, f"{shopper.sender} got no answer after the kill"
        gaps[shopper.sender] = round(after[0] - killed_at, 2)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "cluster-failover.json").write_text(
        json.dumps(
            {
                "killed": victim_name,
                "shoppers_on_it": len(victims),
                "shoppers_on_the_other": len(others),
                "seconds_from_kill_to_next_answer": gaps,
                "failed_attempts_of_the_interrupted_shopper": first.failures,
            },
            indent=2,
        )
    )
    assert max(gaps.values()) < 30, gaps
    # The interrupted turn was stored whole or not at all, and then exactly once.
    sent = {s.sender: s.sent for s in shoppers}
    assert tracker_problems(cluster.env["TRACKER_STORE_URL"], sent) == []
    # The lead store holds each message once, though the interrupted one was sent twice.
    engine = create_engine(cluster.env["DATABASE_URL"], future=True)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT l.session_id, e.properties FROM lead_events e "
                    "JOIN leads l ON l.id = e.lead_id "
                    "WHERE e.type = 'chat_message' AND l.session_id = ANY(:senders)"
                ),
                {"senders": list(sent)},
            ).all()
            leads = connection.execute(
                text(
                    "SELECT session_id, count(*) FROM leads WHERE session_id = ANY(:senders) "
                    "GROUP BY session_id"
                ),
                {"senders": list(sent)},
            ).all()
    finally:
        engine.dispose()
    decoded = [(session, json.loads(p) if isinstance(p, str) else p) for session, p in rows]
    lines = Counter(
        (session, props["text"]) for session, props in decoded if props.get("sender") == "user"
    )
    assert [line for line, count in lines.items() if count > 1] == []
    assert (first.sender, interrupted) in lines
    assert all(count == 1 for _, count in leads)
