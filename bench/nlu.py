"""``python -m bench nlu``: the trained model against the held-out shopper messages.

``tests/heldout/nlu_heldout.yml`` holds labelled messages written apart from the
training data and never trained on (``tests/heldout`` fails if one appears in
``data/nlu``). The model is loaded once in process with Rasa's ``Agent`` and every
message goes through ``Agent.parse_message``: the same NLU graph the Rasa server
runs on a chat turn, FallbackClassifier (``nlu_fallback``) included.

Reported: per-intent precision, recall and F1, macro-F1 (over the held-out set's
intents: ``nlu_fallback`` or any other intent only the model knows counts as a
miss), accuracy, the confusion matrix, accuracy per tag (opening, texting, fr, …),
the dangerous errors (a message that is not itself a stop, goodbye or deny read as
one: the bot would end the questions or take a refusal nobody gave) and the parse
time per message. Prints Markdown and writes ``var/bench/nlu.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
import unicodedata
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Extra, Field, StrictStr, ValidationError

from bench.stats import percentile
from bot.settings import PROJECT_ROOT, VAR_DIR
from bot.yamlconf import describe, load_document

if TYPE_CHECKING:
    from rasa.core.agent import Agent

HELDOUT = PROJECT_ROOT / "tests" / "heldout" / "nlu_heldout.yml"
NLU_DIR = PROJECT_ROOT / "data" / "nlu"
DOMAIN = PROJECT_ROOT / "domain.yml"
MODEL = PROJECT_ROOT / "models" / "current.tar.gz"
OUTPUT = VAR_DIR / "bench" / "nlu.json"

# Targets (issue "the conversation must hold up with real shoppers").
MACRO_F1_TARGET = 0.95
DANGEROUS_MAX = 0
# Intents that end the questions or refuse: reading anything else as one of these
# loses a shopper who never asked to stop.
ENDING_INTENTS = frozenset({"stop", "goodbye", "deny"})
# What Rasa's FallbackClassifier predicts when no intent is confident enough.
FALLBACK_INTENT = "nlu_fallback"


class HeldOutError(ValueError):
    """The held-out file cannot be used; the message names file, line and field."""


@dataclass(frozen=True)
class HeldOutExample:
    """One labelled shopper message."""

    text: str
    intent: str
    tags: tuple[str, ...]


class _ExampleIn(BaseModel):
    class Config:
        extra = Extra.forbid
        min_anystr_length = 1

    text: StrictStr
    intent: StrictStr
    tags: list[StrictStr] = Field(default_factory=list)


class _HeldOutIn(BaseModel):
    class Config:
        extra = Extra.forbid

    version: int
    examples: list[_ExampleIn]


def load_heldout(path: Path = HELDOUT) -> list[HeldOutExample]:
    """The examples of a held-out file; a malformed file raises ``HeldOutError``."""
    data, root = load_document(path, HeldOutError, "held-out messages")
    try:
        parsed = _HeldOutIn.parse_obj(data)
    except ValidationError as exc:
        problems = [(tuple(error["loc"]), error["msg"]) for error in exc.errors()]
        raise HeldOutError(describe(path, root, problems, "held-out messages")) from exc
    return [HeldOutExample(item.text, item.intent, tuple(item.tags)) for item in parsed.examples]


def normalise(text: str) -> str:
    """``text`` as compared for leaks: case, spacing and end punctuation ignored.

    NFKC first, so that an accent typed as one character or as two compares equal.
    """
    folded = " ".join(unicodedata.normalize("NFKC", text).casefold().split())
    start, end = 0, len(folded)
    while start < end and _ignorable_at_end(folded[start]):
        start += 1
    while end > start and _ignorable_at_end(folded[end - 1]):
        end -= 1
    return folded[start:end]


def _ignorable_at_end(char: str) -> bool:
    return char.isspace() or unicodedata.category(char).startswith("P")


@dataclass(frozen=True)
class TrainingExample:
    """One intent example of the training data, entity annotations removed."""

    text: str
    intent: str
    path: Path


def training_examples(nlu_dir: Path = NLU_DIR) -> list[TrainingExample]:
    """Every intent example in the Rasa NLU YAML files of ``nlu_dir``, read as Rasa reads them."""
    # Rasa's own reader: it knows the examples' list syntax, metadata form and
    # entity annotations ("[Berlin](city)" is trained as "Berlin").
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

    found = []
    for path in sorted(nlu_dir.glob("*.yml")) + sorted(nlu_dir.glob("*.yaml")):
        data = RasaYAMLReader().read(path)
        found += [
            TrainingExample(message.get("text"), message.get("intent"), path)
            for message in data.intent_examples
        ]
    return found


@dataclass(frozen=True)
class Leak:
    """A held-out message that is also a training example (after ``normalise``)."""

    heldout: HeldOutExample
    training: TrainingExample


def leaks(heldout: Iterable[HeldOutExample], training: Iterable[TrainingExample]) -> list[Leak]:
    """The held-out messages that also appear in the training examples."""
    trained = {normalise(example.text): example for example in training}
    return [
        Leak(example, trained[key])
        for example in heldout
        if (key := normalise(example.text)) in trained
    ]


@dataclass(frozen=True)
class Prediction:
    """What the model made of one held-out message."""

    example: HeldOutExample
    intent: str
    confidence: float
    seconds: float

    @property
    def correct(self) -> bool:
        """Whether the predicted intent is the labelled one."""
        return self.intent == self.example.intent


class ModelParser:
    """A trained model loaded once in this process, parsing as the Rasa server does."""

    def __init__(self, agent: Agent) -> None:
        self._agent = agent

    @classmethod
    def load(cls, model: Path = MODEL) -> ModelParser:
        """Load ``model`` (seconds: the whole graph is unpacked and built)."""
        with warnings.catch_warnings():
            # Rasa's warnings on load (e.g. slot auto-fill notices): not this report's business.
            warnings.simplefilter("ignore")
            # Imported here: importing rasa takes seconds and only this needs it.
            from rasa.core.agent import Agent
            from rasa.utils.log_utils import configure_structlog

            # Rasa logs every parse at debug level; the report is the output here.
            logging.getLogger("rasa").setLevel(logging.WARNING)
            configure_structlog(logging.WARNING)
            return cls(Agent.load(str(model)))

    @property
    def intents(self) -> frozenset[str]:
        """The intents the model was trained with."""
        return frozenset(self._agent.domain.intents) if self._agent.domain else frozenset()

    async def intent_of(self, text: str) -> tuple[str, float]:
        """The intent the Rasa server would read in ``text``, with its confidence."""
        parsed = await self._agent.parse_message(text)
        intent = parsed.get("intent") or {}
        return intent.get("name") or FALLBACK_INTENT, float(intent.get("confidence") or 0.0)

    async def predict(self, examples: Sequence[HeldOutExample]) -> list[Prediction]:
        """Parse every example, one at a time, timing each parse."""
        predictions = []
        for example in examples:
            started = time.perf_counter()
            parsed = await self._agent.parse_message(example.text)
            seconds = time.perf_counter() - started
            intent = parsed.get("intent") or {}
            predictions.append(
                Prediction(
                    example,
                    intent.get("name") or FALLBACK_INTENT,
                    float(intent.get("confidence") or 0.0),
                    seconds,
                )
            )
        return predictions


@dataclass(frozen=True)
class IntentScore:
    """Precision, recall and F1 of one intent; support is its number of held-out messages."""

    intent: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class TagScore:
    """Accuracy over the held-out messages carrying one tag."""

    tag: str
    correct: int
    total: int

    @property
    def accuracy(self) -> float:
        """Share of the tag's messages read as their labelled intent."""
        return self.correct / self.total


