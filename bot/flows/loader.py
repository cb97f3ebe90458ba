"""Reading ``data/flows/*.yml`` into flows, with errors that say where and how to fix.

Every problem of a file is reported at once, each as ``FILE, line N: what is
wrong — what is expected``, so a marketer can fix a whole edit in one pass. The
file is read by :mod:`bot.yamlconf` (lines come from its node tree), the
fields are those of :mod:`bot.flows.schema`, and the conditions are
cross-checked by :mod:`bot.flows.checks`: those need the domain's slots and the
catalogue, which ``flows check``, the action server and the tests pass in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.answers.text import fold
from bot.catalog import Catalog
from bot.flows.checks import check_conditions, check_cycles, check_page_condition, check_set
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
from bot.flows.rules import Money
from bot.flows.schema import (
    FILE_FIELDS,
    MAX_POINTS,
    QUESTION_FIELDS,
    ArmIn,
    Problems,
    check_placeholders,
    conditions,
    parse_record,
    point_rules,
    text_list,
    unknown_fields,
    valid_points,
)
from bot.settings import PROJECT_ROOT
from bot.yamlconf import Location, UniqueKeyLoader, parse_document, yaml_problem

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
_CHOICE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class _FlowYaml(UniqueKeyLoader):
    """YAML as marketers' editors write it, with its mistakes worded for them.

    Flows keep YAML 1.1 scalars: ``[Yes, No]`` reads as two booleans, and the
    checks then ask to quote such words.
    """

    duplicate_key = "`{key}` is written twice in the same block (first on line {line}); keep one"
    unhashable_key = "a key must be a plain word"


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
    problems = Problems(path)
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
        problems = Problems(path)
        flow = _read_checked(path, problems, context)
        messages += problems.messages
        if flow is not None and not problems.messages:
            flows.append(flow)
    if not messages:
        messages += check_set(flows)
    if messages:
        raise FlowError("\n".join(messages))
    return FlowSet(tuple(flows))


def _read_checked(path: Path, problems: Problems, context: FlowContext) -> Flow | None:
    """:func:`_read_flow`, with any unforeseen shape reported as a problem of the file."""
    try:
        return _read_flow(path, problems, context)
    except Exception as exc:  # a marketer's file must never crash the bot
        problems.on_line(
            1, f"cannot use this file ({type(exc).__name__}: {exc}); check it against default.yml"
        )
        return None


def _read_flow(path: Path, problems: Problems, context: FlowContext) -> Flow | None:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        problems.on_line(1, f"cannot read flows file ({exc}); save it as UTF-8 text")
        return None
    except OSError as exc:
        problems.on_line(None, f"cannot read flows file ({exc})")
        return None
    try:
        data, problems.root = parse_document(text, _FlowYaml)
    except yaml.YAMLError as exc:
        line, problem = yaml_problem(exc)
        problems.on_line(line, f"not valid YAML ({problem}); check indentation and quotes")
        return None
    if not isinstance(data, dict) or not isinstance(data.get("questions"), list):
        problems.on_line(
            problems.line(("questions",)) if isinstance(data, dict) else 1,
            "expected a mapping with a `questions:` list",
        )
        return None
    for unknown in sorted(set(data) - set(FILE_FIELDS), key=str):
        problems.at(
            (unknown,), f"unknown field `{unknown}`; expected one of {', '.join(FILE_FIELDS)}"
        )
    raw_questions = data["questions"]
    if not raw_questions:
        problems.at(("questions",), "`questions:` is empty; add at least one question")
        return None
    questions: list[Question] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_questions):
        question = _question(raw, ("questions", index), problems, seen, context)
        if question is not None:
            questions.append(question)
    keys = {question.key: question for question in questions}
    for question in questions:
        check_conditions(question, keys, seen, problems, context)
    check_cycles(questions, problems)
    when = conditions(data.get("when"), ("when",), problems)
    for condition in when:
        check_page_condition(condition, problems, context)
    name = data.get("flow", path.stem)
    if not isinstance(name, str) or not name.strip():
        problems.at(("flow",), "`flow:` must be a name, e.g. `flow: default`")
        name = path.stem
    return Flow(
        name=name.strip(),
        questions=tuple(questions),
        faq=_faq(data.get("faq"), problems),
        source=path,
        when=tuple(when),
    )


def _faq(raw: Any, problems: Problems) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.at(("faq",), f"`faq` must map topics ({', '.join(FAQ_TOPICS)}) to texts")
        return {}
    texts = {}
    for topic, text in raw.items():
        if topic not in FAQ_TOPICS:
            problems.at(
                ("faq", topic),
                f"`faq: {topic}` is not a topic; expected one of {', '.join(FAQ_TOPICS)}",
            )
        elif not isinstance(text, str) or not text.strip():
            problems.at(("faq", topic), f"`faq: {topic}` needs a text")
        else:
            texts[str(topic)] = text.strip()
    return texts


def _question(
    raw: Any, location: Location, problems: Problems, seen: set[str], context: FlowContext
) -> Question | None:
    if not isinstance(raw, dict):
        problems.at(location, "each question must be a mapping with key, answer_type, prompt")
        return None
    key = raw.get("key")
    if not isinstance(key, str) or not key.isidentifier():
        problems.at((*location, "key"), f"`key` must be a name like `timeline`, got {key!r}")
        return None
    start = len(problems.messages)
    if key in seen:
        problems.at((*location, "key"), f"`key: {key}` is used twice; keys must be unique")
    seen.add(key)
    for unknown in sorted(set(raw) - set(QUESTION_FIELDS), key=str):
        problems.at(
            (*location, unknown),
            f"unknown field `{unknown}` in `{key}`; expected one of {', '.join(QUESTION_FIELDS)}",
        )
    answer_type = raw.get("answer_type")
    if answer_type not in ANSWER_TYPES:
        problems.at(
            (*location, "answer_type"),
            f"`answer_type: {answer_type}` — expected one of {', '.join(ANSWER_TYPES)}",
        )
        return None
    _check_key(key, answer_type, location, problems, context)
    after_consent = _flag(raw, "after_consent", False, location, problems)
    if answer_type in CONTACT_TYPES and not after_consent:
        problems.at(
            (*location, "key"),
            f"`{key}` asks for contact details (`answer_type: {answer_type}`); add "
            "`after_consent: true` so it is only asked once the shopper agreed",
        )
    ab_test = _ab_test(raw, key, answer_type, location, problems)
    prompts = text_list(raw.get("prompt"))
    if prompts is None:
        if ab_test is not None and "prompt" not in raw:
            prompts = ab_test.arms[0].prompts
        else:
            problems.at(
                (*location, "prompt"), f"`prompt` must be a text or a list of texts for `{key}`"
            )
            prompts = ("",)
    product_prompt = raw.get("product_prompt")
    if product_prompt is not None and (not isinstance(product_prompt, str) or not product_prompt):
        problems.at((*location, "product_prompt"), f"`product_prompt` of `{key}` must be a text")
        product_prompt = None
    check_placeholders(
        [*prompts, *([product_prompt] if product_prompt else [])],
        (*location, "prompt"),
        problems,
    )
    buttons: tuple[str, ...] = ()
    if raw.get("buttons") not in (None, []):
        parsed_buttons = text_list(raw["buttons"])
        if parsed_buttons is None or not isinstance(raw["buttons"], list):
            problems.at(
                (*location, "buttons"),
                f"`buttons` of `{key}` must be a list of texts; quote words YAML "
                'reads as something else, e.g. ["Yes", "No"]',
            )
        else:
            buttons = parsed_buttons
    choices = _choices(raw.get("choices"), key, answer_type, location, problems)
    texts = {}
    for name in ("why", "reask"):
        if not isinstance(raw.get(name), str) or not raw[name].strip():
            problems.at((*location, name), f"`{name}` text is missing for `{key}`")
        else:
            texts[name] = raw[name].strip()
    ask_if = conditions(raw.get("ask_if"), (*location, "ask_if"), problems)
    fit_points = point_rules(raw.get("fit_points"), key, (*location, "fit_points"), problems)
    required = _flag(raw, "required", True, location, problems)
    skip_if_known = _flag(raw, "skip_if_known", True, location, problems)
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
        line=problems.line((*location, "key")),
        money=context.money,
    )


def _check_key(
    key: str, answer_type: str, location: Location, problems: Problems, context: FlowContext
) -> None:
    expected = CORE_KEYS.get(key)
    if expected is not None and answer_type != expected:
        problems.at(
            (*location, "answer_type"),
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
        problems.at(
            (*location, "key"),
            f"`key: {key}` is a slot the bot uses for itself; choose another key "
            "(a new key needs no domain.yml change: its answers are kept generically)",
        )


def _flag(raw: Any, name: str, default: bool, location: Location, problems: Problems) -> bool:
    value = raw.get(name, default)
    if not isinstance(value, bool):
        problems.at((*location, name), f"`{name}: {value}` — expected true or false")
        return default
    return value


def _choices(
    value: Any, key: str, answer_type: str, location: Location, problems: Problems
) -> tuple[Choice, ...]:
    at = (*location, "choices")
    if answer_type != "choice":
        if value is not None:
            problems.at(
                at,
                f"`choices` only apply to `answer_type: choice`; use `buttons` for quick "
                f"replies of a `{answer_type}` question",
            )
        return ()
    if not isinstance(value, list) or not value:
        problems.at(
            at,
            f"`{key}` is a choice question: list its `choices` "
            "(texts, or id/label/synonyms/points)",
        )
        return ()
    choices: list[Choice] = []
    for index, item in enumerate(value):
        choice = _choice(item, key, (*at, index), problems)
        if choice is not None:
            choices.append(choice)
    ids = [choice.id for choice in choices]
    for duplicate in sorted({choice_id for choice_id in ids if ids.count(choice_id) > 1}):
        problems.at(at, f"choice id `{duplicate}` of `{key}` is used twice; ids must be unique")
    return tuple(choices)


def _choice(item: Any, key: str, location: Location, problems: Problems) -> Choice | None:
    """A text (its id made from it), or a mapping with a label; problems on the item's line."""
    if isinstance(item, str) and item.strip():
        label = item.strip()
        if not _slug(label):
            problems.at(
                location,
                f"choice {label!r} of `{key}` needs an id: write it as "
                f"{{id: a_name, label: {label}}}",
            )
            return None
        return Choice(id=_slug(label), label=label)
    if (
        not isinstance(item, dict)
        or not isinstance(item.get("label"), str)
        or not item["label"].strip()
    ):
        problems.at(
            location,
            f"a choice of `{key}` must be a text or a mapping with `label` (and optional "
            'id, synonyms, points, reason); quote words YAML reads as something else ("Yes")',
        )
        return None
    unknown = set(item) - {"id", "label", "synonyms", "points", "reason"}
    if unknown:
        problems.at(
            location,
            f"unknown field(s) {', '.join(sorted(map(str, unknown)))} in a choice of "
            f"`{key}`; expected id, label, synonyms, points, reason",
        )
        return None
    label = item["label"].strip()
    choice_id = item.get("id", _slug(label))
    if not choice_id:
        problems.at(location, f"choice {label!r} of `{key}` needs an `id` (e.g. id: option_1)")
        return None
    if not isinstance(choice_id, str) or not _CHOICE_ID.match(choice_id):
        problems.at(
            location,
            f"choice id {choice_id!r} of `{key}`: expected lower-case letters, digits, - or _",
        )
        return None
    synonyms = item.get("synonyms", [])
    if not isinstance(synonyms, list) or not all(isinstance(s, str) for s in synonyms):
        problems.at(location, f"`synonyms` of choice `{choice_id}` must be a list of texts")
        return None
    points = item.get("points")
    if points is not None and not valid_points(points):
        problems.at(
            location,
            f"`points: {points}` of choice `{choice_id}` — expected a whole number "
            f"from {-MAX_POINTS} to {MAX_POINTS}",
        )
        return None
    reason = item.get("reason")
    if reason is not None and (not isinstance(reason, str) or not reason.strip()):
        problems.at(location, f"`reason` of choice `{choice_id}` must be a text")
        return None
    return Choice(
        id=choice_id,
        label=label,
        synonyms=tuple(s.strip() for s in synonyms if s.strip()),
        points=points,
        reason=reason if isinstance(reason, str) and reason.strip() else None,
    )


