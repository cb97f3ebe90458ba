"""``python -m bench answers``: held-out shopper answers through the real form validation.

``tests/heldout/answers_heldout.yml`` holds answers to the qualification questions in
English, French, German, Spanish, Italian and Portuguese, each with the value a careful
person would store (or ``null`` when the message answers nothing), written apart from
the parser tests. Every answer goes the way a chat message goes: the trained model
reads its intent (as the Rasa server does), the form validation action
(``actions/qualification.py``) reads it against the flow, the catalogue and the answer
parsers and writes the lead store (a fresh SQLite file), and the value is read back
from the store and compared with the expected one (:func:`mismatch`).

Reported: accuracy per answer type and per language, the messages that were no answer
but stored a value the bot did not read back to the shopper ("Got it — …"), and the
CPU time per answer (the flow's interpreter and parsers alone, p50/p99). Prints Markdown and writes
``var/bench/answers.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Extra, StrictStr, ValidationError, validator
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bench.stats import percentile
from bot.answers.text import fold
from bot.flows.loader import CORE_KEYS
from bot.settings import PROJECT_ROOT, VAR_DIR
from bot.yamlconf import describe, load_document

CORPUS = PROJECT_ROOT / "tests" / "heldout" / "answers_heldout.yml"
MODEL = PROJECT_ROOT / "models" / "current.tar.gz"
OUTPUT = VAR_DIR / "bench" / "answers.json"
DOMAIN = PROJECT_ROOT / "domain.yml"
# Targets: answers stored with the right value, and non-answers stored unseen.
ACCURACY_TARGET = 0.97
UNSEEN_NON_ANSWERS_MAX = 0
PARSE_P99_MS_TARGET = 2.0
# Every answer parser run on one answer, on average (the unit tests' former 5 ms budget).
ALL_PARSERS_MEAN_MS_TARGET = 5.0
ACTION_SERVER_RSS_MB_TARGET = 350

QUESTIONS = ("timeline", "budget", "location", "variant", "name", "email", "phone")
LANGUAGES = ("en", "fr", "de", "es", "it", "pt")
# The flow question each corpus question is asked as (data/flows/default.yml).
FLOW_KEYS = {
    "timeline": "timeline",
    "budget": "budget",
    "location": "location",
    "variant": "variant",
    "name": "contact_name",
    "email": "contact_details",
    "phone": "contact_details",
}
# What the bot says when it stored something it was not asked for (bot/flows/replies.py).
CONFIRMATION_OPENINGS = ("Got it — ", "Changed — ")
_CONSENTED = {"raw": "yes", "value": True, "display": "yes", "status": "answered"}

IntentReader = Callable[[str], Awaitable[tuple[str, float]]]


class CorpusError(ValueError):
    """The corpus cannot be used; the message names file, line and field."""


@dataclass(frozen=True)
class AnswerCase:
    """One shopper answer and what must be stored for it (None: nothing)."""

    question: str
    lang: str
    text: str
    expect: dict[str, Any] | None
    product: str | None = None

    @property
    def key(self) -> str:
        """The flow question it answers."""
        return FLOW_KEYS[self.question]


class _CaseIn(BaseModel):
    class Config:
        extra = Extra.forbid
        min_anystr_length = 1

    q: Literal["timeline", "budget", "location", "variant", "name", "email", "phone"]
    lang: Literal["en", "fr", "de", "es", "it", "pt"]
    text: StrictStr
    expect: dict[str, Any] | None
    product: StrictStr | None = None
    note: StrictStr | None = None

    @validator("expect")
    def _known_fields(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and not set(value) <= _EXPECT_FIELDS:
            unknown = ", ".join(sorted(set(value) - _EXPECT_FIELDS))
            raise ValueError(f"unknown expected field(s) {unknown}")
        return value


_EXPECT_FIELDS = frozenset(
    {
        *("days_min", "days_max", "uncertain", "browsing"),
        *("currency", "min", "max", "amount"),
        *("country", "region", "area", "variant"),
        *("first_name", "last_name", "email", "phone"),
    }
)


class _CorpusIn(BaseModel):
    class Config:
        extra = Extra.forbid

    now: datetime
    answers: list[_CaseIn]


@dataclass(frozen=True)
class Corpus:
    """The reference time of the timelines and the cases."""

    now: datetime
    cases: tuple[AnswerCase, ...]


def load_corpus(path: Path = CORPUS) -> Corpus:
    """The corpus at ``path``; a malformed file raises :class:`CorpusError`."""
    data, root = load_document(path, CorpusError, "held-out answers")
    try:
        parsed = _CorpusIn.parse_obj(data)
    except ValidationError as exc:
        problems = [(tuple(error["loc"]), error["msg"]) for error in exc.errors()]
        raise CorpusError(describe(path, root, problems, "held-out answers")) from exc
    now = parsed.now if parsed.now.tzinfo else parsed.now.replace(tzinfo=timezone.utc)
    return Corpus(
        now=now,
        cases=tuple(
            AnswerCase(item.q, item.lang, item.text, item.expect, item.product)
            for item in parsed.answers
        ),
    )


@dataclass
class Outcome:
    """What the validation action stored for one case."""

    case: AnswerCase
    intent: str
    stored: Any
    others: dict[str, Any]
    replies: list[str] = field(default_factory=list)
    problem: str | None = None

    @property
    def correct(self) -> bool:
        """Stored with the right value (or, for a non-answer, nothing stored unseen)."""
        return self.problem is None

    @property
    def confirmed(self) -> bool:
        """Whether the bot read back what it took from the message."""
        return any(reply.startswith(CONFIRMATION_OPENINGS) for reply in self.replies)

    @property
    def unseen_non_answer(self) -> bool:
        """A message that answered nothing, stored as an answer the shopper never saw."""
        stored_any = self.stored is not None or bool(self.others)
        return self.case.expect is None and stored_any and not self.confirmed


def _number(value: Any) -> Decimal | None:
    try:
        return None if value is None else Decimal(str(value))
    except ArithmeticError:
        return None


def _same_place(expected: str, stored: Any) -> bool:
    return isinstance(stored, str) and fold(expected).replace("-", " ") == fold(stored).replace(
        "-", " "
    )


def mismatch(case: AnswerCase, stored: Any) -> str | None:
    """Why ``stored`` (the answer value read back from the store) is wrong, or None.

    Timelines: ``days`` within ``[days_min, days_max]``, ``uncertain`` kept when
    expected, ``browsing`` when expected. Budgets: the currency, and each bound the
    corpus gives (``min``, ``max``, ``amount``) equal; a bound given alone means the
    other is absent. Places: the country, and the region or area when given (case,
    accents and hyphens ignored). Variants, e-mails and phones: equal. Names: first
    and last name equal, ignoring case.
    """
    want = case.expect
    if want is None:
        return None if stored is None else f"stored {stored!r} from a message that is no answer"
    if stored is None:
        return "nothing stored"
    if case.question == "timeline":
        return _timeline_mismatch(want, stored)
    if case.question == "budget":
        return _budget_mismatch(want, stored)
    if case.question == "location":
        return _location_mismatch(want, stored)
    if case.question == "name":
        first, last = stored.get("first_name"), stored.get("last_name")
        if (first or "").casefold() != str(want.get("first_name", "")).casefold():
            return f"first name {first!r}, expected {want.get('first_name')!r}"
        if (last or "").casefold() != str(want.get("last_name") or "").casefold():
            return f"last name {last!r}, expected {want.get('last_name')!r}"
        return None
    field_name = {"variant": "variant", "email": "email", "phone": "phone"}[case.question]
    got = stored if case.question == "variant" else stored.get(field_name)
    return None if got == want[field_name] else f"{got!r}, expected {want[field_name]!r}"


def _timeline_mismatch(want: dict[str, Any], stored: dict[str, Any]) -> str | None:
    if want.get("browsing"):
        return None if stored.get("browsing") else f"{stored!r}, expected just browsing"
    days = stored.get("days")
    if not isinstance(days, int) or not want["days_min"] <= days <= want["days_max"]:
        return f"{days!r} days, expected {want['days_min']} to {want['days_max']}"
    if want.get("uncertain") and not stored.get("uncertain"):
        return "uncertainty not kept"
    return None


def _budget_mismatch(want: dict[str, Any], stored: dict[str, Any]) -> str | None:
    if stored.get("currency") != want["currency"]:
        return f"currency {stored.get('currency')!r}, expected {want['currency']!r}"
    bounds: list[str] = [name for name in ("min", "max") if name in want]
    for name in bounds or ["amount"]:
        if _number(stored.get(name)) != _number(want.get(name)):
            return f"{name} {stored.get(name)!r}, expected {want.get(name)!r}"
    for other in sorted({"min", "max"} - set(bounds)):
        if stored.get(other) is not None:
            return f"{other} {stored.get(other)!r} stored, expected none"
    return None


def _same_area(expected: str, stored: Any) -> bool:
    """One delivery area under any of its names ("Guyane" is "French Guiana")."""
    from bot.answers.areas import area_table

    if not isinstance(stored, str):
        return False
    meant = area_table().named(expected)
    return _same_place(expected, stored) or (
        len(meant) == 1 and meant == area_table().named(stored)
    )


def _location_mismatch(want: dict[str, Any], stored: dict[str, Any]) -> str | None:
    if stored.get("country") != want["country"]:
        return f"country {stored.get('country')!r}, expected {want['country']!r}"
    if "area" in want and not _same_area(want["area"], stored.get("area")):
        return f"area {stored.get('area')!r}, expected {want['area']!r}"
    region = want.get("region")
    if region is not None and not (
        _same_place(region, stored.get("region")) or _same_area(region, stored.get("area"))
    ):
        return f"region {stored.get('region')!r}, expected {region!r}"
    return None


def tracker_for(case: AnswerCase, now: datetime, sender: str) -> Tracker:
    """A tracker whose latest event is ``case.text``, asked its question in the form."""
    slots: dict[str, Any] = {name: None for name in CORE_KEYS}
    slots.update(question_state=None, qualification_status=None, requested_slot=case.key)
    if case.key in ("contact_name", "contact_details"):
        slots["contact_consent"] = _CONSENTED
    # The page context the widget sends with a message on a product page.
    metadata = {"page_type": "product", "product_id": case.product} if case.product else {}
    return Tracker(
        sender_id=sender,
        slots=slots,
        latest_message={"text": case.text, "metadata": metadata},
        events=[
            {"event": "action", "name": "action_listen", "timestamp": now.timestamp() - 20},
            {"event": "user", "text": case.text, "timestamp": now.timestamp()},
        ],
        paused=False,
        followup_action=None,
        active_loop={"name": "qualification_form"},
        latest_action_name="action_listen",
    )


async def run_case(
    case: AnswerCase, now: datetime, sender: str, read_intent: IntentReader
) -> Outcome:
    """Send ``case`` through the validation action; read back what the store keeps."""
    # Imported here: the actions read their settings (the store) on first use.
    from actions.common import assistant
    from actions.qualification import ValidateQualificationForm

    intent, confidence = await read_intent(case.text)
    tracker = tracker_for(case, now, sender)
    parse_data = {
        "text": case.text,
        "intent": {"name": intent, "confidence": confidence},
        "intent_ranking": [{"name": intent, "confidence": confidence}],
        "entities": [],
        "message_id": f"{sender}-1",
        "metadata": tracker.latest_message.get("metadata") or {},
    }
    tracker.latest_message = parse_data
    tracker.events[-1].update(parse_data=parse_data, message_id=f"{sender}-1")
    dispatcher = CollectingDispatcher()
    await ValidateQualificationForm().run(dispatcher, tracker, _domain())
    lead = assistant().recorder.repository.get_lead_by_session(sender)
    answers = (lead or {}).get("answers") or {}
    values = {key: answer.get("value") for key, answer in answers.items()}
    stored = values.pop(case.key, None)
    others = {key: value for key, value in values.items() if value is not None}
    outcome = Outcome(
        case=case,
        intent=intent,
        stored=_jsonable(stored),
        others=_jsonable(others),
        replies=[message.get("text") or "" for message in dispatcher.messages],
    )
    outcome.problem = mismatch(case, outcome.stored)
    if outcome.problem is None and case.expect is None and outcome.unseen_non_answer:
        outcome.problem = f"stored {others!r} unseen from a message that is no answer"
    return outcome


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    return value


_DOMAIN_CACHE: list[dict[str, Any]] = []


def _domain() -> dict[str, Any]:
    if not _DOMAIN_CACHE:
        _DOMAIN_CACHE.append(yaml.safe_load(DOMAIN.read_text(encoding="utf-8")))
    return _DOMAIN_CACHE[0]


@contextmanager
def fresh_store(folder: Path) -> Iterator[None]:
    """Point the actions at a new, migrated SQLite lead store in ``folder`` meanwhile."""
    from actions.common import assistant
    from bot.store.migrate import upgrade

    url = f"sqlite:///{folder / 'answers.db'}"
    upgrade(url)
    saved = {name: os.environ.get(name) for name in ("DATABASE_URL", "LEADS_SPOOL_DIR")}
    os.environ.update(DATABASE_URL=url, LEADS_SPOOL_DIR=str(folder / "spool"))
    assistant.cache_clear()
    try:
        yield
    finally:
        assistant.cache_clear()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


async def run_corpus(corpus: Corpus, read_intent: IntentReader) -> list[Outcome]:
    """Every case of ``corpus``, each as a new shopper (the store must be set up)."""
    return [
        await run_case(case, corpus.now, f"answers-{position}", read_intent)
        for position, case in enumerate(corpus.cases)
    ]


@dataclass(frozen=True)
class Share:
    """Right answers out of a group's total."""

    correct: int
    total: int

    @property
    def rate(self) -> float:
        """The share right (1.0 for an empty group)."""
        return self.correct / self.total if self.total else 1.0


