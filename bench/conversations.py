"""``python -m bench conversations``: whole shopper conversations against the real stack.

Each seeded conversation (``bench/personas.py``) is driven over the REST channel the
way a shopper would: the next message answers the question the bot actually asked
(its text is looked up in the flow file's prompts and re-asks), interruptions happen
when their question comes up, and a conversation ends when the bot stops asking, after
a bounded number of messages or at the first transport failure. Then the lead is read
from the leads API and compared with what the conversation must have left.

Figures: completed conversations, answers stored right, median messages to complete,
empty or error replies, crashes (5xx, refused connections), timeouts, and how often
each kind of interruption was handled. Per answer type and per language (for the
``messy`` probe, ``--persona messy``), the share of answers right at the first try:
the stored value is the expected one and the bot did not ask the question again (an
answer asked again is wrong even when the rewording that followed was stored right).
Printed as Markdown and written to ``var/bench/conversations.json`` (a single persona:
``conversations-<persona>.json``) with example transcripts of every failure and every
wrong answer in the shopper's words.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import aiohttp

from bench.personas import (
    CONSENT,
    DETAILS,
    LANGUAGE_NAMES,
    MESSY,
    NAME,
    PERSONAS,
    Conversation,
    Generator,
    Interruption,
)
from bot.catalog import load_catalog
from bot.devstack import DevStack
from bot.flows import Flow, load_flow
from bot.settings import PROJECT_ROOT, VAR_DIR, Settings

OUTPUT = VAR_DIR / "bench" / "conversations.json"
TURN_TIMEOUT_SECONDS = 30.0
SPOOL_SETTLE_SECONDS = 15.0
MAX_MESSAGES = 30
# A question asked this many times over is a loop the shopper gives up on.
MAX_ASKS_PER_QUESTION = 3
# Said by the ask action when a variant answer matched several items.
CHOICE_PROMPT = "I found several matching items. Which one do you mean?"
# Replies that mean a turn failed rather than that the bot answered.
ERROR_MARKERS = ("can't reach our conversation", "something went wrong", "couldn't read that")
# Answers right at the first try, per answer type and per language.
ANSWER_TARGET_PCT = 95.0


class Questions:
    """Which flow question a reply asks, from the flow file's wording."""

    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        self._by_text: dict[str, str] = {CHOICE_PROMPT: "variant"}
        for question in flow.questions:
            for text in (*question.all_prompts, question.reask):
                self._by_text[text.strip()] = question.key

    def asked(self, replies: list[str]) -> str | None:
        """Key of the last question among ``replies``, None if they ask nothing."""
        for text in reversed(replies):
            key = self._by_text.get(text.strip())
            if key is not None:
                return key
        return None

    def why(self, key: str) -> str:
        """The question's explanation."""
        question = self.flow.question(key)
        return question.why if question is not None else ""


@dataclass
class InterruptionResult:
    """How the bot handled one interruption, right when it happened."""

    kind: str
    at: str
    # The answers whose stored value shows whether it worked in the end.
    touched: tuple[str, ...] = ()
    reached: bool = False
    handled: bool = False
    note: str = ""


