"""One real stack (Rasa, actions, web app) per e2e module, on temporary SQLite databases."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from bot.devstack import DevStack
from bot.flows import Flow, load_flow
from bot.leads import LeadService
from bot.settings import PROJECT_ROOT, Settings
from bot.store.db import create_db_engine
from tests.scoring import SCORING_CONFIG

MODEL = PROJECT_ROOT / "models" / "current.tar.gz"
SPOOL_SETTLE_SECONDS = 15.0
# Said by the ask action when a variant answer matched several items.
CHOICE_PROMPT = "I found several matching items. Which one do you mean?"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    if not MODEL.exists():
        pytest.fail(
            f"no trained model at {MODEL}: run `make train` first (the e2e tests chat with it)",
            pytrace=False,
        )
    base = tmp_path_factory.mktemp("e2e")
    with DevStack.in_folder(
        PROJECT_ROOT,
        base,
        model=MODEL,
        # The tests' own scoring numbers: the stages asserted here do not move with a retune.
        environ={**os.environ, "SCORING_CONFIG": str(SCORING_CONFIG)},
    ) as running:
        yield running


@pytest.fixture(scope="module")
def repository(stack: DevStack) -> Iterator[LeadService]:
    engine = create_db_engine(stack.database_url)
    yield LeadService(engine)
    engine.dispose()


@pytest.fixture(scope="module")
def flow() -> Flow:
    return load_flow(Settings().flows_dir / "default.yml")


@dataclass
class Chat:
    """One shopper's conversation over the REST channel, with a fresh session id."""

    stack: DevStack
    flow: Flow
    sender: str = field(default_factory=lambda: f"e2e-{uuid.uuid4()}")
    transcript: list[tuple[str, list[str]]] = field(default_factory=list)

    def say(self, text: str, metadata: dict[str, Any] | None = None) -> list[str]:
        """Send ``text``; returns the bot's reply texts (every reply must have one)."""
        replies = self.stack.chat(self.sender, text, metadata)
        texts = [reply.get("text") or "" for reply in replies]
        self.transcript.append((text, texts))
        return texts

    def asked(self, texts: list[str]) -> str | None:
        """Key of the question the reply ends with (prompt, re-ask or choice), if any."""
        if not texts:
            return None
        last = texts[-1]
        if last == CHOICE_PROMPT:
            return "variant"
        for question in self.flow.questions:
            if last in question.all_prompts or last == question.reask:
                return question.key
        return None

    def lead(self) -> dict[str, Any]:
        """The session's lead from ``GET /api/v2/leads?session_id=…``."""
        settle_spool(self.stack)
        page = self.stack.api_get("/api/v2/leads", {"session_id": self.sender})
        assert len(page["items"]) == 1, f"expected one lead for {self.sender}: {page}"
        lead: dict[str, Any] = page["items"][0]
        return lead

    def __str__(self) -> str:
        lines = [f"session {self.sender}:"]
        for said, replies in self.transcript:
            lines.append(f"  shopper: {said[:80]!r}")
            lines.extend(f"  bot:     {reply!r}" for reply in replies)
        return "\n".join(lines)


def settle_spool(stack: DevStack) -> None:
    """Wait (bounded) until no write is waiting in the spool for the database."""
    deadline = time.monotonic() + SPOOL_SETTLE_SECONDS
    while time.monotonic() < deadline:
        health = stack.api_get("/healthz")
        if not health.get("spooled_batches"):
            return
        time.sleep(0.5)
    pytest.fail("spooled lead writes were not flushed to the database in time")


@pytest.fixture
def chat(stack: DevStack, flow: Flow) -> Chat:
    return Chat(stack, flow)
