"""A seeded 100 of the conversation simulator's shopper conversations, with exact expectations.

Every conversation (``bench/personas.py``: personas, phrasings and interruptions) is
driven over REST against the real stack and must leave exactly the lead it plans:
each answer stored with its normalised value, consent and contact only when given,
the hand-over request recorded, the qualification completed; and no reply may be
empty, an error, a 5xx or a timeout. A failure prints every failing category with
example transcripts (shopper line → bot line).
"""

from __future__ import annotations

import asyncio
import time

import pytest

from bench.conversations import (
    Outcome,
    default_flow,
    failure_examples,
    figures,
    generate,
    simulate,
)
from bot.devstack import DevStack

pytestmark = pytest.mark.e2e

SEED = 15
COUNT = 100
CONCURRENCY = 6
# A shopper who goes silent comes back within the same session; a second keeps the test short.
PAUSE_SECONDS = 1.0


@pytest.fixture(scope="module")
def outcomes(stack: DevStack) -> list[Outcome]:
    started = time.perf_counter()
    result = asyncio.run(
        simulate(
            generate(COUNT, SEED),
            rasa_url=stack.rasa_url,
            web_url=stack.web_url,
            api_token=stack.api_token,
            flow=default_flow(),
            concurrency=CONCURRENCY,
            pause_seconds=PAUSE_SECONDS,
        )
    )
    print(f"{COUNT} conversations in {time.perf_counter() - started:.0f} s")
    return result


def report(outcomes: list[Outcome]) -> str:
    numbers = figures(outcomes, 0.0)
    lines = [f"{category}: {count}" for category, count in numbers["failures"].items()]
    for category, examples in failure_examples(outcomes).items():
        lines.append(f"\n== {category}")
        lines.extend(examples)
    return "\n".join(lines)


def test_the_same_seed_plans_the_same_conversations() -> None:
    first, again = generate(20, SEED), generate(20, SEED)
    assert [c.answers for c in first] == [c.answers for c in again]
    assert [c.interruptions for c in first] == [c.interruptions for c in again]
    assert [c.answers for c in first] != [c.answers for c in generate(20, SEED + 1)]


def test_no_reply_is_empty_an_error_a_crash_or_a_timeout(outcomes: list[Outcome]) -> None:
    assert len(outcomes) == COUNT
    numbers = figures(outcomes, 0.0)
    broken = {name: numbers[name] for name in ("empty_or_error_replies", "crashes", "timeouts")}
    assert broken == {"empty_or_error_replies": 0, "crashes": 0, "timeouts": 0}, report(
        [o for o in outcomes if o.empty_replies or o.crashes or o.timeouts]
    )


def test_every_conversation_leaves_the_lead_it_plans(outcomes: list[Outcome]) -> None:
    failing = [outcome for outcome in outcomes if outcome.failures()]
    assert not failing, f"{len(failing)} of {COUNT} conversations went wrong:\n{report(failing)}"