def shares(outcomes: Sequence[Outcome], by: Callable[[Outcome], str]) -> dict[str, Share]:
    """Accuracy per group (answer type, language, …)."""
    groups: dict[str, list[bool]] = {}
    for outcome in outcomes:
        groups.setdefault(by(outcome), []).append(outcome.correct)
    return {name: Share(sum(results), len(results)) for name, results in sorted(groups.items())}


def parse_times_ms(corpus: Corpus, rounds: int = 5) -> list[float]:
    """CPU ms of each answer read by the flow's interpreter alone, ``rounds`` times over.

    The first round also loads the place and postcode data, once per process.
    """
    from actions.common import assistant
    from bot.flows.interpreter import TurnInput

    helper = assistant()
    interpreter = helper.interpreter_for(helper.flow)
    times = []
    for _ in range(rounds):
        for case in corpus.cases:
            turn = TurnInput(
                text=case.text,
                intent="inform",
                intent_confidence=0.9,
                requested_key=case.key,
                answers={"contact_consent": _CONSENTED},
                failures={},
                now=corpus.now,
                product_id=case.product,
            )
            # CPU time of this thread: the parse's own cost, not the waits of a busy machine.
            started = time.thread_time()
            interpreter.interpret(turn)
            times.append((time.thread_time() - started) * 1000)
    return times