def _slug(label: str) -> str:
    """An id from a label ("Café au lait" → ``cafe_au_lait``); empty for non-Latin labels."""
    return re.sub(r"[^a-z0-9]+", "_", fold(label)).strip("_")[:64]


def _ab_test(
    raw: Any, key: str, answer_type: str, location: Location, problems: Problems
) -> AbTest | None:
    value = raw.get("ab_test")
    if value is None:
        return None
    at = (*location, "ab_test")
    if not isinstance(value, dict) or not isinstance(value.get("arms"), list) or not value["arms"]:
        problems.at(at, f"`ab_test` of `{key}` needs `arms:`, a list of arm, split, prompt")
        return None
    unknown = set(value) - {"name", "arms"}
    if unknown:
        problems.at(
            at,
            f"unknown field(s) {', '.join(sorted(map(str, unknown)))} in `ab_test`; "
            "expected name, arms",
        )
    name = value.get("name", key)
    if not isinstance(name, str) or not name.strip():
        problems.at((*at, "name"), "`ab_test: name` must be a text")
        name = key
    arms: list[Arm] = []
    for index, item in enumerate(value["arms"]):
        arm = _arm(item, answer_type, (*at, "arms", index), problems)
        if arm is not None:
            arms.append(arm)
    if len(arms) != len(value["arms"]):
        return None
    total = sum(arm.split for arm in arms)
    if total != 100:
        splits = " + ".join(str(arm.split) for arm in arms)
        problems.at(
            (*at, "arms"),
            f"the splits of `ab_test` on `{key}` add up to {total} ({splits}); "
            "they must add up to 100",
        )
    names = [arm.name for arm in arms]
    if len(set(names)) != len(names):
        problems.at((*at, "arms"), f"arm names of `{key}` must be unique, got {names}")
    check_placeholders([text for arm in arms for text in arm.prompts], at, problems)
    return AbTest(name=name.strip(), arms=tuple(arms))


def _arm(item: Any, answer_type: str, location: Location, problems: Problems) -> Arm | None:
    if not isinstance(item, dict):
        problems.at(location, "each arm needs `arm` (its name), `split` and `prompt`")
        return None
    unknown = unknown_fields(item, ArmIn)
    if unknown:
        problems.at(
            location,
            f"unknown field(s) {unknown} in an arm; expected {', '.join(ArmIn.__fields__)}",
        )
    arm = parse_record(ArmIn, item, location, problems)
    if arm is None:
        return None
    buttons = None
    if "buttons" in item and answer_type == "choice":
        problems.at(
            (*location, "buttons"),
            f"arm `{arm.arm}`: a choice question shows its `choices` as buttons; "
            "remove `buttons` from the arm",
        )
        return None
    if "buttons" in item:
        buttons = text_list(item["buttons"])
        if buttons is None or not isinstance(item["buttons"], list):
            problems.at(
                (*location, "buttons"), f"`buttons` of arm `{arm.arm}` must be a list of texts"
            )
            return None
    return Arm(name=arm.arm.strip(), split=arm.split, prompts=arm.prompt, buttons=buttons)