@dataclass(frozen=True)
class Evaluation:
    """The model's figures on the held-out set."""

    examples: int
    accuracy: float
    macro_f1: float
    intents: tuple[IntentScore, ...]
    # Rows: the held-out intents; columns: those, then anything else predicted.
    labels: tuple[str, ...]
    matrix: tuple[tuple[int, ...], ...]
    tags: tuple[TagScore, ...]
    dangerous: tuple[Prediction, ...]
    unknown_to_model: tuple[str, ...]

    @property
    def targets_met(self) -> dict[str, bool]:
        """Each target and whether it is met."""
        return {
            "macro_f1": self.macro_f1 >= MACRO_F1_TARGET,
            "dangerous": len(self.dangerous) <= DANGEROUS_MAX,
        }


def is_dangerous(prediction: Prediction) -> bool:
    """A message that is not itself an ending or a refusal read as one."""
    return prediction.example.intent not in ENDING_INTENTS and prediction.intent in ENDING_INTENTS


def evaluate(predictions: Sequence[Prediction], model_intents: Iterable[str]) -> Evaluation:
    """Score ``predictions`` against their labels (pure).

    Macro-F1 averages the held-out intents' F1; a held-out intent the model was not
    trained with (``unknown_to_model``) is scored like any other, every message of
    it a miss.
    """
    if not predictions:
        raise ValueError("no predictions to evaluate")
    gold = sorted({prediction.example.intent for prediction in predictions})
    extra = sorted({prediction.intent for prediction in predictions} - set(gold))
    labels = (*gold, *extra)
    index = {label: position for position, label in enumerate(labels)}
    cells = Counter((prediction.example.intent, prediction.intent) for prediction in predictions)
    matrix = tuple(tuple(cells[(row, column)] for column in labels) for row in gold)
    intents = tuple(_score(intent, matrix, index) for intent in gold)
    correct = sum(prediction.correct for prediction in predictions)
    tagged: dict[str, list[bool]] = {}
    for prediction in predictions:
        for tag in prediction.example.tags:
            tagged.setdefault(tag, []).append(prediction.correct)
    known = set(model_intents)
    return Evaluation(
        examples=len(predictions),
        accuracy=correct / len(predictions),
        macro_f1=sum(score.f1 for score in intents) / len(intents),
        intents=intents,
        labels=labels,
        matrix=matrix,
        tags=tuple(
            TagScore(tag, sum(results), len(results)) for tag, results in sorted(tagged.items())
        ),
        dangerous=tuple(prediction for prediction in predictions if is_dangerous(prediction)),
        unknown_to_model=tuple(intent for intent in gold if intent not in known),
    )


