"""Question flows: what the bot asks, in which order, and how answers are read."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.flows.facts import consented

FAQ_TOPICS = ("shipping", "price", "returns", "discount", "stock")
ANSWER_TYPES = ("timeline", "variant", "location", "budget", "yes_no", "name", "contact")


class FlowError(ValueError):
    """A flows file that cannot be used; the message names the file, line and field."""


@dataclass(frozen=True)
class Question:
    """One qualification question."""

    key: str
    answer_type: str
    prompts: tuple[str, ...]
    why: str
    reask: str
    buttons: tuple[str, ...] = ()
    after_consent: bool = False

    def prompt(self, rng: random.Random | None = None) -> str:
        """One of the prompt variants."""
        return (rng or random).choice(self.prompts)


@dataclass(frozen=True)
class Flow:
    """An ordered list of questions."""

    name: str
    questions: tuple[Question, ...]
    faq: dict[str, str] = field(default_factory=dict)
    source: Path | None = None
    _by_key: dict[str, Question] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_key.update({question.key: question for question in self.questions})

    @property
    def keys(self) -> list[str]:
        """Question keys in asking order."""
        return [question.key for question in self.questions]

    def question(self, key: str) -> Question | None:
        """The question with ``key``, if the flow has one."""
        return self._by_key.get(key)

    def to_ask(self, answers: dict[str, Any]) -> list[str]:
        """Keys still to ask given the answers so far (consent gates contact questions)."""
        agreed = consented(answers)
        return [
            question.key
            for question in self.questions
            if answers.get(question.key) is None and (agreed or not question.after_consent)
        ]


def _line_of(node: yaml.Node | None) -> int | None:
    return node.start_mark.line + 1 if node is not None else None


def _question_nodes(root: yaml.Node | None) -> list[yaml.Node | None]:
    if not isinstance(root, yaml.MappingNode):
        return []
    for key_node, value_node in root.value:
        if key_node.value == "questions" and isinstance(value_node, yaml.SequenceNode):
            return list(value_node.value)
    return []


def _text_list(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, str) and value.strip():
        return (value.strip(),)
    if isinstance(value, list) and value and all(isinstance(v, str) and v.strip() for v in value):
        return tuple(v.strip() for v in value)
    return None


def load_flow(path: Path) -> Flow:
    """Load and validate one flows file."""
    try:
        text = path.read_text(encoding="utf-8")
        root_node = yaml.compose(text)
        data = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise FlowError(f"{path}: cannot read flows file ({exc})") from exc
    except yaml.YAMLError as exc:
        raise FlowError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("questions"), list):
        raise FlowError(f"{path}: expected a mapping with a `questions:` list")
    nodes = _question_nodes(root_node)
    questions: list[Question] = []
    seen: set[str] = set()
    for index, raw in enumerate(data["questions"]):
        line = _line_of(nodes[index] if index < len(nodes) else None)
        where = f"{path}, line {line}" if line else f"{path}, question {index + 1}"
        questions.append(_question(raw, where, seen))
    if not questions:
        raise FlowError(f"{path}: `questions:` is empty; add at least one question")
    return Flow(
        name=str(data.get("flow") or path.stem),
        questions=tuple(questions),
        faq=_faq(data.get("faq"), path),
        source=path,
    )


def _faq(raw: Any, path: Path) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise FlowError(f"{path}: `faq` must map topics ({', '.join(FAQ_TOPICS)}) to texts")
    for topic, text in raw.items():
        if topic not in FAQ_TOPICS:
            raise FlowError(
                f"{path}: `faq: {topic}` is not a topic; expected one of {', '.join(FAQ_TOPICS)}"
            )
        if not isinstance(text, str) or not text.strip():
            raise FlowError(f"{path}: `faq: {topic}` needs a text")
    return {str(topic): str(text).strip() for topic, text in raw.items()}


def _question(raw: Any, where: str, seen: set[str]) -> Question:
    if not isinstance(raw, dict):
        raise FlowError(f"{where}: each question must be a mapping with key, answer_type, prompt")
    key = raw.get("key")
    if not isinstance(key, str) or not key.isidentifier():
        raise FlowError(f"{where}: `key` must be a name like `timeline`, got {key!r}")
    if key in seen:
        raise FlowError(f"{where}: `key: {key}` is used twice; keys must be unique")
    seen.add(key)
    answer_type = raw.get("answer_type")
    if answer_type not in ANSWER_TYPES:
        raise FlowError(
            f"{where}: `answer_type: {answer_type}` — expected one of {', '.join(ANSWER_TYPES)}"
        )
    prompts = _text_list(raw.get("prompt"))
    if prompts is None:
        raise FlowError(f"{where}: `prompt` must be a text or a list of texts for `{key}`")
    buttons: tuple[str, ...] = ()
    if raw.get("buttons") not in (None, []):
        parsed_buttons = _text_list(raw["buttons"])
        if parsed_buttons is None or not isinstance(raw["buttons"], list):
            raise FlowError(
                f"{where}: `buttons` of `{key}` must be a list of texts; quote words YAML "
                f'reads as something else, e.g. ["Yes", "No"]'
            )
        buttons = parsed_buttons
    for name in ("why", "reask"):
        if not isinstance(raw.get(name), str) or not raw[name].strip():
            raise FlowError(f"{where}: `{name}` text is missing for `{key}`")
    unknown = set(raw) - {
        "key",
        "answer_type",
        "prompt",
        "buttons",
        "why",
        "reask",
        "after_consent",
    }
    if unknown:
        raise FlowError(f"{where}: unknown field(s) {', '.join(sorted(unknown))} in `{key}`")
    return Question(
        key=key,
        answer_type=answer_type,
        prompts=prompts,
        why=raw["why"].strip(),
        reask=raw["reask"].strip(),
        buttons=buttons,
        after_consent=bool(raw.get("after_consent", False)),
    )
