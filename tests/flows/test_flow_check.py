"""``flows check``: every kind of mistake is reported with its file, line and the fix."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bot.catalog import DEMO_CATALOG, load_catalog
from bot.flows import FlowContext, FlowError, load_flow, load_flows
from bot.flows.loader import domain_slots
from bot.settings import PROJECT_ROOT

CONTEXT = FlowContext(
    domain_slots=domain_slots(PROJECT_ROOT / "domain.yml"), catalog=load_catalog(DEMO_CATALOG)
)
QUESTION = """\
  - key: timeline
    answer_type: timeline
    prompt: When?
    why: Because.
    reask: Say "next week".
"""
CHOICE = """\
  - key: purpose
    answer_type: choice
    prompt: Who is it for?
    choices:
      - {id: gift, label: A gift, points: 5}
      - {id: self, label: For me}
    why: So we can suggest gift wrapping.
    reask: Pick one of the buttons.
"""


def _errors(tmp_path: Path, text: str) -> str:
    path = tmp_path / "flow.yml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    with pytest.raises(FlowError) as error:
        load_flow(path, CONTEXT)
    message = str(error.value)
    assert str(path) in message
    return message


# (flows file, the line the error names, what the message says)
ERROR_CASES = {
    "empty questions": ("questions: []\n", 1, "`questions:` is empty"),
    "no questions list": ("flow: x\n", None, "expected a mapping with a `questions:` list"),
    "broken YAML": ("questions: [\n", 2, "not valid YAML"),
    "unknown file field": (
        "flow: x\ncolour: red\nquestions:\n" + QUESTION,
        2,
        "unknown field `colour`; expected one of flow, when, questions, faq",
    ),
    "misspelt answer type": (
        "questions:\n  - key: timeline\n    answer_type: budgit\n",
        3,
        "`answer_type: budgit` — expected one of timeline, budget, location",
    ),
    "duplicate key": ("questions:\n" + QUESTION + QUESTION, 7, "`key: timeline` is used twice"),
    "unknown question field": (
        "questions:\n" + QUESTION + "    colour: red\n",
        7,
        "unknown field `colour` in `timeline`; expected one of key, answer_type",
    ),
    "buttons YAML reads as booleans": (
        "questions:\n" + QUESTION + "    buttons: [Yes, No]\n",
        7,
        "`buttons` of `timeline` must be a list of texts; quote words YAML reads as something "
        'else, e.g. ["Yes", "No"]',
    ),
    "bad key": ("questions:\n  - key: 1bad\n", 2, "`key` must be a name like `timeline`"),
    "missing why": (
        "questions:\n" + QUESTION.replace("    why: Because.\n", ""),
        2,
        "`why` text is missing for `timeline`",
    ),
    "faq topic": (
        "questions:\n" + QUESTION + "faq:\n  weather: sunny\n",
        8,
        "`faq: weather` is not a topic; expected one of shipping",
    ),
    "core key with another type": (
        "questions:\n" + QUESTION.replace("answer_type: timeline", "answer_type: budget"),
        3,
        "`timeline` is a core answer read as `timeline`; `answer_type: budget` needs another key",
    ),
    "reserved slot": (
        "questions:\n" + QUESTION.replace("key: timeline", "key: question_state"),
        2,
        "`key: question_state` is a slot the bot uses for itself; choose another key",
    ),
    "contact details without consent": (
        "questions:\n"
        + QUESTION.replace("key: timeline", "key: work_email").replace(
            "answer_type: timeline", "answer_type: email"
        ),
        2,
        "`work_email` asks for contact details (`answer_type: email`); add "
        "`after_consent: true` so it is only asked once the shopper agreed",
    ),
    "choice question without choices": (
        "questions:\n" + CHOICE.replace("    choices:\n", "    choice:\n"),
        5,
        "unknown field `choice` in `purpose`",
    ),
    "choices on a non-choice question": (
        "questions:\n" + QUESTION + "    choices: [a, b]\n",
        7,
        "`choices` only apply to `answer_type: choice`; use `buttons`",
    ),
    "duplicate choice id": (
        "questions:\n" + CHOICE.replace("id: self", "id: gift"),
        5,
        "choice id `gift` of `purpose` is used twice",
    ),
    "condition on an unknown key": (
        "questions:\n" + QUESTION + "    ask_if:\n      budjet: {gt: 100}\n",
        8,
        "`ask_if: budjet` is neither a question of this flow nor a page fact; expected one of "
        "timeline, page_type",
    ),
    "unknown operator": (
        "questions:\n" + QUESTION + CHOICE + "    ask_if:\n      timeline: {below: 90}\n",
        16,
        "`ask_if: timeline: below` is not an operator; expected one of equals, not, in",
    ),
    "number operator on a choice": (
        "questions:\n" + CHOICE + QUESTION + "    ask_if:\n      purpose: {lt: 3}\n",
        16,
        "`purpose: {lt: …}` compares numbers, but `purpose` is not a number",
    ),
    "condition names a missing choice": (
        "questions:\n" + CHOICE + QUESTION + "    ask_if:\n      purpose: [gift, birthday]\n",
        16,
        "`birthday` is not a choice of `purpose`; expected one of gift, self",
    ),
    "condition names a missing product": (
        "questions:\n" + QUESTION + "    ask_if:\n      product_id: hoodie-clasic\n",
        8,
        "`hoodie-clasic` is not a product id of the catalogue",
    ),
    "unknown page type": (
        "when:\n  page_type: produkt\nquestions:\n" + QUESTION,
        2,
        "`page_type: produkt` — expected one of home, product, category, cart, checkout, other",
    ),
    "unknown category": (
        "when:\n  product.category: shoes\nquestions:\n" + QUESTION,
        2,
        "`product.category: shoes` — expected one of",
    ),
    "flow rule on an answer": (
        "when:\n  timeline: {lt: 90}\nquestions:\n" + QUESTION,
        2,
        "`when: timeline` is not a page fact; expected one of page_type",
    ),
    "a question waiting for itself": (
        "questions:\n" + QUESTION + "    ask_if:\n      timeline: {lt: 90}\n",
        8,
        "`timeline` cannot depend on its own answer",
    ),
    "two questions waiting for each other": (
        "questions:\n"
        + QUESTION
        + "    ask_if:\n      purpose: gift\n"
        + CHOICE
        + "    ask_if:\n      timeline: {lt: 90}\n",
        2,
        "`timeline` waits for an answer that waits for `timeline`",
    ),
    "A/B splits not adding up": (
        "questions:\n"
        + QUESTION
        + "    ab_test:\n      arms:\n"
        + "        - {arm: short, split: 60, prompt: 'When?'}\n"
        + "        - {arm: long, split: 30, prompt: 'When do you plan to buy?'}\n",
        8,
        "the splits of `ab_test` on `timeline` add up to 90 (60 + 30); they must add up to 100",
    ),
    "A/B split out of range": (
        "questions:\n"
        + QUESTION
        + "    ab_test:\n      arms:\n"
        + "        - {arm: short, split: 150, prompt: 'When?'}\n",
        9,
        "`split: 150` of arm `short` — expected 0 to 100",
    ),
    "fit points without a number": (
        "questions:\n" + QUESTION + "    fit_points:\n      - {when: {lt: 30}, points: lots}\n",
        8,
        "`points: lots` — expected a whole number",
    ),
    "fit points on a location by name": (
        "questions:\n"
        + QUESTION.replace("key: timeline", "key: location").replace(
            "answer_type: timeline", "answer_type: location"
        )
        + "    fit_points:\n      - {when: [France], points: 5}\n",
        8,
        "`France`: a location is compared by country code (ISO 3166, e.g. FR, DE)",
    ),
    "unknown placeholder": (
        "questions:\n" + QUESTION.replace("prompt: When?", "prompt: When for {produkt}?"),
        4,
        "`{produkt}` in 'When for {produkt}?' is not a placeholder",
    ),
    "the same field twice": (
        "questions:\n"
        + QUESTION
        + "    ask_if:\n      page_type: product\n      page_type: cart\n",
        9,
        "not valid YAML (`page_type` is written twice in the same block (first on line 8); "
        "keep one)",
    ),
    "a structure where an id belongs": (
        "when:\n  product_id:\n    - id: hoodie-classic\nquestions:\n" + QUESTION,
        2,
        "`product_id` is compared with a text or a list of texts",
    ),
    "points out of range": (
        "questions:\n" + CHOICE.replace("points: 5", "points: 100000000000000000000"),
        6,
        "`points: 100000000000000000000` of choice `gift` — expected a whole number from -100 "
        "to 100",
    ),
    "arm buttons on a choice question": (
        "questions:\n"
        + CHOICE
        + "    ab_test:\n      arms:\n"
        + "        - {arm: a, split: 100, prompt: 'Who?', buttons: [Me]}\n",
        12,
        "arm `a`: a choice question shows its `choices` as buttons; remove `buttons`",
    ),
    "a label without Latin letters needs an id": (
        "questions:\n" + CHOICE.replace("{id: self, label: For me}", "Для меня"),
        7,
        "choice 'Для меня' of `purpose` needs an id",
    ),
    "yes/no flag": (
        "questions:\n" + QUESTION + "    required: maybe\n",
        7,
        "`required: maybe` — expected true or false",
    ),
}


@pytest.mark.parametrize(("text", "line", "message"), ERROR_CASES.values(), ids=ERROR_CASES)
def test_each_mistake_names_its_line_and_the_fix(
    tmp_path: Path, text: str, line: int | None, message: str
) -> None:
    errors = _errors(tmp_path, text)
    where = f", line {line}: " if line else ": "
    assert f"{where}{message}" in errors, errors


def test_every_problem_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    text = "questions:\n" + QUESTION.replace("answer_type: timeline", "answer_type: budgit")
    text += QUESTION.replace("key: timeline", "key: size").replace("    why: Because.\n", "")
    errors = _errors(tmp_path, text)
    assert "line 3: `answer_type: budgit`" in errors
    assert "`why` text is missing for `size`" in errors


def _write(folder: Path, name: str, text: str) -> None:
    (folder / name).write_text(textwrap.dedent(text), encoding="utf-8")


def test_flow_set_needs_exactly_one_fallback_and_unique_names(tmp_path: Path) -> None:
    _write(tmp_path, "a.yml", "flow: main\nquestions:\n" + QUESTION)
    _write(tmp_path, "b.yml", "flow: main\nquestions:\n" + QUESTION)
    with pytest.raises(FlowError) as error:
        load_flows(tmp_path, CONTEXT)
    assert "`flow: main` is also the name of" in str(error.value)
    assert "both have no `when:` rules; exactly one flow may be the fallback" in str(error.value)

    _write(tmp_path, "a.yml", "flow: product\nwhen:\n  page_type: product\nquestions:\n" + QUESTION)
    _write(tmp_path, "b.yml", "flow: cart\nwhen:\n  page_type: cart\nquestions:\n" + QUESTION)
    with pytest.raises(FlowError) as error:
        load_flows(tmp_path, CONTEXT)
    assert "every flow has `when:` rules; exactly one flow must have none" in str(error.value)


def test_flows_check_command_prints_errors_and_fails(tmp_path: Path) -> None:
    _write(tmp_path, "default.yml", "questions:\n  - key: timeline\n    answer_type: budgit\n")
    env = {"FLOWS_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "flows", "check"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert f"flow error: {tmp_path / 'default.yml'}, line 3: `answer_type: budgit`" in done.stderr


def test_shipped_flows_pass_the_check() -> None:
    flows = load_flows(PROJECT_ROOT / "data" / "flows", CONTEXT)
    assert flows.fallback.name == "default"


def test_editor_files_are_not_flows(tmp_path: Path) -> None:
    _write(tmp_path, "default.yml", "questions:\n" + QUESTION)
    _write(tmp_path, ".#default.yml", "not: [a flow")
    _write(tmp_path, "._default.yml", "")
    assert [flow.name for flow in load_flows(tmp_path, CONTEXT).flows] == ["default"]


def test_equals_with_a_list_means_one_of(tmp_path: Path) -> None:
    path = tmp_path / "flow.yml"
    path.write_text(
        "questions:\n" + CHOICE + QUESTION + "    ask_if:\n      purpose: {not: [gift]}\n",
        encoding="utf-8",
    )
    flow = load_flow(path, CONTEXT)
    gift = {"purpose": {"value": "gift", "status": "answered"}}
    mine = {"purpose": {"value": "self", "status": "answered"}}
    assert flow.to_ask(gift) == []
    assert flow.to_ask(mine) == ["timeline"]


def test_a_choice_label_slug_folds_accents() -> None:
    from bot.flows.loader import _slug

    assert _slug("Café au lait") == "cafe_au_lait"
