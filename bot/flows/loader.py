"""Reading ``data/flows/*.yml``: schema, cross-checks, and errors that say where and how to fix.

Every problem of a file is reported at once, each as ``FILE, line N: what is
wrong — what is expected``, so a marketer can fix a whole edit in one pass.
Cross-checks need the domain's slots and the catalogue; ``flows check``, the
action server and the tests pass them in.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.answers.text import fold
from bot.catalog import Catalog
from bot.flows.model import (
    ANSWER_TYPES,
    CONTACT_TYPES,
    FAQ_TOPICS,
    AbTest,
    Arm,
    Choice,
    Flow,
    FlowError,
    FlowSet,
    Question,
)
from bot.flows.rules import (
    BOOLEAN_ANSWERS,
    BOOLEAN_FACTS,
    NUMERIC_ANSWERS,
    NUMERIC_FACTS,
    NUMERIC_OPERATORS,
    OPERATORS,
    PAGE_FACTS,
    PAGE_TYPES,
    Condition,
    Money,
    PointRule,
)
from bot.settings import PROJECT_ROOT

# The answers every lead has (the lead JSON contract): their keys keep their types.
CORE_KEYS = {
    "timeline": "timeline",
    "variant": "variant",
    "location": "location",
    "budget": "budget",
    "contact_consent": "yes_no",
    "contact_name": "name",
    "contact_details": "contact",
}
# Slots the bot itself uses; a question cannot take their names.
RESERVED_SLOTS = frozenset({"question_state", "qualification_status", "requested_slot"})
GENERIC_SLOT = "flow_answers"
DOMAIN_FILE = PROJECT_ROOT / "domain.yml"
# Fit points per answer stay within the scorer's scale.
MAX_POINTS = 100
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
FILE_FIELDS = ("flow", "when", "questions", "faq")
PLACEHOLDERS = frozenset({"product"})
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_CHOICE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class _Map(dict[Any, Any]):
    line: int = 0
    key_lines: dict[Any, int]


class _Seq(list[Any]):
    line: int = 0
    item_lines: list[int]


class _LineLoader(yaml.SafeLoader):
    """A safe loader that remembers the line of every mapping key and list item."""


def _construct_map(loader: _LineLoader, node: yaml.MappingNode) -> _Map:
    loader.flatten_mapping(node)
    mapping = _Map()
    mapping.line = node.start_mark.line + 1
    mapping.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            if key in mapping.key_lines:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"`{key}` is written twice in the same block (first on line "
                    f"{mapping.key_lines[key]}); keep one",
                    key_node.start_mark,
                )
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "a key must be a plain word", key_node.start_mark
            ) from None
        try:
            mapping[key] = loader.construct_object(value_node, deep=True)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "a key must be a plain word", key_node.start_mark
            ) from None
        mapping.key_lines[key] = key_node.start_mark.line + 1
    return mapping


def _construct_seq(loader: _LineLoader, node: yaml.SequenceNode) -> _Seq:
    sequence = _Seq(loader.construct_object(child, deep=True) for child in node.value)
    sequence.line = node.start_mark.line + 1
    sequence.item_lines = [child.start_mark.line + 1 for child in node.value]
    return sequence


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_map)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_seq)


def _line(container: Any, key: Any = None) -> int | None:
    if isinstance(container, _Map):
        return container.key_lines.get(key, container.line) if key is not None else container.line
    if isinstance(container, _Seq):
        if isinstance(key, int) and key < len(container.item_lines):
            return container.item_lines[key]
        return container.line
    return None


@dataclass
class _Problems:
    path: Path
    messages: list[str] = field(default_factory=list)

    def add(self, line: int | None, message: str) -> None:
        where = f"{self.path}, line {line}" if line else str(self.path)
        self.messages.append(f"{where}: {message}")


@dataclass(frozen=True)
class FlowContext:
    """What the cross-checks compare a flow with: the domain's slots and the catalogue."""

    domain_slots: frozenset[str] | None = None
    catalog: Catalog | None = None
    # Budget rules name amounts in the shop's currency; answers in others are converted.
    money: Money | None = None


