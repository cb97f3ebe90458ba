"""Question flows: what the bot asks, in which order, when, and what answers are worth.

The values here are built by :mod:`bot.flows.loader` from ``data/flows/*.yml``
and are immutable; the qualification form asks whatever the current flow says,
so edits apply at run time without retraining.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.flows.facts import consented
from bot.flows.rules import Condition, Money, PointRule, answer_measure

FAQ_TOPICS = ("shipping", "price", "returns", "discount", "stock")
ANSWER_TYPES = (
    "timeline",
    "budget",
    "location",
    "variant",
    "email",
    "phone",
    "contact",
    "choice",
    "yes_no",
    "name",
    "free_text",
)
# Contact details are only ever asked once the shopper agreed to share them.
CONTACT_TYPES = frozenset({"email", "phone", "contact", "name"})
SKIP_WORDS = frozenset({"skip", "skip this", "pass", "next"})
SKIP_LABEL = "Skip"


class FlowError(ValueError):
    """A flows file that cannot be used; the message names the file, line and the fix."""


@dataclass(frozen=True)
class Choice:
    """One answer of a ``choice`` question: an id (stored), a label (shown) and synonyms."""

    id: str
    label: str
    synonyms: tuple[str, ...] = ()
    points: int | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Arm:
    """One arm of an A/B test: its share of shoppers and what they are asked."""

    name: str
    split: int
    prompts: tuple[str, ...]
    buttons: tuple[str, ...] | None = None


@dataclass(frozen=True)
class AbTest:
    """Shoppers split between arms by a stable hash of their session id."""

    name: str
    arms: tuple[Arm, ...]

    def arm_for(self, sender_id: str) -> Arm:
        """The arm of this shopper: the same on every turn and every reload."""
        digest = hashlib.sha256(f"{self.name}:{sender_id}".encode()).digest()
        bucket = int.from_bytes(digest[:8], "big") % 100
        total = 0
        for arm in self.arms:
            total += arm.split
            if bucket < total:
                return arm
        return self.arms[-1]


@dataclass(frozen=True)
class Asked:
    """What a shopper is shown for a question: text, quick replies and the A/B arm."""

    text: str
    buttons: tuple[str, ...]
    arm: str
    variant: int | None
    test: str | None = None


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
    required: bool = True
    skip_if_known: bool = True
    choices: tuple[Choice, ...] = ()
    ask_if: tuple[Condition, ...] = ()
    fit_points: tuple[PointRule, ...] = ()
    ab_test: AbTest | None = None
    product_prompt: str | None = None
    line: int | None = None
    # The shop's currency and rates, for budget answers in another currency.
    money: Money | None = field(default=None, compare=False, repr=False)

    def asked(self, sender_id: str, product_name: str | None = None) -> Asked:
        """The wording this shopper sees: their A/B arm, else a prompt variant.

        Seeded by shopper and key, so a retried action asks the same words.
        """
        rng = random.Random(f"{sender_id}:{self.key}")
        if self.ab_test is not None:
            arm = self.ab_test.arm_for(sender_id)
            text = rng.choice(arm.prompts)
            buttons = (
                self._with_skip(arm.buttons) if arm.buttons is not None else self.quick_replies
            )
            return Asked(
                _fill(text, product_name),
                buttons,
                arm.name,
                arm.prompts.index(text),
                self.ab_test.name,
            )
        if product_name and self.product_prompt:
            return Asked(_fill(self.product_prompt, product_name), self.quick_replies, "page", None)
        index = rng.randrange(len(self.prompts))
        text = _fill(self.prompts[index], product_name)
        return Asked(text, self.quick_replies, f"v{index + 1}", index)

    @property
    def all_prompts(self) -> tuple[str, ...]:
        """Every wording of the question (prompt variants and A/B arms)."""
        texts = list(self.prompts)
        if self.product_prompt:
            texts.append(self.product_prompt)
        if self.ab_test is not None:
            texts += [text for arm in self.ab_test.arms for text in arm.prompts]
        return tuple(texts)

    @property
    def quick_replies(self) -> tuple[str, ...]:
        """Buttons: the choices of a choice question, else ``buttons``; optional ones can skip."""
        return self._with_skip(tuple(choice.label for choice in self.choices) or self.buttons)

    def _with_skip(self, titles: tuple[str, ...]) -> tuple[str, ...]:
        if not self.required and SKIP_LABEL not in titles:
            return (*titles, SKIP_LABEL)
        return titles

    def choice(self, choice_id: str) -> Choice | None:
        """The choice with ``choice_id``."""
        return next((choice for choice in self.choices if choice.id == choice_id), None)

    def points_for(self, value: Any) -> tuple[int, str | None] | None:
        """Fit points the answer ``value`` is worth and why; None if the question awards none."""
        if not self.choices and not self.fit_points:
            return None
        if self.answer_type == "choice" and isinstance(value, str):
            chosen = self.choice(value)
            if chosen is not None and chosen.points is not None:
                return chosen.points, chosen.reason or f"{self.key}: {chosen.label}"
        measured = answer_measure(self.answer_type, value, self.money)
        for rule in self.fit_points:
            if rule.matches(measured):
                return rule.points, rule.reason or f"{self.key}: {measured}"
        return 0, None


def _fill(text: str, product_name: str | None) -> str:
    return text.replace("{product}", product_name or "this product")


def answer_value(answers: dict[str, Any], key: str) -> Any:
    """The stored value of ``key``'s answer (None if unanswered or not understood)."""
    answer = answers.get(key)
    return answer.get("value") if isinstance(answer, dict) else None