@dataclass
class Outcome:
    """What happened in one conversation, and what the lead store shows."""

    conversation: Conversation
    sender: str
    transcript: list[tuple[str, list[str]]] = field(default_factory=list)
    interruptions: list[InterruptionResult] = field(default_factory=list)
    reasked: list[str] = field(default_factory=list)
    empty_replies: int = 0
    crashes: list[str] = field(default_factory=list)
    timeouts: int = 0
    stuck: str = ""
    completed: bool = False
    answers: dict[str, str | None] = field(default_factory=dict)
    lead_problems: list[str] = field(default_factory=list)

    @property
    def messages(self) -> int:
        """Messages the shopper sent."""
        return len(self.transcript)

    def failures(self) -> list[str]:
        """The categories this conversation fails in (empty when it went as expected)."""
        found = []
        if self.crashes:
            found.append("crash or 5xx")
        if self.timeouts:
            found.append("timeout")
        if self.empty_replies:
            found.append("empty or error reply")
        if not self.completed:
            found.append("not completed")
        found += [f"{key} stored wrong" for key, problem in self.answers.items() if problem]
        found += [f"lead: {problem.split(':')[0]}" for problem in self.lead_problems]
        found += [f"re-asked {key}" for key in dict.fromkeys(self.reasked)]
        found += [
            f"interruption {result.kind} at {result.at}"
            for result in self.interruptions
            if not result.handled
        ]
        return found

    def answer_right(self, key: str) -> bool:
        """The answer to ``key`` is stored as planned and was taken the first time."""
        return key in self.answers and self.answers[key] is None and key not in self.reasked

    def wrong_answers(self) -> list[dict[str, Any]]:
        """Each answer not right at the first try: the shopper's words and what went wrong."""
        said = self.conversation.words()
        wrong = []
        for key, problem in self.answers.items():
            if self.answer_right(key):
                continue
            if key in self.reasked:
                after = problem or "the rewording was stored right"
                problem = f"asked again ({after})"
            wrong.append({"key": key, "said": said.get(key), "problem": problem})
        return wrong

    def interruption_succeeded(self, result: InterruptionResult) -> bool:
        """Handled on the spot, the conversation completed and what it touched is right."""
        if not (result.handled and self.completed):
            return False
        if result.kind in ("human", "refuse_consent") and self.lead_problems:
            return False
        return not any(self.answers.get(key) for key in result.touched)

    def render(self, width: int = 160) -> str:
        """The transcript, shopper line → bot lines, for a failure report."""
        conversation = self.conversation
        who = "/".join(filter(None, (conversation.persona, conversation.language)))
        lines = [f"  [{who} #{conversation.index} {self.sender}]"]
        for said, replies in self.transcript:
            bot = " | ".join(replies) if replies else "(no reply)"
            lines.append(f"    shopper: {said!r} → bot: {bot[:width]}")
        for key, problem in self.answers.items():
            if problem:
                lines.append(f"    {key}: {problem}")
        lines += [f"    lead: {problem}" for problem in self.lead_problems]
        lines += [
            f"    {r.kind} at {r.at}: {r.note if r.reached else 'the question never came'}"
            for r in self.interruptions
            if not r.handled
        ]
        if self.stuck:
            lines.append(f"    ended: {self.stuck}")
        return "\n".join(lines)


class TurnFailed(Exception):
    """A turn crashed or timed out; the conversation stops there."""


