"""What a flows file may contain, and how its problems are reported.

The fields of the file and of its records (questions, A/B arms, fit-point
rules) and the conditions that ``when:``, ``ask_if:`` and ``fit_points:`` write.
Problems are collected per file, each as ``FILE, line N: what is wrong — what
is expected``; the line is that of the key or list item at fault, found in the
YAML node tree that :mod:`bot.yamlconf` reads with the data.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError, root_validator, validator

from bot.flows.rules import NUMERIC_OPERATORS, OPERATORS, Condition, PointRule
from bot.yamlconf import Location, key_line

# Fit points per answer stay within the scorer's scale.
MAX_POINTS = 100
FILE_FIELDS = ("flow", "when", "questions", "faq")
QUESTION_FIELDS = (
    "key",
    "answer_type",
    "prompt",
    "product_prompt",
    "buttons",
    "choices",
    "why",
    "reask",
    "required",
    "skip_if_known",
    "after_consent",
    "ask_if",
    "fit_points",
    "ab_test",
)
PLACEHOLDERS = frozenset({"product"})
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")

Record = TypeVar("Record", bound=BaseModel)


@dataclass
class Problems:
    """Every problem found in one flows file, reported together."""

    path: Path
    root: yaml.Node | None = None
    messages: list[str] = field(default_factory=list)

    def line(self, location: Location) -> int:
        """The line where the key or list item at ``location`` is written."""
        return key_line(self.root, location)

    def at(self, location: Location, message: str) -> None:
        """A problem with what is written at ``location``."""
        self.on_line(self.line(location), message)

    def on_line(self, line: int | None, message: str) -> None:
        """A problem on ``line``; ``None`` for the file as a whole."""
        where = f"{self.path}, line {line}" if line else str(self.path)
        self.messages.append(f"{where}: {message}")


def text_list(value: Any) -> tuple[str, ...] | None:
    """One text or a non-empty list of texts, stripped; ``None`` for anything else."""
    if isinstance(value, str) and value.strip():
        return (value.strip(),)
    if isinstance(value, list) and value and all(isinstance(v, str) and v.strip() for v in value):
        return tuple(v.strip() for v in value)
    return None


def valid_points(points: Any) -> bool:
    """A whole number of fit points within the scorer's scale."""
    return isinstance(points, int) and not isinstance(points, bool) and abs(points) <= MAX_POINTS


def check_placeholders(texts: Iterable[str], location: Location, problems: Problems) -> None:
    """Prompts may only use ``{product}``."""
    for text in texts:
        for name in _PLACEHOLDER.findall(text):
            if name not in PLACEHOLDERS:
                problems.at(
                    location,
                    f"`{{{name}}}` in {text!r} is not a placeholder; the only one is `{{product}}` "
                    "(the product of the page)",
                )


def unknown_fields(raw: dict[Any, Any], model: type[BaseModel]) -> str | None:
    """The fields of ``raw`` that ``model`` does not have, listed; ``None`` if there are none."""
    unknown = set(raw) - set(model.__fields__)
    return ", ".join(sorted(map(str, unknown))) if unknown else None