def _score(intent: str, matrix: Sequence[Sequence[int]], index: Mapping[str, int]) -> IntentScore:
    column = index[intent]
    true_positives = matrix[column][column]
    predicted = sum(row[column] for row in matrix)
    support = sum(matrix[column])
    precision = true_positives / predicted if predicted else 0.0
    recall = true_positives / support if support else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return IntentScore(intent, precision, recall, f1, support)


def render(
    evaluation: Evaluation, parse_ms: Sequence[float], unseen: Evaluation | None = None
) -> str:
    """The Markdown report; ``unseen``: the figures without the messages also trained on."""
    met = evaluation.targets_met
    lines = [
        f"### Understanding: {evaluation.examples} held-out shopper messages",
        "",
        f"macro-F1 **{evaluation.macro_f1:.3f}** (target ≥ {MACRO_F1_TARGET}: "
        f"{'met' if met['macro_f1'] else 'NOT met'}), accuracy {evaluation.accuracy:.3f}, "
        f"dangerous errors **{len(evaluation.dangerous)}** (target {DANGEROUS_MAX}: "
        f"{'met' if met['dangerous'] else 'NOT met'}); "
        f"parse p50 {percentile(parse_ms, 50):.1f} ms, p95 {percentile(parse_ms, 95):.1f} ms",
        "",
    ]
    if unseen is not None:
        lines += [
            f"{evaluation.examples - unseen.examples} of these messages are also training "
            "examples in data/nlu (tests/heldout fails on that); on the other "
            f"{unseen.examples}: macro-F1 {unseen.macro_f1:.3f}, accuracy {unseen.accuracy:.3f}, "
            f"dangerous errors {len(unseen.dangerous)}",
            "",
        ]
    if evaluation.unknown_to_model:
        lines += [
            "Held-out intents the model was not trained with (every message a miss): "
            + ", ".join(evaluation.unknown_to_model),
            "",
        ]
    lines += ["| intent | precision | recall | F1 | support |", "|---|---:|---:|---:|---:|"]
    lines += [
        f"| {score.intent} | {score.precision:.3f} | {score.recall:.3f} | {score.f1:.3f} "
        f"| {score.support} |"
        for score in evaluation.intents
    ]
    lines += ["", "Confusion (held-out intent: right/all; misread as: count):", ""]
    for row_index, row in enumerate(evaluation.matrix):
        intent = evaluation.labels[row_index]
        misses = sorted(
            ((count, evaluation.labels[column]) for column, count in enumerate(row)),
            key=lambda cell: (-cell[0], cell[1]),
        )
        wrong = ", ".join(
            f"{label}: {count}" for count, label in misses if count and label != intent
        )
        lines.append(f"- {intent}: {row[row_index]}/{sum(row)}" + (f"; {wrong}" if wrong else ""))
    lines += ["", "| tag | accuracy | messages |", "|---|---:|---:|"]
    lines += [f"| {tag.tag} | {tag.accuracy:.3f} | {tag.total} |" for tag in evaluation.tags]
    lines += ["", f"Dangerous errors ({len(evaluation.dangerous)}):"]
    lines += [
        f"- {prediction.example.text!r}: {prediction.example.intent} read as "
        f"{prediction.intent} ({prediction.confidence:.2f})"
        for prediction in evaluation.dangerous
    ] or ["- none"]
    return "\n".join(lines)


