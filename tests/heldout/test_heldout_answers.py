"""The held-out shopper answers: well formed, written apart, and stored with their meaning.

``tests/heldout/answers_heldout.yml`` was written apart from the parser tests. Every
answer goes through the trained model (its intent) and the real form validation action
into a fresh SQLite lead store, and the value read back is compared with the expected
one; ``python -m bench answers`` prints the same figures per answer type and language.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from pathlib import Path

import pytest

from bench.answers import (
    ACCURACY_TARGET,
    CORPUS,
    LANGUAGES,
    QUESTIONS,
    AnswerCase,
    Corpus,
    CorpusError,
    Outcome,
    failures,
    fresh_store,
    load_corpus,
    mismatch,
    run_corpus,
    shares,
)
from bench.nlu import ModelParser, normalise
from bot.settings import PROJECT_ROOT

MIN_ANSWERS = 600
MIN_PER_TYPE_AND_LANGUAGE = 3
# Shorter messages are set phrases and place names that anyone writes the same way
# ("la semaine prochaine", "Las Palmas de Gran Canaria"); sentences are not.
SENTENCE_WORDS = 6
# The parser tests, which the corpus must not copy from (nor they from it).
PARSER_TESTS = [
    *sorted((PROJECT_ROOT / "tests" / "unit").glob("test_parse_*.py")),
    PROJECT_ROOT / "tests" / "unit" / "test_match_variant.py",
]
# Quoted in the issue that asked for both, so both may hold them.
SHARED_EXAMPLES = frozenset(
    normalise(text)
    for text in (
        "I don't want to spend more than 160",
        "entre 100 et 150 €",
        "two to four hundred bucks",
        "what's the weather like in Paris today?",
        "hmm actually the black one, same size",
        "chaqueta impermeable azul M",
        "Porto-Vecchio, Corsica",
        "in zwei wochen",
        "je sais pas, peut-être le mois prochain",
        "la semana que viene",
        "tra due settimane",
        "daqui a um mês",
        "die graue Mütze",
        "nxt wek prob",
        "a fortnight",
        "3000 rubles",
    )
)


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return load_corpus(CORPUS)


def test_the_corpus_covers_every_answer_type_in_every_language(corpus: Corpus) -> None:
    assert len(corpus.cases) >= MIN_ANSWERS
    counts = Counter((case.question, case.lang) for case in corpus.cases)
    thin = {
        f"{question}/{lang}": counts[(question, lang)]
        for question in QUESTIONS
        for lang in LANGUAGES
        if counts[(question, lang)] < MIN_PER_TYPE_AND_LANGUAGE
    }
    assert not thin, f"fewer than {MIN_PER_TYPE_AND_LANGUAGE} answers: {thin}"
    non_answers = Counter(case.question for case in corpus.cases if case.expect is None)
    assert set(non_answers) == set(QUESTIONS), f"non-answers only for {sorted(non_answers)}"


def _quoted(path: Path) -> set[str]:
    source = path.read_text(encoding="utf-8")
    return {normalise(text) for text in re.findall(r'"((?:[^"\\\n]|\\.)+)"', source)}


def test_no_corpus_answer_is_copied_in_the_parser_tests(corpus: Corpus) -> None:
    quoted = set().union(*(_quoted(path) for path in PARSER_TESTS))
    shared = {
        case.text
        for case in corpus.cases
        if len(case.text.split()) >= SENTENCE_WORDS
        and normalise(case.text) in quoted
        and normalise(case.text) not in SHARED_EXAMPLES
    }
    assert not shared, f"also in the parser tests: {sorted(shared)}"


def test_a_malformed_corpus_names_the_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "answers.yml"
    path.write_text(
        'now: "2026-03-04T10:00:00+00:00"\nanswers:\n'
        '  - {q: timeline, lang: en, text: "soon", expect: {days: 3}}\n'
        '  - {q: colour, lang: en, text: "red", expect: null}\n',
        encoding="utf-8",
    )
    with pytest.raises(CorpusError) as raised:
        load_corpus(path)
    message = str(raised.value)
    assert f"{path}:3: answers[0].expect: unknown expected field(s) days" in message
    assert f"{path}:4: answers[1].q:" in message


def case(question: str, expect: dict | None) -> AnswerCase:
    return AnswerCase(question=question, lang="en", text="x", expect=expect)


@pytest.mark.parametrize(
    ("question", "expect", "stored", "wrong"),
    [
        ("timeline", {"days_min": 13, "days_max": 15}, {"days": 14}, False),
        ("timeline", {"days_min": 13, "days_max": 15}, {"days": 16}, True),
        ("timeline", {"days_min": 5, "days_max": 11, "uncertain": True}, {"days": 7}, True),
        ("timeline", {"browsing": True}, {"days": None, "browsing": True}, False),
        (
            "budget",
            {"currency": "EUR", "max": 160},
            {"amount": 160, "max": 160, "currency": "EUR"},
            False,
        ),
        (
            "budget",
            {"currency": "EUR", "max": 160},
            {"amount": 160, "min": 160, "currency": "EUR"},
            True,
        ),
        ("budget", {"currency": "RUB", "amount": 3000}, {"amount": 3000, "currency": "EUR"}, True),
        (
            "budget",
            {"currency": "EUR", "min": 100, "max": 150},
            {"amount": 125, "min": 100, "max": 150, "currency": "EUR"},
            False,
        ),
        (
            "location",
            {"country": "FR", "area": "Corsica"},
            {"country": "FR", "region": "Porto-Vecchio", "area": "Corsica"},
            False,
        ),
        (
            "location",
            {"country": "FR", "area": "Corsica"},
            {"country": "PT", "region": "Porto"},
            True,
        ),
        (
            "location",
            {"country": "FR", "region": "Paris"},
            {"country": "FR", "region": "paris"},
            False,
        ),
        ("variant", {"variant": "jacket-rain-blue-m"}, "jacket-rain-blue-m", False),
        ("variant", {"variant": "jacket-rain-blue-m"}, "jacket-rain-red-s", True),
        (
            "name",
            {"first_name": "Eve", "last_name": "Hacker"},
            {"first_name": "Eve", "last_name": "Hacker"},
            False,
        ),
        ("name", {"first_name": "Jonas"}, {"first_name": "Skip", "last_name": None}, True),
        ("phone", {"phone": "+33612345678"}, {"phone": "+33612345678"}, False),
        ("location", None, None, False),
        (
            "location",
            {"country": "FR", "area": "Guyane"},
            {"country": "FR", "region": "Cayenne", "area": "French Guiana"},
            False,
        ),
        (
            "location",
            {"country": "FR", "area": "Guyane"},
            {"country": "FR", "region": "Cayenne", "area": "Martinique"},
            True,
        ),
        ("location", None, {"country": "FR", "region": "Paris"}, True),
        ("timeline", {"days_min": 1, "days_max": 1}, None, True),
    ],
)
def test_the_comparison_rules(
    question: str, expect: dict | None, stored: object, wrong: bool
) -> None:
    assert (mismatch(case(question, expect), stored) is not None) is wrong


@pytest.fixture(scope="module")
def outcomes(
    corpus: Corpus, model_parser: ModelParser, tmp_path_factory: pytest.TempPathFactory
) -> list[Outcome]:
    with fresh_store(tmp_path_factory.mktemp("answers")):
        return asyncio.run(run_corpus(corpus, model_parser.intent_of))


def _report(outcomes: list[Outcome]) -> str:
    by_type = shares(outcomes, lambda o: o.case.question)
    return (
        ", ".join(f"{name} {share.rate:.1%}" for name, share in by_type.items())
        + "\n"
        + "\n".join(failures(outcomes, limit=60))
    )


@pytest.mark.e2e
def test_answers_are_stored_with_their_meaning(outcomes: list[Outcome]) -> None:
    right = sum(outcome.correct for outcome in outcomes) / len(outcomes)
    assert right >= ACCURACY_TARGET, f"{right:.1%} right\n{_report(outcomes)}"


@pytest.mark.e2e
def test_no_value_is_stored_unseen_from_a_message_that_is_no_answer(
    outcomes: list[Outcome],
) -> None:
    unseen = [outcome for outcome in outcomes if outcome.unseen_non_answer]
    assert not unseen, "\n".join(
        f"{o.case.question}/{o.case.lang} {o.case.text!r} [{o.intent}]: {o.stored!r} {o.others!r}"
        for o in unseen
    )