class Driver:
    """Talks to one running stack: the Rasa REST channel and the leads API."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        rasa_url: str,
        web_url: str,
        api_token: str,
        questions: Questions,
        pause_seconds: float,
        max_messages: int = MAX_MESSAGES,
    ) -> None:
        self.session = session
        self.chat_url = f"{rasa_url}/webhooks/rest/webhook"
        self.web_url = web_url
        self.headers = {"Authorization": f"Bearer {api_token}"}
        self.questions = questions
        self.pause_seconds = pause_seconds
        self.max_messages = max_messages

    async def say(self, outcome: Outcome, text: str) -> list[str]:
        """Send ``text``; the bot's reply texts. Raises TurnFailed on a crash or timeout."""
        body = {"sender": outcome.sender, "message": text}
        try:
            async with self.session.post(
                self.chat_url,
                json=body,
                timeout=aiohttp.ClientTimeout(total=TURN_TIMEOUT_SECONDS),
            ) as response:
                if response.status != 200:
                    detail = (await response.text())[:200]
                    outcome.crashes.append(f"{text!r}: HTTP {response.status} {detail}")
                    outcome.transcript.append((text, [f"(HTTP {response.status})"]))
                    raise TurnFailed
                messages: list[dict[str, Any]] = await response.json()
        except asyncio.TimeoutError as exc:
            outcome.timeouts += 1
            outcome.transcript.append((text, ["(timeout)"]))
            raise TurnFailed from exc
        except aiohttp.ClientError as exc:
            outcome.crashes.append(f"{text!r}: {exc!r}")
            outcome.transcript.append((text, [f"({type(exc).__name__})"]))
            raise TurnFailed from exc
        texts = [str(message.get("text") or "") for message in messages]
        if not texts or not all(texts) or any(_is_error(reply) for reply in texts):
            outcome.empty_replies += 1
        outcome.transcript.append((text, texts))
        return texts

    async def converse(self, conversation: Conversation) -> Outcome:
        """Play ``conversation`` to its end, then read and check its lead."""
        outcome = Outcome(conversation, f"sim-{conversation.index}-{uuid.uuid4().hex[:12]}")
        try:
            await self._talk(conversation, outcome)
        except TurnFailed:
            outcome.stuck = "the last turn failed"
        try:
            await self._check_lead(outcome)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            outcome.crashes.append(f"reading the lead: {exc!r}")
        return outcome

    async def _talk(self, conversation: Conversation, outcome: Outcome) -> None:
        pending = {i.at: i for i in conversation.interruptions}
        outcome.interruptions = [
            InterruptionResult(i.kind, i.at, _touched(i)) for i in conversation.interruptions
        ]
        asks: Counter[str] = Counter()
        # What the shopper says if a question comes back: a skip stays a skip.
        again = dict(conversation.fallbacks)
        replies = await self.say(outcome, conversation.opening)
        while outcome.messages < self.max_messages:
            key = self.questions.asked(replies)
            if key is None:
                if not replies or not any(replies):
                    outcome.stuck = "the bot stopped answering"
                return
            asks[key] += 1
            if asks[key] > MAX_ASKS_PER_QUESTION:
                outcome.stuck = f"{key} asked {asks[key]} times"
                return
            interruption = pending.pop(key, None)
            if interruption is not None:
                result = next(r for r in outcome.interruptions if r.at == key)
                replies = await self._interrupt(outcome, interruption, result)
                if interruption.kind == "skip":
                    again[key] = interruption.messages[0]
                if interruption.kind in ("skip", "refuse_consent"):
                    asks[key] = MAX_ASKS_PER_QUESTION - 1
                else:
                    asks[key] -= 1
                continue
            if asks[key] > 1 or key in _answered(outcome, conversation):
                outcome.reasked.append(key)
                text = again.get(key, "skip")
            else:
                text = conversation.answers[key].text if key in conversation.answers else "skip"
            replies = await self.say(outcome, text)
        outcome.stuck = f"still asking after {self.max_messages} messages"

    async def _interrupt(
        self, outcome: Outcome, interruption: Interruption, result: InterruptionResult
    ) -> list[str]:
        result.reached = True
        key = interruption.at
        first = interruption.messages[0]
        if interruption.kind == "silence":
            await asyncio.sleep(self.pause_seconds)
        replies = await self.say(outcome, first)
        asked = self.questions.asked(replies)
        if interruption.kind == "opt_out_return":
            if asked is not None:
                result.note = f"after {first!r} the bot still asked {asked}"
                return replies
            replies = await self.say(outcome, interruption.messages[1])
            asked = self.questions.asked(replies)
        if interruption.kind in ("skip", "refuse_consent"):
            result.handled = asked != key
            result.note = "" if result.handled else f"{key} asked again"
            if interruption.kind == "refuse_consent" and asked in (NAME, DETAILS):
                result.handled, result.note = False, f"asked {asked} after consent was refused"
            return replies
        result.handled = asked == key
        if not result.handled:
            result.note = f"expected {key} asked again, the bot asked {asked or 'nothing'}"
        if interruption.kind == "why":
            why = self.questions.why(key)
            if not any(why in reply for reply in replies):
                result.handled, result.note = False, "no explanation"
        return replies

    async def _get(self, path: str, params: dict[str, str] | None = None) -> Any:
        async with self.session.get(
            f"{self.web_url}{path}",
            params=params,
            headers=self.headers,
            timeout=aiohttp.ClientTimeout(total=TURN_TIMEOUT_SECONDS),
        ) as response:
            response.raise_for_status()
            return await response.json()

    async def _settle(self) -> None:
        """Wait (bounded) until no lead write is waiting in the spool."""
        deadline = time.monotonic() + SPOOL_SETTLE_SECONDS
        while time.monotonic() < deadline:
            health = await self._get("/healthz")
            if not health.get("spooled_batches"):
                return
            await asyncio.sleep(0.5)

    async def _check_lead(self, outcome: Outcome) -> None:
        await self._settle()
        conversation = outcome.conversation
        page = await self._get("/api/v2/leads", {"session_id": outcome.sender})
        items = page.get("items") or []
        if len(items) != 1:
            outcome.lead_problems.append(f"no lead: {len(items)} leads for the session")
            outcome.answers = {key: "no lead" for key in conversation.expectations()}
            return
        lead: dict[str, Any] = items[0]
        events = await self._get(f"/api/v2/leads/{lead['id']}/events")
        outcome.completed = any(
            event["type"] == "qualification_completed" for event in events["items"]
        )
        stored = lead.get("answers") or {}
        outcome.answers = {
            key: expected.mismatch(stored.get(key))
            for key, expected in conversation.expectations().items()
        }
        outcome.lead_problems = _lead_problems(conversation, lead)


def _touched(interruption: Interruption) -> tuple[str, ...]:
    if interruption.change is not None:
        return (interruption.change.expected.key,)
    if interruption.kind == "refuse_consent":
        return (CONSENT, NAME, DETAILS)
    return (interruption.at,)


