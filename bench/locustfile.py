"""Locust's shopper for ``python -m bench load``: one qualification conversation after another.

Run in its own process by :mod:`bench.load` (``python -m locust --headless --locustfile
bench/locustfile.py --host <HAProxy chat URL> …``), or by hand against any running chat
URL. Each shopper opens a conversation with a new sender id, sends one message a second
(``constant_pacing``: the pause shrinks by the time the reply took) with a fresh
``message_id`` each, and when its script ends starts the next conversation as a new
shopper. A reply that is not 200 with a non-empty list of bot messages is a failure.

``FastHttpUser`` rather than ``HttpUser``: Locust shares the machine's cores with the
cluster it measures, and its geventhttpclient client spends a fraction of the CPU per
request that ``requests`` does (Locust's documentation, "Increase performance with a
faster HTTP client").

With ``LOAD_SAMPLES`` set, every message adds a line to that file (see
:func:`bench.load.format_sample`); with ``LOAD_READY`` set, the Unix time at which every
shopper had started is written there.
"""

from __future__ import annotations

import itertools
import os
import random
import time
import uuid
from pathlib import Path
from typing import IO, Any

from locust import FastHttpUser, constant_pacing, events, task

from bench.load import (
    CHAT_PATH,
    PACING_SECONDS,
    READY_ENV,
    SAMPLES_ENV,
    SEED_ENV,
    Sample,
    format_sample,
    reply_problem,
    shopper_script,
)

_samples: IO[str] | None = None
_shopper_numbers = itertools.count()


@events.init.add_listener
def _open_samples(**_kwargs: Any) -> None:
    global _samples
    path = os.environ.get(SAMPLES_ENV)
    if path:
        _samples = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed on quit


@events.spawning_complete.add_listener
def _mark_ready(**_kwargs: Any) -> None:
    path = os.environ.get(READY_ENV)
    if path:
        Path(path).write_text(f"{time.time():.6f}\n", encoding="utf-8")


@events.test_stop.add_listener
def _flush_samples(**_kwargs: Any) -> None:
    if _samples is not None:
        _samples.flush()


@events.quit.add_listener
def _close_samples(**_kwargs: Any) -> None:
    if _samples is not None:
        _samples.close()


class Shopper(FastHttpUser):
    """A shopper qualifying over the REST channel, one message a second."""

    wait_time = constant_pacing(PACING_SECONDS)

    def on_start(self) -> None:
        """Seed this shopper's choices (``LOAD_SEED`` and its number) and open a conversation."""
        number = next(_shopper_numbers)
        self.rng = random.Random(f"{os.environ.get(SEED_ENV, '42')}-{number}")
        self.new_conversation()

    def new_conversation(self) -> None:
        """A new sender id and a new script."""
        self.sender = f"load-{uuid.uuid4().hex}"
        self.script = shopper_script(self.rng, self.sender[-12:])
        self.position = 0

    @task
    def say(self) -> None:
        """Send the script's next message; the reply must hold the bot's messages."""
        if self.position == len(self.script):
            self.new_conversation()
        text = self.script[self.position]
        self.position += 1
        message_id = uuid.uuid4().hex
        started = time.perf_counter()
        with self.client.post(
            CHAT_PATH,
            json={"sender": self.sender, "message": text, "message_id": message_id},
            name="turn",
            catch_response=True,
        ) as response:
            elapsed_ms = (time.perf_counter() - started) * 1000
            # A connection that failed has status 0 and the exception in ``error`` (for a
            # bad status, ``error`` only repeats the status).
            failure = getattr(response, "error", None)
            error = repr(failure) if response.status_code == 0 and failure is not None else ""
            body = (response.text or "") if response.status_code == 200 else ""
            problem = reply_problem(response.status_code, body, error)
            if problem is None:
                response.success()
            else:
                response.failure(problem)
        if _samples is not None:
            sample = Sample(time.time(), elapsed_ms, problem is None, message_id, problem or "")
            _samples.write(format_sample(sample))