@dataclass(frozen=True)
class Flow:
    """An ordered list of questions, and the page contexts it is used on."""

    name: str
    questions: tuple[Question, ...]
    faq: dict[str, str] = field(default_factory=dict)
    source: Path | None = None
    when: tuple[Condition, ...] = ()
    _by_key: dict[str, Question] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_key.update({question.key: question for question in self.questions})

    @property
    def keys(self) -> list[str]:
        """Question keys in file order."""
        return [question.key for question in self.questions]

    def question(self, key: str) -> Question | None:
        """The question with ``key``, if the flow has one."""
        return self._by_key.get(key)

    def matches(self, facts: dict[str, Any]) -> bool:
        """Whether this flow's ``when`` rules hold on the page (a flow without rules: always)."""
        return all(condition.holds(facts.get(condition.subject)) for condition in self.when)

    def to_ask(self, answers: dict[str, Any], facts: dict[str, Any] | None = None) -> list[str]:
        """Keys still to ask now, in order.

        A question is asked when it is unanswered, consent allows it, and its
        ``ask_if`` conditions hold. A condition on an answer not given yet waits
        for it (the question comes after the one it depends on); on an answer
        that will not come (skipped, or a question not asked) it fails.
        """
        facts = facts or {}
        agreed = consented(answers)
        verdicts: dict[str, bool | None] = {}

        def verdict(question: Question) -> bool | None:
            """True: ask now; None: wait for another answer; False: do not ask."""
            if question.key in verdicts:
                return verdicts[question.key]
            verdicts[question.key] = False  # guards against cycles (rejected by the loader)
            result: bool | None
            if answers.get(question.key) is not None or (question.after_consent and not agreed):
                result = False
            else:
                result = True
                for condition in question.ask_if:
                    holds = self._condition(condition, answers, facts, verdict)
                    if holds is False:
                        result = False
                        break
                    if holds is None:
                        result = None
            verdicts[question.key] = result
            return result

        return [question.key for question in self.questions if verdict(question) is True]

    def _condition(
        self, condition: Condition, answers: dict[str, Any], facts: dict[str, Any], verdict: Any
    ) -> bool | None:
        depends = self.question(condition.subject)
        if depends is None:
            return condition.holds(facts.get(condition.subject))
        if answers.get(depends.key) is not None:
            measured = answer_measure(
                depends.answer_type, answer_value(answers, depends.key), depends.money
            )
            return condition.holds(measured)
        # Not answered yet: wait if it will still be asked, else the condition fails.
        return None if verdict(depends) is not False else False


@dataclass(frozen=True)
class FlowSet:
    """Every flow of ``data/flows/``: the fallback and those chosen by page rules."""

    flows: tuple[Flow, ...]

    @property
    def fallback(self) -> Flow:
        """The flow without ``when`` rules (the loader checks there is exactly one)."""
        return next(flow for flow in self.flows if not flow.when)

    def named(self, name: str | None) -> Flow | None:
        """The flow called ``name``, if it still exists."""
        return next((flow for flow in self.flows if flow.name == name), None)

    def select(self, facts: dict[str, Any]) -> Flow:
        """The first flow (in file order) whose ``when`` rules hold, else the fallback."""
        for flow in self.flows:
            if flow.when and flow.matches(facts):
                return flow
        return self.fallback