def domain_slots(domain_file: Path) -> frozenset[str]:
    """The slot names declared in ``domain.yml``."""
    data = yaml.safe_load(domain_file.read_text(encoding="utf-8")) or {}
    return frozenset((data.get("slots") or {}).keys())


def flow_context(
    catalog: Catalog | None, domain_file: Path = DOMAIN_FILE, money: Money | None = None
) -> FlowContext:
    """The project's domain slots and ``catalog``, for the cross-checks, and ``money``."""
    return FlowContext(
        domain_slots=domain_slots(domain_file) if domain_file.exists() else None,
        catalog=catalog,
        money=money,
    )


def load_flow(path: Path, context: FlowContext | None = None) -> Flow:
    """Load and check one flows file; raises :class:`FlowError` listing every problem."""
    problems = _Problems(path)
    flow = _read_checked(path, problems, context or FlowContext())
    if problems.messages or flow is None:
        raise FlowError("\n".join(problems.messages))
    return flow


def load_flows(directory: Path, context: FlowContext | None = None) -> FlowSet:
    """Load every ``*.yml`` of ``directory`` (file order) and check them together."""
    context = context or FlowContext()
    # Editors' lock and resource files (.#default.yml, ._default.yml) are not flows.
    paths = sorted(path for path in directory.glob("*.yml") if not path.name.startswith("."))
    if not paths:
        raise FlowError(f"{directory}: no flows file (*.yml); add one, e.g. default.yml")
    messages: list[str] = []
    flows: list[Flow] = []
    for path in paths:
        problems = _Problems(path)
        flow = _read_checked(path, problems, context)
        messages += problems.messages
        if flow is not None and not problems.messages:
            flows.append(flow)
    if not messages:
        messages += _check_set(flows)
    if messages:
        raise FlowError("\n".join(messages))
    return FlowSet(tuple(flows))


def _check_set(flows: list[Flow]) -> list[str]:
    messages = []
    names: dict[str, Path | None] = {}
    for flow in flows:
        if flow.name in names:
            messages.append(
                f"{flow.source}: `flow: {flow.name}` is also the name of {names[flow.name]}; "
                "flow names must be unique (the funnel report counts per name)"
            )
        names[flow.name] = flow.source
    fallbacks = [flow for flow in flows if not flow.when]
    if not fallbacks:
        messages.append(
            f"{flows[0].source if flows else 'data/flows'}: every flow has `when:` rules; "
            "exactly one flow must have none (it is used on pages no rule matches)"
        )
    for extra in fallbacks[1:]:
        messages.append(
            f"{extra.source}: flows {fallbacks[0].name!r} and {extra.name!r} both have no "
            "`when:` rules; exactly one flow may be the fallback: add `when:` to one of them"
        )
    return messages


def _read_checked(path: Path, problems: _Problems, context: FlowContext) -> Flow | None:
    """:func:`_read_flow`, with any unforeseen shape reported as a problem of the file."""
    try:
        return _read_flow(path, problems, context)
    except Exception as exc:  # a marketer's file must never crash the bot
        problems.add(
            1, f"cannot use this file ({type(exc).__name__}: {exc}); check it against default.yml"
        )
        return None


