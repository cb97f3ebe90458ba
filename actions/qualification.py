"""The qualification form: reading answers and asking the flow's questions.

Rasa's ``qualification_form`` runs the loop (activation, rejection on
interruptions, deactivation); this validation action does the rest in one call
per turn. It reads the message against every question of the flow (one message
may answer several), picks the next question from the flow and asks it itself.
The domain declares no ``action_ask_*``/``utter_ask_*`` for the form's slots, so
Rasa leaves the asking to this action, and wording, buttons and order come
from ``data/flows/`` at run time.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import (
    ANSWER_STATE_SLOT,
    STATUS_SLOT,
    LeadAction,
    answer_slot_events,
    answers_of,
    assistant,
    conversation_flow,
    latest_message_id,
    page_context,
    question_state,
    turn_input,
)
from actions.reading import FORM_NAME
from bot import clock
from bot.assistant import event, should_skip_consent, turn_commands
from bot.catalog import Catalog
from bot.flows import Question
from bot.flows.facts import CONSENT_KEY
from bot.flows.interpreter import MAX_CHOICES, TurnResult, answer_record
from bot.flows.model import Asked
from bot.flows.replies import confirmation
from bot.leads import LeadState
from bot.leads.commands import Command

REQUESTED_SLOT = "requested_slot"
WELCOME_BACK = "Welcome back!"
# Actions that may run between the shopper's message and the form without
# meaning that an interruption was answered.
_FORM_PLUMBING = frozenset({"action_listen", "action_extract_slots", FORM_NAME})


def returning_from_interruption(tracker: Tracker) -> bool:
    """Whether another action (a rule's answer) ran since the shopper's last message.

    Then the message was already handled (e.g. "why do you need that?") and the
    form only has to ask its question again.
    """
    for tracker_event in reversed(tracker.events):
        kind = tracker_event.get("event")
        if kind == "user":
            return False
        if kind == "action" and tracker_event.get("name") not in _FORM_PLUMBING:
            return True
    return False


def resume_questions(tracker: Tracker) -> list[EventType]:
    """Events that take the shopper back to the questions after a reply outside them.

    Inside the form the rules run it again after the reply. Outside it (a shop
    question as the first message, or after a goodbye), unless the questions were
    completed or declined, the form runs next: Rasa runs a follow-up action before
    asking any policy, the form activates and this validation action asks the flow's
    next question, as after a greeting.
    """
    if tracker.active_loop_name or tracker.get_slot(STATUS_SLOT) is not None:
        return []
    return [FollowupAction(FORM_NAME)]


def question_message(
    question: Question,
    state: dict[str, Any],
    sender_id: str,
    *,
    catalog: Catalog | None = None,
    facts: dict[str, Any] | None = None,
) -> tuple[str, list[dict[str, str]], bool, Asked]:
    """Text, buttons, whether it is a re-ask, and the wording shown, for asking ``question``.

    On a product page a variant question offers that product's in-stock options.
    """
    facts = facts or {}
    product = catalog.product(facts["product_id"]) if catalog and facts.get("product_id") else None
    asked = question.asked(sender_id, product.name if product else None)
    failed = (state.get("failures") or {}).get(question.key, 0) > 0
    choices = (state.get("choices") or {}).get(question.key) or []
    buttons = choices or [{"title": title, "payload": title} for title in asked.buttons]
    if not buttons and question.answer_type == "variant" and product is not None:
        buttons = [
            {"title": product.variant_label(variant), "payload": variant.id}
            for variant in product.variants
            if variant.in_stock
        ][:MAX_CHOICES]
    if question.key in (state.get("ambiguous") or []):
        text = "I found several matching items. Which one do you mean?"
    elif failed:
        text = question.reask
    else:
        text = asked.text
    return text, buttons, failed, asked


def shown_prompt(question: Question, sender_id: str) -> str:
    """The wording this shopper sees (seeded: a retried call asks the same words)."""
    return question.asked(sender_id).text


class ValidateQualificationForm(LeadAction):
    """Reads each message of the form, stores the answers and asks the next question."""

    def name(self) -> str:
        """Action name used in domain.yml."""
        return f"validate_{FORM_NAME}"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Interpret, record, then set ``requested_slot`` and ask it."""
        helper = assistant()
        now = clock.now()
        message_id = latest_message_id(tracker)
        answers = answers_of(tracker)
        state = question_state(tracker)
        flow = conversation_flow(tracker)
        facts = helper.page_facts(page_context(tracker))
        updates: dict[str, Any] = {}
        commands: list[Command] = []
        new_state = {**state, "flow": flow.name}

        resumed = False
        understood: str | None = None
        if not returning_from_interruption(tracker):
            turn = turn_input(tracker, requested_key=tracker.get_slot(REQUESTED_SLOT))
            result = helper.interpreter_for(flow).interpret(turn)
            resumed = result.resumed
            if resumed:
                # Marks the message as read: a form turn that sets no slot is rejected and
                # Rasa would answer "Sorry, I didn't understand that" instead.
                new_state["returned"] = message_id
            if result.interrupted:
                # No SlotSet: the form rejects the message and a rule answers it.
                return []
            consent_question = flow.question(CONSENT_KEY)
            commands += turn_commands(
                tracker.sender_id,
                message_id,
                result,
                turn.now,
                consent_text=(
                    shown_prompt(consent_question, tracker.sender_id) if consent_question else None
                ),
                flow=flow,
            )
            answers.update(result.answers)
            updates.update(result.answers)
            understood = confirmation(flow, result.answers, result.confirm)
            if result.off_topic and not result.answers:
                # "what's the weather like in Paris today?": what the bot is for, then
                # the question again.
                dispatcher.utter_message(response="utter_out_of_scope")
            new_state.update(
                failures=result.failures or state.get("failures") or {},
                choices=result.choices,
                ambiguous=sorted(result.ambiguous),
            )

        lead: list[LeadState | None] = []

        async def lead_state() -> LeadState | None:
            if not lead:
                lead.append(await helper.lead_state(tracker.sender_id))
            return lead[0]

        requested = tracker.get_slot(REQUESTED_SLOT)
        next_key: str | None = None
        while True:
            remaining = flow.to_ask(answers, facts)
            # Stay on an unanswered question (re-ask, choices) before going back in order.
            next_key = (
                requested if requested in remaining else (remaining[0] if remaining else None)
            )
            question = flow.question(next_key) if next_key else None
            if question is None:
                break
            state_now = await lead_state() if question.answer_type in _LEAD_KNOWN else None
            known = helper.known_answer(question, facts, state_now)
            if known is not None:
                # Already known (picked on the storefront, or on the lead): not asked again.
                record = answer_record("", known, now)
                answers[question.key] = updates[question.key] = record
                commands += turn_commands(
                    tracker.sender_id,
                    f"{message_id}:known:{question.key}",
                    _known_result(question.key, record, question.points_for(known.value)),
                    now,
                    consent_text=None,
                    flow=flow,
                )
                continue
            # A consent question still open after the shopper's reply ("why?", a shop
            # question, another answer, an unclear word) is asked again: only a clear
            # no refuses. Skipping it as asked before is for a later conversation.
            if (
                next_key == CONSENT_KEY
                and requested != CONSENT_KEY
                and should_skip_consent(await lead_state())
            ):
                # A cold, just-browsing shopper is asked for contact details once only.
                skipped = answer_record("", None, now)
                answers[CONSENT_KEY] = updates[CONSENT_KEY] = skipped
                commands.append(
                    event(
                        tracker.sender_id,
                        "question_skipped",
                        now,
                        dedupe=f"{message_id}:{CONSENT_KEY}:not-again",
                        key=CONSENT_KEY,
                        reason="asked before, lead is cold",
                    )
                )
                continue
            break

        events: list[EventType] = answer_slot_events(tracker, updates)
        if new_state != state:
            events.append(SlotSet(ANSWER_STATE_SLOT, new_state))
        events.append(SlotSet(REQUESTED_SLOT, next_key))
        question = flow.question(next_key) if next_key else None
        if understood:
            dispatcher.utter_message(text=understood)
        if question is not None:
            text, buttons, reask, asked = question_message(
                question, new_state, tracker.sender_id, catalog=helper.catalog, facts=facts
            )
            if resumed:
                dispatcher.utter_message(text=WELCOME_BACK)
            dispatcher.utter_message(text=text, buttons=buttons)
            commands.append(
                event(
                    tracker.sender_id,
                    "question_asked",
                    now,
                    dedupe=f"{message_id}:{question.key}",
                    question=question.key,
                    reask=reask,
                    flow=flow.name,
                    # Which wording was shown: the funnel compares A/B arms and variants.
                    arm=asked.arm,
                    variant=asked.variant,
                    ab_test=asked.test,
                )
            )
        await self.save(dispatcher, tracker, commands)
        return events


# Answer types the lead record may already know: contact details from a web form, the
# variant picked on the storefront.
_LEAD_KNOWN = frozenset({"email", "phone", "contact", "name", "variant"})


def _known_result(
    key: str, record: dict[str, Any], points: tuple[int, str | None] | None
) -> TurnResult:
    result = TurnResult(answers={key: record})
    result.events.append(("answer_known", {"key": key}))
    if points is not None:
        result.events.append(
            ("answer_points", {"key": key, "points": points[0], "reason": points[1]})
        )
    return result