def _answered(outcome: Outcome, conversation: Conversation) -> set[str]:
    """Keys whose planned answer the shopper has already sent."""
    said = {text for text, _ in outcome.transcript}
    return {key for key, phrase in conversation.answers.items() if phrase.text in said}


def _is_error(reply: str) -> bool:
    folded = reply.casefold()
    return any(marker in folded for marker in ERROR_MARKERS)


def _lead_problems(conversation: Conversation, lead: dict[str, Any]) -> list[str]:
    """The lead's own fields: consent, name and contact copied from the answers, hand-over."""
    problems = []
    given = bool((lead.get("consent") or {}).get("given_at"))
    if given != conversation.consent:
        problems.append(f"consent: given_at {'set' if given else 'empty'}")
    if conversation.consent:
        name = conversation.answers[NAME].expected.value
        details = conversation.answers[DETAILS].expected.value
        if lead.get("first_name") != name["first_name"]:
            problems.append(f"first_name: {lead.get('first_name')!r}, not {name['first_name']!r}")
        for channel, value in details.items():
            if lead.get(channel) != value:
                problems.append(f"{channel}: {lead.get(channel)!r}, not {value!r}")
    else:
        kept = {name: lead.get(name) for name in ("first_name", "email", "phone") if lead.get(name)}
        if kept:
            problems.append(f"contact kept without consent: {kept}")
    requested = bool(lead.get("human_requested_at"))
    if requested != conversation.human_requested:
        problems.append(f"human_requested_at: {'set' if requested else 'empty'}")
    return problems


async def simulate(
    conversations: list[Conversation],
    *,
    rasa_url: str,
    web_url: str,
    api_token: str,
    flow: Flow,
    concurrency: int = 4,
    pause_seconds: float = 5.0,
    max_messages: int = MAX_MESSAGES,
    progress: bool = False,
) -> list[Outcome]:
    """Run ``conversations``, ``concurrency`` at a time; outcomes in input order."""
    outcomes: list[Outcome | None] = [None] * len(conversations)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for position in range(len(conversations)):
        queue.put_nowait(position)
    connector = aiohttp.TCPConnector(limit=concurrency * 2)
    async with aiohttp.ClientSession(connector=connector, trust_env=False) as session:
        driver = Driver(
            session,
            rasa_url=rasa_url,
            web_url=web_url,
            api_token=api_token,
            questions=Questions(flow),
            pause_seconds=pause_seconds,
            max_messages=max_messages,
        )

        async def worker() -> None:
            while not queue.empty():
                position = queue.get_nowait()
                outcomes[position] = await driver.converse(conversations[position])
                done = sum(1 for item in outcomes if item is not None)
                if progress and done % 50 == 0:
                    print(f"  {done}/{len(conversations)} conversations", file=sys.stderr)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return [outcome for outcome in outcomes if outcome is not None]


def figures(outcomes: list[Outcome], wall_seconds: float) -> dict[str, Any]:
    """The benchmark's figures (see the module docstring)."""
    completed = [o for o in outcomes if o.completed]
    checked = [problem for o in outcomes for problem in o.answers.values()]
    right = sum(1 for problem in checked if problem is None)
    per_interruption: dict[str, dict[str, int]] = defaultdict(
        lambda: {"planned": 0, "reached": 0, "handled": 0, "succeeded": 0}
    )
    for outcome in outcomes:
        for result in outcome.interruptions:
            row = per_interruption[result.kind]
            row["planned"] += 1
            row["reached"] += result.reached
            row["handled"] += result.handled
            row["succeeded"] += outcome.interruption_succeeded(result)
    per_persona: dict[str, dict[str, int]] = defaultdict(
        lambda: {"conversations": 0, "completed": 0, "all_right": 0}
    )
    for outcome in outcomes:
        row = per_persona[outcome.conversation.persona]
        row["conversations"] += 1
        row["completed"] += outcome.completed
        row["all_right"] += not outcome.failures()
    failures = Counter(category for o in outcomes for category in o.failures())
    first_try = _shares((key, o.answer_right(key)) for o in outcomes for key in o.answers)
    return {
        "conversations": len(outcomes),
        "completed": len(completed),
        "all_right": sum(1 for o in outcomes if not o.failures()),
        "answers_checked": len(checked),
        "answers_right": right,
        "answers_right_pct": round(100 * right / len(checked), 1) if checked else 0.0,
        "answers_right_first_try": sum(row["right"] for row in first_try.values()),
        "answers_right_first_try_pct": _pct(
            sum(row["right"] for row in first_try.values()),
            sum(row["checked"] for row in first_try.values()),
        ),
        "answer_target_pct": ANSWER_TARGET_PCT,
        "per_answer_type": first_try,
        "per_language": _shares(
            (o.conversation.language, o.answer_right(key))
            for o in outcomes
            if o.conversation.language
            for key in o.answers
        ),
        "median_messages_to_complete": (
            statistics.median(o.messages for o in completed) if completed else None
        ),
        "messages": sum(o.messages for o in outcomes),
        "empty_or_error_replies": sum(o.empty_replies for o in outcomes),
        "crashes": sum(len(o.crashes) for o in outcomes),
        "timeouts": sum(o.timeouts for o in outcomes),
        "wall_seconds": round(wall_seconds, 1),
        "per_interruption": dict(sorted(per_interruption.items())),
        "per_persona": dict(sorted(per_persona.items())),
        "failures": dict(failures.most_common()),
    }