def all_parsers_times_ms(corpus: Corpus, rounds: int = 5) -> list[float]:
    """CPU ms of every answer parser on each answer, ``rounds`` times over.

    Timeline, budget, place, contact, name and catalogue match, one after the other:
    the most reading one answer can cost.
    """
    from bot.answers import parse_budget, parse_contact, parse_location, parse_name, parse_timeline
    from bot.catalog import load_catalog, match_variant
    from bot.settings import Settings

    settings = Settings.from_env()
    catalog = load_catalog(settings.catalog_path)
    times = []
    for _ in range(rounds):
        for case in corpus.cases:
            started = time.thread_time()
            parse_timeline(case.text, corpus.now)
            parse_budget(case.text, default_currency=settings.shop_currency)
            parse_location(case.text)
            parse_contact(case.text, region=settings.shop_country)
            parse_name(case.text)
            match_variant(case.text, catalog)
            times.append((time.thread_time() - started) * 1000)
    return times


# Run in a fresh interpreter: what the action server holds once every language's data
# (places, postcodes, areas, catalogue words, rates, number words) has been used.
_MEMORY_PROBE = """
import sys, tempfile
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import actions.server  # noqa: F401  (the action server's imports)
from bench.answers import fresh_store, load_corpus, parse_times_ms
with tempfile.TemporaryDirectory() as scratch, fresh_store(Path(scratch)):
    parse_times_ms(load_corpus(Path(sys.argv[2])), rounds=1)
# VmHWM, the peak of this program's own memory: getrusage's maxrss would also count the
# benchmark process this one was forked from (Linux keeps it across exec).
status = Path("/proc/self/status").read_text().splitlines()
print(int(next(line for line in status if line.startswith("VmHWM:")).split()[1]) / 1024)
"""


