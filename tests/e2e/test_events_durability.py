"""Storefront events survive a crash: every 202 is on disk, and retries never double count.

Starts the real web app (``python -m bot web``) on a temporary SQLite lead store,
sends a concurrent burst of event batches, kills the process group with SIGKILL
while requests are in flight, then checks the database file and re-sends
everything to a restarted web app.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests

from bot.devstack import StackPorts
from bot.scoring import LeadFacts
from bot.settings import PROJECT_ROOT

pytestmark = pytest.mark.e2e

API_TOKEN = f"durability-api-{uuid.uuid4().hex}"
SHOP_TOKEN = f"durability-shop-{uuid.uuid4().hex}"
BATCHES = 120
BATCH_SIZE = 50
WORKERS = 4
KILL_AFTER_ACKNOWLEDGED = 12
START_TIMEOUT_SECONDS = 60.0
BURST_TIMEOUT_SECONDS = 120.0
REQUEST_TIMEOUT_SECONDS = 30.0
RESEND_ATTEMPTS = 10
SESSIONS = 10
KINDS = ("page_view", "product_view", "variant_select", "add_to_cart", "shipping_check")
VARIANT = "hoodie-classic-blue-m"


def _batches(run: str) -> list[list[dict[str, Any]]]:
    """Batches of unique events, spread over a few shopper sessions, all in the last hour."""
    start = datetime.now(timezone.utc) - timedelta(hours=1)
    batches = []
    for b in range(BATCHES):
        batch = []
        for i in range(BATCH_SIZE):
            n = b * BATCH_SIZE + i
            kind = KINDS[n % len(KINDS)]
            event: dict[str, Any] = {
                "event_id": f"{run}-{b}-{i}",
                "session_id": f"{run}-session-{n % SESSIONS}",
                "type": kind,
                "ts": (start + timedelta(seconds=n / 2)).isoformat().replace("+00:00", "Z"),
                "product_id": "hoodie-classic",
            }
            if kind in ("variant_select", "add_to_cart"):
                event["variant_id"] = VARIANT
                event["value"] = "59.00"
            if kind == "shipping_check":
                event["properties"] = {"country": "FR"}
            batch.append(event)
        batches.append(batch)
    return batches


class WebApp:
    """``python -m bot web`` in its own process group, logging to a file."""

    def __init__(self, tmp_path: Path, database_url: str) -> None:
        self.port = StackPorts.free().web
        self.log_path = tmp_path / f"web-{self.port}.log"
        self.env = {
            **os.environ,
            "WEB_PORT": str(self.port),
            "WEB_HOST": "127.0.0.1",
            "DATABASE_URL": database_url,
            "LEADS_API_TOKEN": API_TOKEN,
            "STOREFRONT_TOKEN": SHOP_TOKEN,
            "LEADS_SPOOL_DIR": str(tmp_path / "spool"),
            "RASA_TELEMETRY_ENABLED": "false",
            "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
            "PYTHONPATH": str(PROJECT_ROOT),
        }
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except OSError:
            return "(no log)"

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot", "web"],
                cwd=PROJECT_ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"web app exited with {self.process.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(requests.RequestException):
                if _session().get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        pytest.fail(f"web app not healthy after {START_TIMEOUT_SECONDS:.0f} s:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL the whole process group (no shutdown handlers run) and reap it."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)


def _session() -> requests.Session:
    http = requests.Session()
    http.trust_env = False  # no proxy for loopback
    return http


@dataclass
class Burst:
    """What the storefront saw during the burst."""

    acknowledged: set[str] = field(default_factory=set)
    acknowledged_batches: list[int] = field(default_factory=list)
    connection_failures: list[tuple[int, float]] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)
    in_flight: int = 0
    next_batch: int = 0
    killed_at: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


def _worker(burst: Burst, batches: list[list[dict[str, Any]]], url: str) -> None:
    http = _session()
    headers = {"Authorization": f"Bearer {SHOP_TOKEN}"}
    while True:
        with burst.lock:
            if burst.next_batch >= len(batches):
                return
            index = burst.next_batch
            burst.next_batch += 1
            burst.in_flight += 1
        try:
            response = http.post(
                f"{url}/api/v2/events",
                json={"events": batches[index]},
                headers=headers,
                timeout=REQUEST_TIMEOUT_SECONDS,
            )
        except requests.RequestException:
            with burst.lock:
                burst.in_flight -= 1
                burst.connection_failures.append((index, time.monotonic()))
            return  # the server is gone: this storefront stops sending
        with burst.lock:
            burst.in_flight -= 1
            burst.statuses[response.status_code] += 1
            if response.status_code == 202:
                burst.acknowledged.update(event["event_id"] for event in batches[index])
                burst.acknowledged_batches.append(index)
            elif response.status_code != 503:  # 503: not stored, retry later
                burst.unexpected.append(f"batch {index}: {response.status_code} {response.text}")


def _stored_event_ids(db_path: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(db_path)) as connection:
        rows = connection.execute(
            "SELECT event_id FROM lead_events WHERE source = 'storefront'"
        ).fetchall()
    return [row[0] for row in rows]


def _fact_counts_match_events(db_path: Path) -> dict[str, tuple[dict[str, int], dict[str, int]]]:
    """Leads whose scoring facts count events differently from the stored events."""
    mismatches = {}
    with contextlib.closing(sqlite3.connect(db_path)) as connection:
        leads = connection.execute("SELECT id, session_id, score_facts FROM leads").fetchall()
        for lead_id, session_id, facts in leads:
            stored = dict(
                connection.execute(
                    "SELECT type, COUNT(*) FROM lead_events "
                    "WHERE lead_id = ? AND source = 'storefront' GROUP BY type",
                    (lead_id,),
                ).fetchall()
            )
            folded = {
                kind: count
                for kind, count in LeadFacts.from_json(facts).counts.items()
                if kind in KINDS
            }
            if folded != stored:
                mismatches[session_id] = (folded, stored)
    return mismatches


def test_acknowledged_events_survive_sigkill_and_retries_never_double_count(
    tmp_path: Path,
) -> None:
    db_path = tmp_path / "leads.db"
    database_url = f"sqlite:///{db_path}"
    run = f"dur-{uuid.uuid4().hex[:8]}"
    batches = _batches(run)
    sent_ids = {event["event_id"] for batch in batches for event in batch}
    assert len(sent_ids) == BATCHES * BATCH_SIZE

    first = WebApp(tmp_path, database_url)
    subprocess.run(
        [sys.executable, "-m", "bot", "migrate"],
        cwd=PROJECT_ROOT,
        env=first.env,
        check=True,
        timeout=120,
        capture_output=True,
    )
    second: WebApp | None = None
    try:
        first.start()
        burst = Burst()
        workers = [
            threading.Thread(target=_worker, args=(burst, batches, first.url), daemon=True)
            for _ in range(WORKERS)
        ]
        for worker in workers:
            worker.start()

        # Kill once enough batches are acknowledged, at a moment requests are in flight.
        deadline = time.monotonic() + BURST_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            with burst.lock:
                ready = len(burst.acknowledged_batches) >= KILL_AFTER_ACKNOWLEDGED
                if ready and burst.in_flight > 0:
                    burst.killed_at = time.monotonic()
                    assert first.process is not None
                    os.killpg(first.process.pid, signal.SIGKILL)
                    break
                if burst.next_batch >= len(batches) and burst.in_flight == 0:
                    break
            time.sleep(0.001)
        assert burst.killed_at is not None, (
            f"burst ended before the kill point: {burst.statuses}\n{first.log_tail()}"
        )
        first.kill()
        for worker in workers:
            worker.join(timeout=REQUEST_TIMEOUT_SECONDS + 5)
            assert not worker.is_alive(), "a storefront worker hung after the kill"

        assert burst.unexpected == []
        assert burst.connection_failures, "no request was in flight when the web app was killed"
        assert all(at >= burst.killed_at for _, at in burst.connection_failures), (
            f"requests failed before the kill:\n{first.log_tail()}"
        )
        acknowledged_batches = len(burst.acknowledged_batches)
        assert KILL_AFTER_ACKNOWLEDGED <= acknowledged_batches < BATCHES

        # Nothing acknowledged is lost; nothing unsent appears.
        stored = _stored_event_ids(db_path)
        assert len(stored) == len(set(stored))
        lost = burst.acknowledged - set(stored)
        assert not lost, f"{len(lost)} acknowledged event(s) lost, e.g. {sorted(lost)[:5]}"
        assert set(stored) <= sent_ids
        assert _fact_counts_match_events(db_path) == {}

        # The storefront retries everything (acknowledged or not) after a restart.
        second = WebApp(tmp_path, database_url)
        second.start()
        http = _session()
        headers = {"Authorization": f"Bearer {SHOP_TOKEN}"}
        accepted = duplicates = 0
        for index, batch in enumerate(batches):
            for _attempt in range(RESEND_ATTEMPTS):
                response = http.post(
                    f"{second.url}/api/v2/events",
                    json={"events": batch},
                    headers=headers,
                    timeout=REQUEST_TIMEOUT_SECONDS,
                )
                if response.status_code != 503:
                    break
                time.sleep(0.2)
            assert response.status_code == 202, f"batch {index}: {response.text}"
            body = response.json()
            assert body["accepted"] + body["duplicates"] == BATCH_SIZE
            if index in burst.acknowledged_batches:
                assert body == {"accepted": 0, "duplicates": BATCH_SIZE}, f"batch {index}"
            accepted += body["accepted"]
            duplicates += body["duplicates"]
        assert duplicates == len(stored)
        assert accepted == len(sent_ids) - len(stored)

        final = _stored_event_ids(db_path)
        assert len(final) == len(sent_ids)
        assert Counter(final) == Counter(sent_ids)  # each event exactly once
        assert _fact_counts_match_events(db_path) == {}

        # The leads read back through the API with the same counts.
        listed = http.get(
            f"{second.url}/api/v2/leads",
            params={"limit": "200"},
            headers={"Authorization": f"Bearer {API_TOKEN}"},
            timeout=REQUEST_TIMEOUT_SECONDS,
        ).json()["items"]
        ours = [lead for lead in listed if lead["session_id"].startswith(run)]
        assert len(ours) == SESSIONS
        assert all(lead["score"] > 0 for lead in ours)
        total = 0
        for lead in ours:
            events = http.get(
                f"{second.url}/api/v2/leads/{lead['id']}/events",
                headers={"Authorization": f"Bearer {API_TOKEN}"},
                timeout=REQUEST_TIMEOUT_SECONDS,
            ).json()["items"]
            total += sum(1 for event in events if event["source"] == "storefront")
        assert total == len(sent_ids)
        print(
            json.dumps(
                {
                    "acknowledged_batches_before_kill": acknowledged_batches,
                    "stored_before_restart": len(stored),
                    "committed_but_unacknowledged": len(stored) - len(burst.acknowledged),
                    "in_flight_failures": len(burst.connection_failures),
                    "burst_statuses": dict(burst.statuses),
                }
            )
        )
    finally:
        first.kill()
        if second is not None:
            second.kill()