def _pct(part: int, whole: int) -> float:
    return round(100 * part / whole, 1) if whole else 0.0


def _shares(rows: Iterable[tuple[Any, bool]]) -> dict[str, dict[str, Any]]:
    """Answers checked and right per group, with the share right in per cent."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for group, right in rows:
        counts[str(group)][0] += 1
        counts[str(group)][1] += right
    return {
        group: {"checked": checked, "right": right, "right_pct": _pct(right, checked)}
        for group, (checked, right) in counts.items()
    }


def wrong_answers(outcomes: list[Outcome]) -> list[dict[str, Any]]:
    """Every answer not right at the first try, with its conversation and language."""
    return [
        {
            "conversation": outcome.conversation.index,
            "persona": outcome.conversation.persona,
            "language": outcome.conversation.language,
            **wrong,
        }
        for outcome in outcomes
        for wrong in outcome.wrong_answers()
    ]


def failure_examples(outcomes: list[Outcome], per_category: int = 3) -> dict[str, list[str]]:
    """Up to ``per_category`` rendered transcripts for every failure category."""
    examples: dict[str, list[str]] = defaultdict(list)
    for outcome in outcomes:
        for category in outcome.failures():
            if len(examples[category]) < per_category:
                examples[category].append(outcome.render())
    return dict(examples)


def render_markdown(numbers: dict[str, Any]) -> str:
    """The figures as README-ready Markdown tables."""
    total = numbers["conversations"] or 1
    lines = [
        "| figure | value |",
        "|---|---:|",
        f"| conversations | {numbers['conversations']} |",
        f"| completed | {numbers['completed']} ({100 * numbers['completed'] / total:.1f} %) |",
        f"| every check right | {numbers['all_right']} "
        f"({100 * numbers['all_right'] / total:.1f} %) |",
        f"| answers stored right | {numbers['answers_right']} / {numbers['answers_checked']} "
        f"({numbers['answers_right_pct']} %) |",
        f"| answers right at the first try | {numbers['answers_right_first_try']} / "
        f"{numbers['answers_checked']} ({numbers['answers_right_first_try_pct']} %) |",
        f"| median messages to complete | {numbers['median_messages_to_complete']} |",
        f"| empty or error replies | {numbers['empty_or_error_replies']} |",
        f"| crashes (5xx, refused) | {numbers['crashes']} |",
        f"| timeouts | {numbers['timeouts']} |",
    ]
    if numbers["per_interruption"]:
        lines += [
            "",
            "| interruption | planned | reached | handled on the spot | succeeded |",
            "|---|---:|---:|---:|---:|",
        ]
    for kind, row in numbers["per_interruption"].items():
        share = 100 * row["succeeded"] / row["planned"] if row["planned"] else 0.0
        lines.append(
            f"| {kind} | {row['planned']} | {row['reached']} | {row['handled']} | "
            f"{row['succeeded']} ({share:.0f} %) |"
        )
    target = numbers["answer_target_pct"]
    lines += ["", *_share_table("answer", numbers["per_answer_type"], target)]
    if numbers["per_language"]:
        named = {
            LANGUAGE_NAMES.get(code, code): row for code, row in numbers["per_language"].items()
        }
        lines += ["", *_share_table("language", named, target)]
    return "\n".join(lines)


def _share_table(label: str, rows: dict[str, dict[str, Any]], target: float) -> list[str]:
    lines = [
        f"| {label} | answers | right at the first try | target ≥ {target:g} % |",
        "|---|---:|---:|---|",
    ]
    for name, row in rows.items():
        met = "met" if row["right_pct"] >= target else "**missed**"
        lines.append(
            f"| {name} | {row['checked']} | {row['right']} ({row['right_pct']} %) | {met} |"
        )
    return lines


def generate(count: int, seed: int, personas: tuple[str, ...] = PERSONAS) -> list[Conversation]:
    """``count`` conversations of the seeded run of ``personas``, on the shop's catalogue."""
    generator = Generator(load_catalog(Settings().catalog_path), seed, personas)
    return [generator.conversation(index) for index in range(count)]


