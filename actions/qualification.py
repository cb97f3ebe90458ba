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

import random
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import (
    ANSWER_STATE_SLOT,
    FORM_NAME,
    LeadAction,
    answers_of,
    assistant,
    latest_message_id,
    question_state,
    turn_input,
    utcnow,
)
from bot.assistant import event, should_skip_consent, turn_commands
from bot.flows import Question
from bot.flows.facts import CONSENT_KEY
from bot.flows.interpreter import answer_record
from bot.store.commands import Command

REQUESTED_SLOT = "requested_slot"
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


def question_message(
    question: Question, state: dict[str, Any], sender_id: str
) -> tuple[str, list[dict[str, str]], bool]:
    """Text, buttons and whether it is a re-ask, for asking ``question``."""
    failed = (state.get("failures") or {}).get(question.key, 0) > 0
    choices = (state.get("choices") or {}).get(question.key) or []
    buttons = choices or [{"title": title, "payload": title} for title in question.buttons]
    if question.key in (state.get("ambiguous") or []):
        text = "I found several matching items. Which one do you mean?"
    elif failed:
        text = question.reask
    else:
        text = shown_prompt(question, sender_id)
    return text, buttons, failed


def shown_prompt(question: Question, sender_id: str) -> str:
    """The prompt variant this shopper sees (seeded: a retried call asks the same words)."""
    return question.prompt(random.Random(f"{sender_id}:{question.key}"))


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
        now = utcnow()
        message_id = latest_message_id(tracker)
        answers = answers_of(tracker)
        state = question_state(tracker)
        events: list[EventType] = []
        commands: list[Command] = []

        if not returning_from_interruption(tracker):
            turn = turn_input(tracker, requested_key=tracker.get_slot(REQUESTED_SLOT))
            result = helper.interpreter.interpret(turn)
            if result.interrupted:
                # No SlotSet: the form rejects the message and a rule answers it.
                return []
            consent_question = helper.flow.question(CONSENT_KEY)
            commands += turn_commands(
                tracker.sender_id,
                message_id,
                result,
                turn.now,
                consent_text=(
                    shown_prompt(consent_question, tracker.sender_id) if consent_question else None
                ),
            )
            answers.update(result.answers)
            events += [SlotSet(key, value) for key, value in result.answers.items()]
            new_state = {
                "failures": result.failures or state.get("failures") or {},
                "choices": result.choices,
                "ambiguous": sorted(result.ambiguous),
            }
            if new_state != state:
                events.append(SlotSet(ANSWER_STATE_SLOT, new_state))
                state = new_state

        remaining = helper.flow.to_ask(answers)
        requested = tracker.get_slot(REQUESTED_SLOT)
        # Stay on an unanswered question (re-ask, choices) before going back in order.
        next_key = requested if requested in remaining else (remaining[0] if remaining else None)
        if next_key == CONSENT_KEY and should_skip_consent(
            await helper.lead_state(tracker.sender_id)
        ):
            # A cold, just-browsing shopper is asked for contact details once only.
            skipped = answer_record("", None, now)
            answers[CONSENT_KEY] = skipped
            events.append(SlotSet(CONSENT_KEY, skipped))
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
            remaining = helper.flow.to_ask(answers)
            next_key = remaining[0] if remaining else None
        events.append(SlotSet(REQUESTED_SLOT, next_key))
        question = helper.flow.question(next_key) if next_key else None
        if question is not None:
            text, buttons, reask = question_message(question, state, tracker.sender_id)
            dispatcher.utter_message(text=text, buttons=buttons)
            commands.append(
                event(
                    tracker.sender_id,
                    "question_asked",
                    now,
                    dedupe=f"{message_id}:{question.key}",
                    question=question.key,
                    reask=reask,
                    flow=helper.flow.name,
                    # Which wording was shown: the funnel compares prompt variants.
                    variant=question.prompts.index(text) if text in question.prompts else None,
                )
            )
        await self.save(dispatcher, tracker, commands)
        return events