def _read_flow(path: Path, problems: _Problems, context: FlowContext) -> Flow | None:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        problems.add(1, f"cannot read flows file ({exc}); save it as UTF-8 text")
        return None
    except OSError as exc:
        problems.add(None, f"cannot read flows file ({exc})")
        return None
    try:
        data = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        problems.add(line, f"not valid YAML ({problem}); check indentation and quotes")
        return None
    if not isinstance(data, dict) or not isinstance(data.get("questions"), list):
        problems.add(
            _line(data, "questions") if isinstance(data, dict) else 1,
            "expected a mapping with a `questions:` list",
        )
        return None
    for unknown in sorted(set(data) - set(FILE_FIELDS), key=str):
        problems.add(
            _line(data, unknown),
            f"unknown field `{unknown}`; expected one of {', '.join(FILE_FIELDS)}",
        )
    raw_questions = data["questions"]
    if not raw_questions:
        problems.add(_line(data, "questions"), "`questions:` is empty; add at least one question")
        return None
    questions: list[Question] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_questions):
        question = _question(raw, _line(raw_questions, index), problems, seen, context)
        if question is not None:
            questions.append(question)
    keys = {question.key: question for question in questions}
    for question in questions:
        _check_conditions(question, keys, seen, problems, context)
    _check_cycles(questions, problems)
    when = _conditions(data.get("when"), _line(data, "when"), "when", problems)
    for condition in when:
        if condition.subject not in PAGE_FACTS:
            problems.add(
                condition.line,
                f"`when: {condition.subject}` is not a page fact; expected one of "
                f"{', '.join(PAGE_FACTS)}",
            )
        else:
            _check_fact_condition(condition, problems, context)
    name = data.get("flow", path.stem)
    if not isinstance(name, str) or not name.strip():
        problems.add(_line(data, "flow"), "`flow:` must be a name, e.g. `flow: default`")
        name = path.stem
    return Flow(
        name=name.strip(),
        questions=tuple(questions),
        faq=_faq(data.get("faq"), data, problems),
        source=path,
        when=tuple(when),
    )


def _faq(raw: Any, data: Any, problems: _Problems) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.add(
            _line(data, "faq"), f"`faq` must map topics ({', '.join(FAQ_TOPICS)}) to texts"
        )
        return {}
    texts = {}
    for topic, text in raw.items():
        if topic not in FAQ_TOPICS:
            problems.add(
                _line(raw, topic),
                f"`faq: {topic}` is not a topic; expected one of {', '.join(FAQ_TOPICS)}",
            )
        elif not isinstance(text, str) or not text.strip():
            problems.add(_line(raw, topic), f"`faq: {topic}` needs a text")
        else:
            texts[str(topic)] = text.strip()
    return texts


def _text_list(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, str) and value.strip():
        return (value.strip(),)
    if isinstance(value, list) and value and all(isinstance(v, str) and v.strip() for v in value):
        return tuple(v.strip() for v in value)
    return None


def _check_placeholders(texts: Iterable[str], line: int | None, problems: _Problems) -> None:
    for text in texts:
        for name in _PLACEHOLDER.findall(text):
            if name not in PLACEHOLDERS:
                problems.add(
                    line,
                    f"`{{{name}}}` in {text!r} is not a placeholder; the only one is `{{product}}` "
                    "(the product of the page)",
                )