def action_server_memory_mb(corpus_path: Path) -> float:
    """Peak resident MB of a process with the action server's code and all parser data used."""
    done = subprocess.run(
        [sys.executable, "-c", _MEMORY_PROBE, str(PROJECT_ROOT), str(corpus_path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return round(float(done.stdout.strip().splitlines()[-1]), 1)


def figures(outcomes: Sequence[Outcome], parse_ms: Sequence[float]) -> dict[str, Any]:
    """The report's numbers."""
    total = Share(sum(o.correct for o in outcomes), len(outcomes))
    unseen = [o for o in outcomes if o.unseen_non_answer]
    return {
        "answers": total.total,
        "accuracy": round(total.rate, 4),
        "by_type": {
            k: asdict_share(v) for k, v in shares(outcomes, lambda o: o.case.question).items()
        },
        "by_language": {
            k: asdict_share(v) for k, v in shares(outcomes, lambda o: o.case.lang).items()
        },
        "non_answers": sum(o.case.expect is None for o in outcomes),
        "unseen_non_answers": len(unseen),
        "parse_ms": {
            "p50": round(percentile(parse_ms, 50), 3),
            "p99": round(percentile(parse_ms, 99), 3),
        },
        "targets": {
            "accuracy": total.rate >= ACCURACY_TARGET,
            "unseen_non_answers": len(unseen) <= UNSEEN_NON_ANSWERS_MAX,
            "parse_p99_ms": percentile(parse_ms, 99) <= PARSE_P99_MS_TARGET,
        },
    }


def asdict_share(share: Share) -> dict[str, Any]:
    """A group's share as JSON."""
    return {"correct": share.correct, "total": share.total, "rate": round(share.rate, 4)}


def render(numbers: dict[str, Any], machine: str) -> str:
    """The Markdown report."""
    lines = [
        f"### Held-out answers: {numbers['answers']} through the form validation ({machine})",
        "",
        f"Stored with the right value: **{numbers['accuracy']:.1%}** (target ≥ "
        f"{ACCURACY_TARGET:.0%}); non-answers stored unseen: "
        f"**{numbers['unseen_non_answers']}** of {numbers['non_answers']} (target 0); "
        f"CPU per answer p50 {numbers['parse_ms']['p50']:.2f} ms, p99 "
        f"{numbers['parse_ms']['p99']:.2f} ms (target ≤ {PARSE_P99_MS_TARGET:g} ms)"
        + (
            f"; every parser on one answer mean {numbers['all_parsers_ms']['mean']:.2f} ms, "
            f"p99 {numbers['all_parsers_ms']['p99']:.2f} ms (target: mean ≤ "
            f"{ALL_PARSERS_MEAN_MS_TARGET:g} ms)"
            if "all_parsers_ms" in numbers
            else ""
        )
        + (
            f"; action server with every language's data loaded "
            f"{numbers['action_server_rss_mb']:.0f} MB (target ≤ {ACTION_SERVER_RSS_MB_TARGET} MB)."
            if "action_server_rss_mb" in numbers
            else "."
        ),
        "",
        "| answer type | right | of | accuracy |",
        "|---|---:|---:|---:|",
    ]
    for name, share in numbers["by_type"].items():
        lines.append(f"| {name} | {share['correct']} | {share['total']} | {share['rate']:.1%} |")
    lines += ["", "| language | right | of | accuracy |", "|---|---:|---:|---:|"]
    for name, share in numbers["by_language"].items():
        lines.append(f"| {name} | {share['correct']} | {share['total']} | {share['rate']:.1%} |")
    return "\n".join(lines)


def failures(outcomes: Sequence[Outcome], limit: int = 200) -> list[str]:
    """One line per wrong case: question, language, text, intent read, why."""
    return [
        f"{o.case.question}/{o.case.lang} {o.case.text!r} [{o.intent}]: {o.problem}"
        for o in outcomes
        if not o.correct
    ][:limit]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench answers",
        description="held-out shopper answers through the form validation action",
    )
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--out", type=Path, default=OUTPUT)
    parser.add_argument("--show-failures", action="store_true", help="list every wrong case")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None, *, machine: str = "") -> int:
    """Run the corpus; prints Markdown and writes JSON."""
    from bench.nlu import ModelParser

    args = parse_args(argv)
    if not args.model.exists():
        print(f"no trained model at {args.model}: run `make train` first", file=sys.stderr)
        return 1
    try:
        corpus = load_corpus(args.corpus)
    except CorpusError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"loading {args.model} …", file=sys.stderr, flush=True)
    parser = ModelParser.load(args.model)
    with (
        tempfile.TemporaryDirectory(prefix="bench-answers-") as scratch,
        fresh_store(Path(scratch)),
    ):
        outcomes = asyncio.run(run_corpus(corpus, parser.intent_of))
        parse_ms = parse_times_ms(corpus)
    numbers = figures(outcomes, parse_ms)
    all_parsers_ms = all_parsers_times_ms(corpus)
    numbers["all_parsers_ms"] = {
        "mean": round(sum(all_parsers_ms) / len(all_parsers_ms), 3),
        "p99": round(percentile(all_parsers_ms, 99), 3),
    }
    numbers["targets"]["all_parsers_mean_ms"] = (
        numbers["all_parsers_ms"]["mean"] <= ALL_PARSERS_MEAN_MS_TARGET
    )
    numbers["action_server_rss_mb"] = action_server_memory_mb(args.corpus)
    numbers["targets"]["action_server_rss_mb"] = (
        numbers["action_server_rss_mb"] <= ACTION_SERVER_RSS_MB_TARGET
    )
    print(render(numbers, machine) + "\n")
    if args.show_failures:
        print("\n".join(failures(outcomes, limit=len(outcomes))) + "\n")
    report = {
        "measured_at": datetime.now(timezone.utc).isoformat(),
        "machine": machine,
        **numbers,
        "failures": failures(outcomes),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"written to {args.out}", file=sys.stderr)
    return 0