def report_json(
    evaluation: Evaluation,
    parse_ms: Sequence[float],
    *,
    model: Path,
    load_seconds: float,
    machine: str,
    unseen: Evaluation | None = None,
) -> dict[str, Any]:
    """The figures written to ``var/bench/nlu.json``."""
    stat = model.stat()
    return {
        "measured_at": datetime.now(timezone.utc).isoformat(),
        "machine": machine,
        "model": {
            "path": str(model),
            "bytes": stat.st_size,
            "modified_at": datetime.fromtimestamp(stat.st_mtime, timezone.utc).isoformat(),
        },
        "examples": evaluation.examples,
        "accuracy": round(evaluation.accuracy, 4),
        "macro_f1": round(evaluation.macro_f1, 4),
        "targets": {
            "macro_f1_min": MACRO_F1_TARGET,
            "dangerous_max": DANGEROUS_MAX,
            "met": evaluation.targets_met,
        },
        "unknown_to_model": list(evaluation.unknown_to_model),
        # The same figures without the held-out messages that are also training examples.
        "unseen": None
        if unseen is None
        else {
            "examples": unseen.examples,
            "accuracy": round(unseen.accuracy, 4),
            "macro_f1": round(unseen.macro_f1, 4),
            "dangerous": len(unseen.dangerous),
        },
        "intents": [
            {
                "intent": score.intent,
                "precision": round(score.precision, 4),
                "recall": round(score.recall, 4),
                "f1": round(score.f1, 4),
                "support": score.support,
            }
            for score in evaluation.intents
        ],
        "confusion": {
            "labels": list(evaluation.labels),
            "rows": {
                evaluation.labels[index]: list(row) for index, row in enumerate(evaluation.matrix)
            },
        },
        "tags": {
            tag.tag: {
                "accuracy": round(tag.accuracy, 4),
                "correct": tag.correct,
                "total": tag.total,
            }
            for tag in evaluation.tags
        },
        "dangerous": [
            {
                "text": prediction.example.text,
                "intent": prediction.example.intent,
                "predicted": prediction.intent,
                "confidence": round(prediction.confidence, 4),
            }
            for prediction in evaluation.dangerous
        ],
        "parse_ms": {
            "p50": round(percentile(parse_ms, 50), 2),
            "p95": round(percentile(parse_ms, 95), 2),
            "mean": round(sum(parse_ms) / len(parse_ms), 2),
        },
        "load_seconds": round(load_seconds, 1),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench nlu", description="the trained model on the held-out messages"
    )
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--heldout", type=Path, default=HELDOUT)
    parser.add_argument("--nlu-dir", type=Path, default=NLU_DIR, help="the training examples")
    parser.add_argument("--out", type=Path, default=OUTPUT)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None, *, machine: str = "") -> int:
    """Evaluate the model on the held-out set; prints Markdown and writes JSON."""
    args = parse_args(argv)
    if not args.model.exists():
        print(f"no trained model at {args.model}: run `make train` first", file=sys.stderr)
        return 1
    try:
        examples = load_heldout(args.heldout)
    except HeldOutError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"loading {args.model} …", file=sys.stderr, flush=True)
    started = time.perf_counter()
    parser = ModelParser.load(args.model)
    load_seconds = time.perf_counter() - started
    print(f"parsing {len(examples)} messages …", file=sys.stderr, flush=True)
    predictions = asyncio.run(parser.predict(examples))
    evaluation = evaluate(predictions, parser.intents)
    trained = {leak.heldout for leak in leaks(examples, training_examples(args.nlu_dir))}
    unseen = (
        evaluate(
            [prediction for prediction in predictions if prediction.example not in trained],
            parser.intents,
        )
        if trained
        else None
    )
    parse_ms = [prediction.seconds * 1000 for prediction in predictions]
    print(render(evaluation, parse_ms, unseen) + "\n")
    report = report_json(
        evaluation,
        parse_ms,
        model=args.model,
        load_seconds=load_seconds,
        machine=machine,
        unseen=unseen,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"written to {args.out}", file=sys.stderr)
    return 0