def _question(
    raw: Any, line: int | None, problems: _Problems, seen: set[str], context: FlowContext
) -> Question | None:
    if not isinstance(raw, dict):
        problems.add(line, "each question must be a mapping with key, answer_type, prompt")
        return None
    key = raw.get("key")
    if not isinstance(key, str) or not key.isidentifier():
        problems.add(_line(raw, "key"), f"`key` must be a name like `timeline`, got {key!r}")
        return None
    start = len(problems.messages)
    if key in seen:
        problems.add(_line(raw, "key"), f"`key: {key}` is used twice; keys must be unique")
    seen.add(key)
    for unknown in sorted(set(raw) - set(QUESTION_FIELDS), key=str):
        problems.add(
            _line(raw, unknown),
            f"unknown field `{unknown}` in `{key}`; expected one of {', '.join(QUESTION_FIELDS)}",
        )
    answer_type = raw.get("answer_type")
    if answer_type not in ANSWER_TYPES:
        problems.add(
            _line(raw, "answer_type"),
            f"`answer_type: {answer_type}` — expected one of {', '.join(ANSWER_TYPES)}",
        )
        return None
    _check_key(raw, key, answer_type, problems, context)
    after_consent = _flag(raw, "after_consent", False, problems)
    if answer_type in CONTACT_TYPES and not after_consent:
        problems.add(
            _line(raw, "key"),
            f"`{key}` asks for contact details (`answer_type: {answer_type}`); add "
            "`after_consent: true` so it is only asked once the shopper agreed",
        )
    ab_test = _ab_test(raw, key, problems)
    prompts = _text_list(raw.get("prompt"))
    if prompts is None:
        if ab_test is not None and "prompt" not in raw:
            prompts = ab_test.arms[0].prompts
        else:
            problems.add(
                _line(raw, "prompt"), f"`prompt` must be a text or a list of texts for `{key}`"
            )
            prompts = ("",)
    product_prompt = raw.get("product_prompt")
    if product_prompt is not None and (not isinstance(product_prompt, str) or not product_prompt):
        problems.add(_line(raw, "product_prompt"), f"`product_prompt` of `{key}` must be a text")
        product_prompt = None
    _check_placeholders(
        [*prompts, *([product_prompt] if product_prompt else [])], _line(raw, "prompt"), problems
    )
    buttons: tuple[str, ...] = ()
    if raw.get("buttons") not in (None, []):
        parsed_buttons = _text_list(raw["buttons"])
        if parsed_buttons is None or not isinstance(raw["buttons"], list):
            problems.add(
                _line(raw, "buttons"),
                f"`buttons` of `{key}` must be a list of texts; quote words YAML "
                'reads as something else, e.g. ["Yes", "No"]',
            )
        else:
            buttons = parsed_buttons
    choices = _choices(raw, key, answer_type, problems)
    texts = {}
    for name in ("why", "reask"):
        if not isinstance(raw.get(name), str) or not raw[name].strip():
            problems.add(_line(raw, name) or _line(raw), f"`{name}` text is missing for `{key}`")
        else:
            texts[name] = raw[name].strip()
    ask_if = _conditions(raw.get("ask_if"), _line(raw, "ask_if"), "ask_if", problems)
    fit_points = _point_rules(raw, key, answer_type, problems)
    required = _flag(raw, "required", True, problems)
    skip_if_known = _flag(raw, "skip_if_known", True, problems)
    if len(problems.messages) > start:
        return None
    return Question(
        key=key,
        answer_type=answer_type,
        prompts=prompts,
        why=texts["why"],
        reask=texts["reask"],
        buttons=buttons,
        after_consent=after_consent,
        required=required,
        skip_if_known=skip_if_known,
        choices=choices,
        ask_if=tuple(ask_if),
        fit_points=tuple(fit_points),
        ab_test=ab_test,
        product_prompt=product_prompt,
        line=_line(raw, "key"),
        money=context.money,
    )


def _check_key(
    raw: Any, key: str, answer_type: str, problems: _Problems, context: FlowContext
) -> None:
    expected = CORE_KEYS.get(key)
    if expected is not None and answer_type != expected:
        problems.add(
            _line(raw, "answer_type"),
            f"`{key}` is a core answer read as `{expected}`; `answer_type: {answer_type}` needs "
            f"another key (e.g. `{key}_{answer_type}`)",
        )
    reserved = set(RESERVED_SLOTS) | {GENERIC_SLOT}
    if context.domain_slots is not None:
        # Domain slots that are not answers (the bot's own state) are reserved too.
        reserved |= {
            slot for slot in context.domain_slots if slot not in CORE_KEYS and slot != GENERIC_SLOT
        }
    if key in reserved:
        problems.add(
            _line(raw, "key"),
            f"`key: {key}` is a slot the bot uses for itself; choose another key "
            "(a new key needs no domain.yml change: its answers are kept generically)",
        )


def _flag(raw: Any, name: str, default: bool, problems: _Problems) -> bool:
    value = raw.get(name, default)
    if not isinstance(value, bool):
        problems.add(_line(raw, name), f"`{name}: {value}` — expected true or false")
        return default
    return value


