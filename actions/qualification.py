"""The qualification form: reading answers and asking the flow's questions."""

from __future__ import annotations

import random
from abc import ABC, abstractmethod

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions.common import (
    ANSWER_STATE_SLOT,
    LeadAction,
    answers_of,
    assistant,
    last_bot_message_at,
    latest_message_id,
    page_context,
    question_state,
    transcript,
    utcnow,
)
from bot.assistant import event, transcript_commands, turn_commands
from bot.flows.interpreter import TurnInput
from bot.flows.model import CONSENT_KEY


class ValidateQualificationForm(FormValidationAction):
    """Reads every message of the form against the flow's questions.

    The SDK calls ``required_slots`` to decide what to ask next; the flow decides
    it (contact questions only after consent). Extraction is one pass over all
    questions, because one message may answer several.
    """

    def name(self) -> str:
        """Action name used in domain.yml."""
        return "validate_qualification_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        """Questions of the flow that apply to this shopper, in asking order."""
        return assistant().flow.required(answers_of(tracker))

    async def get_extraction_events(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[EventType]:
        """Interpret the latest message and record what it answered."""
        helper = assistant()
        now = utcnow()
        intent = tracker.latest_message.get("intent") or {}
        state = question_state(tracker)
        requested = tracker.get_slot("requested_slot")
        turn = TurnInput(
            text=tracker.latest_message.get("text") or "",
            intent=intent.get("name"),
            intent_confidence=float(intent.get("confidence") or 0.0),
            requested_key=requested,
            answers=answers_of(tracker),
            failures=dict(state.get("failures") or {}),
            now=now,
            product_id=page_context(tracker).get("product_id"),
            asked_at=last_bot_message_at(tracker),
        )
        result = helper.interpreter.interpret(turn)
        if result.interrupted:
            # No SlotSet: the form rejects and a rule answers the interruption.
            return []
        consent_question = helper.flow.question(CONSENT_KEY)
        commands = turn_commands(
            tracker.sender_id,
            latest_message_id(tracker),
            result,
            now,
            consent_text=consent_question.prompts[0] if consent_question else None,
        )
        batch = [*transcript_commands(tracker.sender_id, transcript(tracker)), *commands]
        await helper.record(batch)
        events: list[EventType] = [SlotSet(key, value) for key, value in result.answers.items()]
        new_state = {
            "failures": result.failures or state.get("failures") or {},
            "choices": result.choices,
        }
        if new_state != state:
            events.append(SlotSet(ANSWER_STATE_SLOT, new_state))
        return events

    async def get_validation_events(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[EventType]:
        """Answers are validated while parsing; pass the extracted slots through."""
        return [SlotSet(slot, value) for slot, value in tracker.slots_to_validate().items()]


class AskQuestionAction(LeadAction, ABC):
    """Asks one question of the flow (``action_ask_<key>``), re-asking with a hint."""

    @property
    @abstractmethod
    def key(self) -> str:
        """The question key this action asks."""

    def name(self) -> str:
        """``action_ask_<key>``, the name Rasa forms look up."""
        return f"action_ask_{self.key}"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Send the question (or its re-ask hint) with buttons."""
        question = assistant().flow.question(self.key)
        if question is None:
            return []
        state = question_state(tracker)
        failed = (state.get("failures") or {}).get(self.key, 0) > 0
        choices = (state.get("choices") or {}).get(self.key) or []
        buttons = choices or [{"title": title, "payload": title} for title in question.buttons]
        if failed and choices:
            text = "I found several matching items. Which one do you mean?"
        elif failed:
            text = question.reask
        else:
            # Seeded per shopper: a retried action asks with the same words.
            text = question.prompt(random.Random(f"{tracker.sender_id}:{self.key}"))
        dispatcher.utter_message(text=text, buttons=buttons)
        now = utcnow()
        await self.save(
            dispatcher,
            tracker,
            [
                event(
                    tracker.sender_id,
                    "question_asked",
                    now,
                    dedupe=f"{latest_message_id(tracker)}:{self.key}",
                    question=self.key,
                    reask=failed,
                )
            ],
        )
        return []


class AskTimeline(AskQuestionAction):
    """Asks when the shopper plans to buy."""

    key = "timeline"


class AskVariant(AskQuestionAction):
    """Asks which product variant the shopper wants."""

    key = "variant"


class AskLocation(AskQuestionAction):
    """Asks where the order must be delivered."""

    key = "location"


class AskBudget(AskQuestionAction):
    """Asks the shopper's budget."""

    key = "budget"


class AskContactConsent(AskQuestionAction):
    """Asks consent to store contact details."""

    key = "contact_consent"


class AskContactName(AskQuestionAction):
    """Asks the shopper's name (after consent)."""

    key = "contact_name"


class AskContactDetails(AskQuestionAction):
    """Asks an email or phone number (after consent)."""

    key = "contact_details"
