"""Actions around the qualification: interruptions, opt-out, hand-over, completion."""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import (
    STATUS_SLOT,
    LeadAction,
    answer_slot_events,
    answers_of,
    assistant,
    conversation_flow,
    latest_message_id,
    page_context,
    turn_input,
)
from actions.qualification import resume_questions
from bot.assistant import human_request_reply, turn_commands

SHOP_QUESTION_TOPICS = {
    "ask_shipping": "shipping",
    "ask_price": "price",
    "ask_returns": "returns",
    "ask_discount": "discount",
    "ask_stock": "stock",
}


def _stop_form() -> list[EventType]:
    # Returned whether or not the form runs, so one rule covers both cases.
    return [ActiveLoop(None), SlotSet("requested_slot", None)]


class ExplainQuestion(LeadAction):
    """Answers "why do you need that?" for the question being asked."""

    def name(self) -> str:
        """Action name used in domain.yml."""
        return "action_explain_question"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Explain the current question; the form then asks it again."""
        key = tracker.get_slot("requested_slot")
        question = conversation_flow(tracker).question(key) if key else None
        if question is not None:
            dispatcher.utter_message(text=question.why)
        else:
            dispatcher.utter_message(
                text="I ask a few questions so our team can check stock, price and delivery "
                "for you. Your answers are only used for this enquiry."
            )
        await self.record_events(dispatcher, tracker, ("asked_why", {"question": key}))
        return []


class AnswerShopQuestion(LeadAction):
    """Answers shipping, price, returns, discount and stock questions from the catalog."""

    def name(self) -> str:
        """Action name used in domain.yml."""
        return "action_answer_shop_question"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Reply and record which topic the shopper asked about."""
        intent = (tracker.latest_message.get("intent") or {}).get("name") or ""
        topic = SHOP_QUESTION_TOPICS.get(intent, "other")
        text = await assistant().shop_answer(
            conversation_flow(tracker),
            topic,
            answers_of(tracker),
            session_id=tracker.sender_id,
            product_id=page_context(tracker).get("product_id"),
            question=tracker.latest_message.get("text") or "",
        )
        dispatcher.utter_message(text=text)
        await self.record_events(dispatcher, tracker, ("shopper_question", {"topic": topic}))
        return resume_questions(tracker)


class RequestHuman(LeadAction):
    """Records a request to talk to a person and says what happens next."""

    offers_human = False

    def name(self) -> str:
        """Action name used in domain.yml."""
        return "action_request_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Record ``human_requested`` (which hands the lead to sales), then say when they reply.

        The form (if active) continues afterwards and, with a handoff open, asks
        for contact details even from a shopper who was asked before.
        """
        state = await self.record_events(
            dispatcher,
            tracker,
            ("human_requested", {"during_question": tracker.get_slot("requested_slot")}),
        )
        dispatcher.utter_message(text=human_request_reply(answers_of(tracker), state))
        # The reply joins the transcript now rather than at the next message.
        await self.save(dispatcher, tracker)
        return []


class OptOut(LeadAction):
    """Stops asking, says goodbye politely and records the opt-out."""

    offers_human = False

    def name(self) -> str:
        """Action name used in domain.yml."""
        return "action_opt_out"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Record ``opt_out`` and ``session_end``, deactivate the form."""
        dispatcher.utter_message(
            text="No problem, I won't ask anything else. Thanks for visiting, and if you need "
            "help later just say hi."
        )
        await self.record_events(
            dispatcher,
            tracker,
            ("opt_out", {"during_question": tracker.get_slot("requested_slot")}),
            ("session_end", {"reason": "opt_out"}),
        )
        return [*_stop_form(), SlotSet(STATUS_SLOT, "opted_out")]


class Goodbye(LeadAction):
    """Says goodbye and records the end of the chat session."""

    offers_human = False

    def name(self) -> str:
        """Action name used in domain.yml."""
        return "action_goodbye"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Record ``session_end``; an unfinished qualification can resume later."""
        dispatcher.utter_message(text="Goodbye, and thanks for stopping by!")
        await self.record_events(dispatcher, tracker, ("session_end", {"reason": "goodbye"}))
        return _stop_form()


class CompleteQualification(LeadAction):
    """Thanks the shopper and records that every question was handled."""

    def name(self) -> str:
        """Action name used in domain.yml."""
        return "action_complete_qualification"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Summarise the answers and record ``qualification_completed``."""
        answers = answers_of(tracker)
        summary = assistant().summary(conversation_flow(tracker), answers)
        consent = answers.get("contact_consent")
        if isinstance(consent, dict) and consent.get("value") is True:
            closing = "Thanks! A specialist will be in touch soon."
        else:
            closing = "Thanks! Your answers stay anonymous. Ask me anything else any time."
        dispatcher.utter_message(text=f"{closing} Here's what I noted: {summary}")
        await self.record_events(
            dispatcher,
            tracker,
            (
                "qualification_completed",
                {
                    "answered": sorted(
                        key
                        for key, value in answers.items()
                        if value and value["value"] is not None
                    )
                },
            ),
        )
        return [SlotSet(STATUS_SLOT, "completed")]


class UpdateAnswers(LeadAction):
    """After the qualification, reads corrections like "actually my budget is 500"."""

    def name(self) -> str:
        """Action name used in domain.yml."""
        return "action_update_answers"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Update whichever answers the message clearly states."""
        turn = turn_input(tracker, requested_key=None, correcting=True)
        flow = conversation_flow(tracker)
        result = assistant().interpreter_for(flow).interpret(turn)
        if result.answers:
            updated = ", ".join(
                f"{key.replace('_', ' ')}: {answer['display']}"
                for key, answer in result.answers.items()
            )
            dispatcher.utter_message(text=f"Got it, I've updated your {updated}.")
        else:
            dispatcher.utter_message(
                text="Thanks! If you'd like to change an answer, say e.g. "
                '"actually my budget is 500".'
            )
        commands = turn_commands(
            tracker.sender_id,
            latest_message_id(tracker),
            result,
            turn.now,
            consent_text=None,
            flow=flow,
        )
        await self.save(dispatcher, tracker, commands)
        return answer_slot_events(tracker, result.answers)