def _choices(raw: Any, key: str, answer_type: str, problems: _Problems) -> tuple[Choice, ...]:
    value = raw.get("choices")
    if answer_type != "choice":
        if value is not None:
            problems.add(
                _line(raw, "choices"),
                f"`choices` only apply to `answer_type: choice`; use `buttons` for quick "
                f"replies of a `{answer_type}` question",
            )
        return ()
    if not isinstance(value, list) or not value:
        problems.add(
            _line(raw, "choices") or _line(raw),
            f"`{key}` is a choice question: list its `choices` "
            "(texts, or id/label/synonyms/points)",
        )
        return ()
    choices: list[Choice] = []
    for index, item in enumerate(value):
        line = _line(value, index)
        if isinstance(item, str) and item.strip():
            label = item.strip()
            if not _slug(label):
                problems.add(
                    line,
                    f"choice {label!r} of `{key}` needs an id: write it as "
                    f"{{id: a_name, label: {label}}}",
                )
                continue
            choices.append(Choice(id=_slug(label), label=label))
            continue
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("label"), str)
            or not item["label"].strip()
        ):
            problems.add(
                line,
                f"a choice of `{key}` must be a text or a mapping with `label` (and optional "
                'id, synonyms, points, reason); quote words YAML reads as something else ("Yes")',
            )
            continue
        unknown = set(item) - {"id", "label", "synonyms", "points", "reason"}
        if unknown:
            problems.add(
                line,
                f"unknown field(s) {', '.join(sorted(map(str, unknown)))} in a choice of "
                f"`{key}`; expected id, label, synonyms, points, reason",
            )
            continue
        label = item["label"].strip()
        choice_id = item.get("id", _slug(label))
        if not choice_id:
            problems.add(line, f"choice {label!r} of `{key}` needs an `id` (e.g. id: option_1)")
            continue
        if not isinstance(choice_id, str) or not _CHOICE_ID.match(choice_id):
            problems.add(
                line,
                f"choice id {choice_id!r} of `{key}`: expected lower-case letters, digits, - or _",
            )
            continue
        synonyms = item.get("synonyms", [])
        if not isinstance(synonyms, list) or not all(isinstance(s, str) for s in synonyms):
            problems.add(line, f"`synonyms` of choice `{choice_id}` must be a list of texts")
            continue
        points = item.get("points")
        if points is not None and not _valid_points(points):
            problems.add(
                line,
                f"`points: {points}` of choice `{choice_id}` — expected a whole number "
                f"from {-MAX_POINTS} to {MAX_POINTS}",
            )
            continue
        reason = item.get("reason")
        if reason is not None and (not isinstance(reason, str) or not reason.strip()):
            problems.add(line, f"`reason` of choice `{choice_id}` must be a text")
            continue
        choices.append(
            Choice(
                id=choice_id,
                label=label,
                synonyms=tuple(s.strip() for s in synonyms if s.strip()),
                points=points,
                reason=reason if isinstance(reason, str) and reason.strip() else None,
            )
        )
    ids = [choice.id for choice in choices]
    for duplicate in sorted({choice_id for choice_id in ids if ids.count(choice_id) > 1}):
        problems.add(
            _line(raw, "choices"),
            f"choice id `{duplicate}` of `{key}` is used twice; ids must be unique",
        )
    return tuple(choices)


def _slug(label: str) -> str:
    """An id from a label ("Café au lait" → ``cafe_au_lait``); empty for non-Latin labels."""
    return re.sub(r"[^a-z0-9]+", "_", fold(label)).strip("_")[:64]


def _valid_points(points: Any) -> bool:
    return isinstance(points, int) and not isinstance(points, bool) and abs(points) <= MAX_POINTS