def parse_record(
    model: type[Record], raw: dict[Any, Any], location: Location, problems: Problems
) -> Record | None:
    """``raw`` as ``model``, or ``None`` once its first problem is reported.

    The problem is reported on the line of the field at fault; a problem of the
    whole record (a root validator's) on the record's line.
    """
    try:
        return model.parse_obj(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        problems.at((*location, *error["loc"]), error["msg"])
        return None


class ArmIn(BaseModel):
    """One arm of an A/B test: ``{arm: short, split: 50, prompt: When?}``.

    ``buttons`` depend on the question's answer type and are read with it.
    """

    arm: Any = None
    split: Any = None
    prompt: Any = None
    buttons: Any = None

    @root_validator(pre=True)
    def _named(cls, values: dict[str, Any]) -> dict[str, Any]:
        """An arm without a name cannot be reported on any further."""
        name = values.get("arm")
        if not isinstance(name, str) or not name.strip():
            raise ValueError("each arm needs `arm:` with its name, e.g. `arm: short`")
        return values

    @validator("split", always=True)
    def _percentage(cls, split: Any, values: dict[str, Any]) -> int:
        """A whole percentage."""
        if isinstance(split, bool) or not isinstance(split, int) or not 0 <= split <= 100:
            raise ValueError(f"`split: {split}` of arm `{values['arm']}` — expected 0 to 100")
        return split

    @root_validator(skip_on_failure=True)
    def _prompts(cls, values: dict[str, Any]) -> dict[str, Any]:
        """What the arm's shoppers are asked: a text or a list of texts."""
        prompts = text_list(values.get("prompt"))
        if prompts is None:
            raise ValueError(f"arm `{values['arm']}` needs a `prompt` (a text or a list of texts)")
        return {**values, "prompt": prompts}


class PointRuleIn(BaseModel):
    """A fit-point rule: ``{when: {lt: 30}, points: 10, reason: Buying within a month}``."""

    when: Any
    points: int
    reason: str | None = None

    @validator("points", pre=True)
    def _whole_number(cls, points: Any) -> int:
        """Within the scorer's scale."""
        if not valid_points(points):
            raise ValueError(
                f"`points: {points}` — expected a whole number from {-MAX_POINTS} to {MAX_POINTS}"
            )
        return int(points)

    @validator("reason", pre=True)
    def _text(cls, reason: Any) -> str | None:
        """Shown to sales next to the points."""
        if reason is not None and (not isinstance(reason, str) or not reason.strip()):
            raise ValueError(f"`reason: {reason}` must be a text")
        return reason.strip() if reason else None


def operator_value(
    raw: Any, location: Location, label: str, problems: Problems
) -> list[tuple[str, Any]] | None:
    """``{lt: 90}`` → [("lt", 90)]; a plain value → equals; a list → in."""
    if isinstance(raw, dict):
        pairs = []
        for operator, value in raw.items():
            if operator not in OPERATORS:
                problems.at(
                    (*location, operator),
                    f"`{label}: {operator}` is not an operator; "
                    f"expected one of {', '.join(OPERATORS)}",
                )
                return None
            if operator in ("in", "not_in") and not isinstance(value, list):
                value = [value]
            if operator in ("equals", "not") and isinstance(value, list):
                # "equals: [a, b]" can only mean one of them.
                operator, value = ("in" if operator == "equals" else "not_in"), list(value)
            if operator in NUMERIC_OPERATORS and (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not math.isfinite(value)
            ):
                problems.at(
                    (*location, operator),
                    f"`{label}: {{{operator}: {value}}}` — `{operator}` compares with a number",
                )
                return None
            pairs.append((str(operator), value))
        if not pairs:
            problems.at(location, f"`{label}` is empty; write a value, a list or e.g. {{lt: 90}}")
            return None
        return pairs
    if isinstance(raw, list):
        return [("in", list(raw))]
    if raw is None:
        problems.at(location, f"`{label}` has no value; write a value, a list or e.g. {{lt: 90}}")
        return None
    return [("equals", raw)]


def conditions(raw: Any, location: Location, problems: Problems) -> list[Condition]:
    """The conditions of a ``when:`` or ``ask_if:`` mapping written at ``location``."""
    field_name = str(location[-1])
    if raw is None:
        return []
    if not isinstance(raw, dict) or not raw:
        problems.at(
            location,
            f"`{field_name}` must map subjects to values, "
            f"e.g. `{field_name}: {{timeline: {{lt: 90}}}}`",
        )
        return []
    found = []
    for subject, spec in raw.items():
        at = (*location, subject)
        pairs = operator_value(spec, at, f"{field_name}: {subject}", problems)
        for operator, value in pairs or []:
            found.append(Condition(str(subject), operator, value, problems.line(at)))
    return found


def point_rules(raw: Any, key: str, location: Location, problems: Problems) -> list[PointRule]:
    """The ``fit_points`` rules of question ``key``, written at ``location``."""
    if raw is None:
        return []
    if not isinstance(raw, list) or not raw:
        problems.at(
            location, "`fit_points` must be a list of rules like `- {when: {lt: 30}, points: 10}`"
        )
        return []
    rules = []
    for index, item in enumerate(raw):
        at = (*location, index)
        if not isinstance(item, dict) or "points" not in item or "when" not in item:
            problems.at(
                at,
                f"a `fit_points` rule of `{key}` needs `when` and `points`, e.g. "
                "`- {when: {lt: 30}, points: 10, reason: Buying within a month}`",
            )
            continue
        unknown = unknown_fields(item, PointRuleIn)
        if unknown:
            problems.at(
                at,
                f"unknown field(s) {unknown} in a `fit_points` rule; "
                f"expected {', '.join(PointRuleIn.__fields__)}",
            )
            continue
        rule = parse_record(PointRuleIn, item, at, problems)
        if rule is None:
            continue
        pairs = operator_value(rule.when, (*at, "when"), f"fit_points of {key}", problems)
        if pairs is None:
            continue
        line = problems.line((*at, "when"))
        rules.append(
            PointRule(
                tuple(Condition(key, op, v, line) for op, v in pairs), rule.points, rule.reason
            )
        )
    return rules
