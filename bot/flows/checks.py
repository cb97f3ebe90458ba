"""Cross-checks of flows: conditions against the questions, page facts and the catalogue.

A condition must name an answer of its flow or a page fact and compare it the
way that subject can be compared (numbers with ``lt``…, choices by id,
locations by country code, products by catalogue id); no question may wait for
itself; and a set of flows needs unique names and exactly one fallback.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.flows.model import Flow, Question
from bot.flows.rules import (
    BOOLEAN_ANSWERS,
    BOOLEAN_FACTS,
    NUMERIC_ANSWERS,
    NUMERIC_FACTS,
    NUMERIC_OPERATORS,
    PAGE_FACTS,
    PAGE_TYPES,
    Condition,
)
from bot.flows.schema import Problems

if TYPE_CHECKING:
    from bot.flows.loader import FlowContext


def check_set(flows: list[Flow]) -> list[str]:
    """Problems of the flows taken together: duplicate names, not exactly one fallback."""
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


def subject_kind(subject: str, keys: dict[str, Question]) -> str | None:
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


def check_conditions(
    question: Question,
    keys: dict[str, Question],
    all_keys: set[str],
    problems: Problems,
    context: FlowContext,
) -> None:
    """The ``ask_if`` and ``fit_points`` conditions of ``question``."""
    for condition in question.ask_if:
        kind = subject_kind(condition.subject, keys)
        if kind is None and condition.subject in all_keys:
            continue  # a question with its own errors, already reported
        if kind is None:
            known = ", ".join([*keys, *PAGE_FACTS])
            problems.on_line(
                condition.line,
                f"`ask_if: {condition.subject}` is neither a question of this flow nor a page "
                f"fact; expected one of {known}",
            )
            continue
        if condition.subject == question.key:
            problems.on_line(condition.line, f"`{question.key}` cannot depend on its own answer")
            continue
        _check_value(condition, kind, keys.get(condition.subject), problems, context)
    for rule in question.fit_points:
        for condition in rule.conditions:
            _check_value(
                condition, subject_kind(question.key, keys) or "text", question, problems, context
            )


def check_page_condition(condition: Condition, problems: Problems, context: FlowContext) -> None:
    """A ``when:`` condition of a flow: on a page fact, compared the way it can be."""
    if condition.subject not in PAGE_FACTS:
        problems.on_line(
            condition.line,
            f"`when: {condition.subject}` is not a page fact; expected one of "
            f"{', '.join(PAGE_FACTS)}",
        )
        return
    _check_value(condition, subject_kind(condition.subject, {}) or "text", None, problems, context)


def _check_value(
    condition: Condition,
    kind: str,
    question: Question | None,
    problems: Problems,
    context: FlowContext,
) -> None:
    subject = condition.subject
    values = condition.value if isinstance(condition.value, list) else [condition.value]
    if kind != "numeric" and condition.operator in NUMERIC_OPERATORS:
        problems.on_line(
            condition.line,
            f"`{subject}: {{{condition.operator}: …}}` compares numbers, but `{subject}` is not a "
            "number; use a value, a list or `not`/`not_in`",
        )
        return
    if kind == "boolean" and not all(isinstance(value, bool) for value in values):
        problems.on_line(condition.line, f"`{subject}` is true or false, got {condition.value!r}")
        return
    if kind == "numeric" and condition.operator not in NUMERIC_OPERATORS:
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            problems.on_line(condition.line, f"`{subject}` is a number, got {condition.value!r}")
        return
    if not all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in values):
        problems.on_line(
            condition.line,
            f"`{subject}` is compared with a text or a list of texts, got {condition.value!r}",
        )
        return
    if question is not None and question.answer_type == "choice":
        ids = [choice.id for choice in question.choices]
        for value in values:
            if value not in ids:
                problems.on_line(
                    condition.line,
                    f"`{value}` is not a choice of `{question.key}`; "
                    f"expected one of {', '.join(ids)}",
                )
        return
    if question is not None and question.answer_type == "location":
        for value in values:
            if not isinstance(value, str) or not re.fullmatch(r"[A-Z]{2}", value):
                problems.on_line(
                    condition.line,
                    f"`{value}`: a location is compared by country code (ISO 3166, e.g. FR, DE)",
                )
        return
    if subject == "page_type":
        for value in values:
            if value not in PAGE_TYPES:
                problems.on_line(
                    condition.line,
                    f"`page_type: {value}` — expected one of {', '.join(PAGE_TYPES)}",
                )
        return
    _check_catalogue_value(condition, values, question, problems, context)


def _check_catalogue_value(
    condition: Condition,
    values: list[Any],
    question: Question | None,
    problems: Problems,
    context: FlowContext,
) -> None:
    catalog = context.catalog
    if catalog is None:
        return
    subject = condition.subject
    if subject == "product_id" or (question is not None and question.answer_type == "variant"):
        variant_answer = question is not None
        for value in values:
            found = catalog.variant(value) if variant_answer else catalog.product(value)
            if not found:
                what = "variant" if variant_answer else "product"
                problems.on_line(
                    condition.line,
                    f"`{value}` is not a {what} id of the catalogue (catalog check lists them)",
                )
    elif subject == "variant_id":
        for value in values:
            if not catalog.variant(value):
                problems.on_line(condition.line, f"`{value}` is not a variant id of the catalogue")
    elif subject == "product.category":
        categories = sorted({product.category for product in catalog.products})
        for value in values:
            if value not in categories:
                problems.on_line(
                    condition.line,
                    f"`product.category: {value}` — expected one of {', '.join(categories)}",
                )


def check_cycles(questions: list[Question], problems: Problems) -> None:
    """No question may wait, through ``ask_if``, for an answer that waits for it."""
    keys = {question.key: question for question in questions}
    for question in questions:
        path = [question.key]
        frontier = [c.subject for c in question.ask_if if c.subject in keys]
        seen: set[str] = set()
        while frontier:
            subject = frontier.pop()
            if subject == question.key:
                problems.on_line(
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