def _ab_test(raw: Any, key: str, problems: _Problems) -> AbTest | None:
    value = raw.get("ab_test")
    if value is None:
        return None
    line = _line(raw, "ab_test")
    if not isinstance(value, dict) or not isinstance(value.get("arms"), list) or not value["arms"]:
        problems.add(line, f"`ab_test` of `{key}` needs `arms:`, a list of arm, split, prompt")
        return None
    unknown = set(value) - {"name", "arms"}
    if unknown:
        problems.add(
            line,
            f"unknown field(s) {', '.join(sorted(map(str, unknown)))} in `ab_test`; "
            "expected name, arms",
        )
    name = value.get("name", key)
    if not isinstance(name, str) or not name.strip():
        problems.add(_line(value, "name"), "`ab_test: name` must be a text")
        name = key
    arms: list[Arm] = []
    for index, item in enumerate(value["arms"]):
        arm_line = _line(value["arms"], index)
        if not isinstance(item, dict):
            problems.add(arm_line, "each arm needs `arm` (its name), `split` and `prompt`")
            continue
        unknown = set(item) - {"arm", "split", "prompt", "buttons"}
        if unknown:
            problems.add(
                arm_line,
                f"unknown field(s) {', '.join(sorted(map(str, unknown)))} in an arm; "
                "expected arm, split, prompt, buttons",
            )
        arm_name, split = item.get("arm"), item.get("split")
        prompts = _text_list(item.get("prompt"))
        if not isinstance(arm_name, str) or not arm_name.strip():
            problems.add(arm_line, "each arm needs `arm:` with its name, e.g. `arm: short`")
            continue
        if isinstance(split, bool) or not isinstance(split, int) or not 0 <= split <= 100:
            problems.add(
                _line(item, "split"), f"`split: {split}` of arm `{arm_name}` — expected 0 to 100"
            )
            continue
        if prompts is None:
            problems.add(arm_line, f"arm `{arm_name}` needs a `prompt` (a text or a list of texts)")
            continue
        buttons = None
        if "buttons" in item and raw.get("answer_type") == "choice":
            problems.add(
                _line(item, "buttons"),
                f"arm `{arm_name}`: a choice question shows its `choices` as buttons; "
                "remove `buttons` from the arm",
            )
            continue
        if "buttons" in item:
            buttons = _text_list(item["buttons"])
            if buttons is None or not isinstance(item["buttons"], list):
                problems.add(
                    _line(item, "buttons"), f"`buttons` of arm `{arm_name}` must be a list of texts"
                )
                continue
        arms.append(Arm(name=arm_name.strip(), split=split, prompts=prompts, buttons=buttons))
    if len(arms) != len(value["arms"]):
        return None
    total = sum(arm.split for arm in arms)
    if total != 100:
        splits = " + ".join(str(arm.split) for arm in arms)
        problems.add(
            _line(value, "arms"),
            f"the splits of `ab_test` on `{key}` add up to {total} ({splits}); "
            "they must add up to 100",
        )
    names = [arm.name for arm in arms]
    if len(set(names)) != len(names):
        problems.add(_line(value, "arms"), f"arm names of `{key}` must be unique, got {names}")
    _check_placeholders([text for arm in arms for text in arm.prompts], line, problems)
    return AbTest(name=name.strip(), arms=tuple(arms))