def default_flow() -> Flow:
    """The flow the plain REST channel gets (no page context)."""
    return load_flow(Settings().flows_dir / "default.yml")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench conversations",
        description="seeded whole shopper conversations against the real stack",
    )
    parser.add_argument("--count", type=int, default=1000, help="conversations to run")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated run")
    parser.add_argument(
        "--persona",
        choices=(*PERSONAS, MESSY),
        help="only this kind of shopper; messy: everyday answers in six languages, "
        "no interruptions (default: every persona but messy, in turn)",
    )
    parser.add_argument("--concurrency", type=int, default=4, help="conversations at once")
    parser.add_argument(
        "--pause-seconds",
        type=float,
        default=5.0,
        help="how long a shopper who goes silent stays away before coming back",
    )
    parser.add_argument("--max-messages", type=int, default=MAX_MESSAGES)
    parser.add_argument("--model", type=Path, default=PROJECT_ROOT / "models" / "current.tar.gz")
    parser.add_argument(
        "--out",
        type=Path,
        help="JSON report (default var/bench/conversations.json; with --persona, "
        "conversations-<persona>.json)",
    )
    args = parser.parse_args(argv)
    if args.out is None:
        suffix = f"-{args.persona}" if args.persona else ""
        args.out = OUTPUT.with_name(f"{OUTPUT.stem}{suffix}.json")
    if args.count < 1 or args.concurrency < 1 or args.max_messages < 2:
        parser.error("--count and --concurrency must be at least 1, --max-messages at least 2")
    if args.pause_seconds < 0:
        parser.error("--pause-seconds must not be negative")
    return args


def main(argv: list[str], *, machine: str) -> int:
    """Run the simulator; non-zero if any reply was empty, an error, a crash or a timeout."""
    args = parse_args(argv)
    if not args.model.exists():
        print(f"no trained model at {args.model}: run `make train` first", file=sys.stderr)
        return 1
    personas = (args.persona,) if args.persona else PERSONAS
    conversations = generate(args.count, args.seed, personas)
    log_dir = OUTPUT.parent / "logs"
    with tempfile.TemporaryDirectory(prefix="bench-conversations-") as scratch:
        print(f"starting the stack (logs in {log_dir}) …", file=sys.stderr, flush=True)
        with DevStack.in_folder(
            PROJECT_ROOT, Path(scratch), model=args.model.resolve(), log_dir=log_dir
        ) as stack:
            print(
                f"{args.count} conversations (seed {args.seed}, {', '.join(personas)}) …",
                file=sys.stderr,
                flush=True,
            )
            started = time.perf_counter()
            outcomes = asyncio.run(
                simulate(
                    conversations,
                    rasa_url=stack.rasa_url,
                    web_url=stack.web_url,
                    api_token=stack.api_token,
                    flow=default_flow(),
                    concurrency=args.concurrency,
                    pause_seconds=args.pause_seconds,
                    max_messages=args.max_messages,
                    progress=True,
                )
            )
            wall = time.perf_counter() - started
    numbers = figures(outcomes, wall)
    examples = failure_examples(outcomes)
    probe = f", {args.persona} only" if args.persona else ""
    print(f"\nConversation simulator, seed {args.seed}{probe}, {machine}:\n")
    print(render_markdown(numbers) + "\n")
    for category, count in numbers["failures"].items():
        print(f"{category}: {count}", file=sys.stderr)
    report = {
        "measured_at": datetime.now(timezone.utc).isoformat(),
        "machine": machine,
        "seed": args.seed,
        "personas": list(personas),
        "concurrency": args.concurrency,
        "pause_seconds": args.pause_seconds,
        **numbers,
        "examples": examples,
        "wrong_answers": wrong_answers(outcomes),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"written to {args.out}", file=sys.stderr)
    broken = numbers["empty_or_error_replies"] + numbers["crashes"] + numbers["timeouts"]
    return 1 if broken else 0