def _operator_value(
    raw: Any, line: int | None, label: str, problems: _Problems
) -> list[tuple[str, Any]] | None:
    """``{lt: 90}`` → [("lt", 90)]; a plain value → equals; a list → in."""
    if isinstance(raw, dict):
        pairs = []
        for operator, value in raw.items():
            if operator not in OPERATORS:
                problems.add(
                    _line(raw, operator) or line,
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
                problems.add(
                    _line(raw, operator) or line,
                    f"`{label}: {{{operator}: {value}}}` — `{operator}` compares with a number",
                )
                return None
            pairs.append((str(operator), value))
        if not pairs:
            problems.add(line, f"`{label}` is empty; write a value, a list or e.g. {{lt: 90}}")
            return None
        return pairs
    if isinstance(raw, list):
        return [("in", list(raw))]
    if raw is None:
        problems.add(line, f"`{label}` has no value; write a value, a list or e.g. {{lt: 90}}")
        return None
    return [("equals", raw)]


def _conditions(
    raw: Any, line: int | None, field_name: str, problems: _Problems
) -> list[Condition]:
    if raw is None:
        return []
    if not isinstance(raw, dict) or not raw:
        problems.add(
            line,
            f"`{field_name}` must map subjects to values, "
            f"e.g. `{field_name}: {{timeline: {{lt: 90}}}}`",
        )
        return []
    conditions = []
    for subject, spec in raw.items():
        pairs = _operator_value(spec, _line(raw, subject), f"{field_name}: {subject}", problems)
        for operator, value in pairs or []:
            conditions.append(Condition(str(subject), operator, value, _line(raw, subject)))
    return conditions


def _point_rules(raw: Any, key: str, answer_type: str, problems: _Problems) -> list[PointRule]:
    value = raw.get("fit_points")
    if value is None:
        return []
    line = _line(raw, "fit_points")
    if not isinstance(value, list) or not value:
        problems.add(
            line, "`fit_points` must be a list of rules like `- {when: {lt: 30}, points: 10}`"
        )
        return []
    rules = []
    for index, item in enumerate(value):
        item_line = _line(value, index)
        if not isinstance(item, dict) or "points" not in item or "when" not in item:
            problems.add(
                item_line,
                f"a `fit_points` rule of `{key}` needs `when` and `points`, e.g. "
                "`- {when: {lt: 30}, points: 10, reason: Buying within a month}`",
            )
            continue
        unknown = set(item) - {"when", "points", "reason"}
        if unknown:
            problems.add(
                item_line,
                f"unknown field(s) {', '.join(sorted(map(str, unknown)))} in a `fit_points` rule; "
                "expected when, points, reason",
            )
            continue
        points = item["points"]
        if not _valid_points(points):
            problems.add(
                _line(item, "points"),
                f"`points: {points}` — expected a whole number from {-MAX_POINTS} to {MAX_POINTS}",
            )
            continue
        reason = item.get("reason")
        if reason is not None and (not isinstance(reason, str) or not reason.strip()):
            problems.add(_line(item, "reason"), f"`reason: {reason}` must be a text")
            continue
        pairs = _operator_value(item["when"], _line(item, "when"), f"fit_points of {key}", problems)
        if pairs is None:
            continue
        conditions = tuple(Condition(key, op, v, _line(item, "when")) for op, v in pairs)
        rules.append(PointRule(conditions, points, reason.strip() if reason else None))
    return rules


def _subject_kind(subject: str, keys: dict[str, Question]) -> str | None:
    """Numeric / boolean / text, for an answer key or a page fact."""
    question = keys.get(subject)
    if question is not None:
        if question.answer_type in NUMERIC_ANSWERS:
            return "numeric"
        if question.answer_type in BOOLEAN_ANSWERS:
            return "boolean"
        return "text"
    if subject in NUMERIC_FACTS:
        return "numeric"
    if subject in BOOLEAN_FACTS:
        return "boolean"
    return "text" if subject in PAGE_FACTS else None


def _check_conditions(
    question: Question,
    keys: dict[str, Question],
    all_keys: set[str],
    problems: _Problems,
    context: FlowContext,
) -> None:
    for condition in question.ask_if:
        kind = _subject_kind(condition.subject, keys)
        if kind is None and condition.subject in all_keys:
            continue  # a question with its own errors, already reported
        if kind is None:
            known = ", ".join([*keys, *PAGE_FACTS])
            problems.add(
                condition.line,
                f"`ask_if: {condition.subject}` is neither a question of this flow nor a page "
                f"fact; expected one of {known}",
            )
            continue
        if condition.subject == question.key:
            problems.add(condition.line, f"`{question.key}` cannot depend on its own answer")
            continue
        _check_value(condition, kind, keys.get(condition.subject), problems, context)
    for rule in question.fit_points:
        for condition in rule.conditions:
            _check_value(
                condition, _subject_kind(question.key, keys) or "text", question, problems, context
            )


def _check_fact_condition(condition: Condition, problems: _Problems, context: FlowContext) -> None:
    _check_value(condition, _subject_kind(condition.subject, {}) or "text", None, problems, context)


def _check_value(
    condition: Condition,
    kind: str,
    question: Question | None,
    problems: _Problems,
    context: FlowContext,
) -> None:
    subject = condition.subject
    values = condition.value if isinstance(condition.value, list) else [condition.value]
    if kind != "numeric" and condition.operator in NUMERIC_OPERATORS:
        problems.add(
            condition.line,
            f"`{subject}: {{{condition.operator}: …}}` compares numbers, but `{subject}` is not a "
            "number; use a value, a list or `not`/`not_in`",
        )
        return
    if kind == "boolean" and not all(isinstance(value, bool) for value in values):
        problems.add(condition.line, f"`{subject}` is true or false, got {condition.value!r}")
        return
    if kind == "numeric" and condition.operator not in NUMERIC_OPERATORS:
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            problems.add(condition.line, f"`{subject}` is a number, got {condition.value!r}")
        return
    if not all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in values):
        problems.add(
            condition.line,
            f"`{subject}` is compared with a text or a list of texts, got {condition.value!r}",
        )
        return
    if question is not None and question.answer_type == "choice":
        ids = [choice.id for choice in question.choices]
        for value in values:
            if value not in ids:
                problems.add(
                    condition.line,
                    f"`{value}` is not a choice of `{question.key}`; "
                    f"expected one of {', '.join(ids)}",
                )
        return
    if question is not None and question.answer_type == "location":
        for value in values:
            if not isinstance(value, str) or not re.fullmatch(r"[A-Z]{2}", value):
                problems.add(
                    condition.line,
                    f"`{value}`: a location is compared by country code (ISO 3166, e.g. FR, DE)",
                )
        return
    if subject == "page_type":
        for value in values:
            if value not in PAGE_TYPES:
                problems.add(
                    condition.line,
                    f"`page_type: {value}` — expected one of {', '.join(PAGE_TYPES)}",
                )
        return
    catalog = context.catalog
    if catalog is None:
        return
    if subject == "product_id" or (question is not None and question.answer_type == "variant"):
        variant_answer = question is not None
        for value in values:
            found = catalog.variant(value) if variant_answer else catalog.product(value)
            if not found:
                what = "variant" if variant_answer else "product"
                problems.add(
                    condition.line,
                    f"`{value}` is not a {what} id of the catalogue (catalog check lists them)",
                )
    elif subject == "variant_id":
        for value in values:
            if not catalog.variant(value):
                problems.add(condition.line, f"`{value}` is not a variant id of the catalogue")
    elif subject == "product.category":
        categories = sorted({product.category for product in catalog.products})
        for value in values:
            if value not in categories:
                problems.add(
                    condition.line,
                    f"`product.category: {value}` — expected one of {', '.join(categories)}",
                )


def _check_cycles(questions: list[Question], problems: _Problems) -> None:
    keys = {question.key: question for question in questions}
    for question in questions:
        path = [question.key]
        frontier = [c.subject for c in question.ask_if if c.subject in keys]
        seen: set[str] = set()
        while frontier:
            subject = frontier.pop()
            if subject == question.key:
                problems.add(
                    question.line,
                    f"`{question.key}` waits for an answer that waits for `{question.key}` "
                    f"({' → '.join([*path, subject])}); remove one of the `ask_if` conditions",
                )
                break
            if subject in seen:
                continue
            seen.add(subject)
            path.append(subject)
            frontier += [c.subject for c in keys[subject].ask_if if c.subject in keys]
