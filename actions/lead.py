"""Actions around the qualification: interruptions, opt-out, hand-over, completion."""

from __future__ import annotations

from abc import ABC
from dataclasses import replace

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
from actions.reading import HUMAN_ACTION
from bot import clock
from bot.assistant import human_request_reply, turn_commands
from bot.flows.endings import ending_is_clear
from bot.flows.facts import CONSENT_KEY
from bot.flows.interpreter import TurnResult

REQUESTED_SLOT = "requested_slot"
SHOP_QUESTION_TOPICS = {
    "ask_shipping": "shipping",
    "ask_price": "price",
    "ask_returns": "returns",
    "ask_discount": "discount",
    "ask_stock": "stock",
}


CONFIRMING_SLOT = "confirming"
# What the bot asks before an ending it is not sure the shopper meant.
CONFIRM_QUESTIONS = {
    "opt_out": "Do you want me to stop asking questions?",
    "goodbye": "Do you want to end our chat here?",
}
CONFIRM_BUTTONS = [{"title": "Yes", "payload": "Yes"}, {"title": "No", "payload": "No"}]


def _stop_form() -> list[EventType]:
    # Returned whether or not the form runs, so one rule covers both cases.
    return [ActiveLoop(None), SlotSet("requested_slot", None)]


def _read_answers(tracker: Tracker, *, requested_key: str | None) -> TurnResult:
    """The answers the flow's interpreter reads in the latest message, whatever its intent.

    The intent is left out on purpose: this asks whether a message the NLU took
    for stop, goodbye or interest also answers a question. Only answers count;
    a failed reading is no re-ask here.
    """
    turn = replace(
        turn_input(tracker, requested_key=requested_key), intent=None, intent_confidence=0.0
    )
    result = assistant().interpreter_for(conversation_flow(tracker)).interpret(turn)
    return TurnResult(
        answers={
            key: answer for key, answer in result.answers.items() if answer["value"] is not None
        }
    )


def opening_message(tracker: Tracker) -> bool:
    """Whether the shopper's latest message is the first thing said in the conversation."""
    seen_user = False
    for item in reversed(tracker.events):
        kind = item.get("event")
        if kind == "user":
            if seen_user:
                return False
            seen_user = True
        elif kind == "bot" and seen_user:
            return False
    return seen_user


class EndingAction(LeadAction, ABC):
    """Base of stop and goodbye: act when the shopper clearly means it, else ask first."""

    offers_human = False
    # The value of the ``confirming`` slot while this ending awaits a yes or no.
    kind: str

    async def confirm_first(
        self, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> list[EventType] | None:
        """Ask before ending when the message is unclear; ``None`` when it is clear.

        A yes to the question (the ``confirming`` slot set by the previous turn)
        is clear. An answer carried by the unclear message ("a fortnight" read as
        goodbye) is stored, so a "no" goes straight on to the next question.
        """
        if tracker.get_slot(CONFIRMING_SLOT) == self.kind:
            return None
        message = tracker.latest_message
        result = _read_answers(tracker, requested_key=tracker.get_slot(REQUESTED_SLOT))
        if ending_is_clear(
            message.get("intent_ranking") or [],
            message.get("text") or "",
            answers_something=bool(result.answers),
        ):
            return None
        dispatcher.utter_message(text=CONFIRM_QUESTIONS[self.kind], buttons=CONFIRM_BUTTONS)
        result.events.append(("ending_confirmation_asked", {"ending": self.kind}))
        commands = turn_commands(
            tracker.sender_id,
            latest_message_id(tracker),
            result,
            clock.now(),
            consent_text=None,
            flow=conversation_flow(tracker),
        )
        await self.save(dispatcher, tracker, commands)
        return [
            *answer_slot_events(tracker, result.answers),
            *_stop_form(),
            SlotSet(CONFIRMING_SLOT, self.kind),
        ]


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
            ("human_requested", {"during_question": tracker.get_slot(REQUESTED_SLOT)}),
        )
        answers = answers_of(tracker)
        events: list[EventType] = []
        consent = answers.get(CONSENT_KEY)
        if tracker.get_slot(STATUS_SLOT) == "completed" and not (
            isinstance(consent, dict) and consent.get("value") is True
        ):
            # Asking for a person after declining consent changes the answer: the
            # form (which a rule runs next) asks for consent and details again.
            answers[CONSENT_KEY] = None
            events.append(SlotSet(CONSENT_KEY, None))
        dispatcher.utter_message(text=human_request_reply(answers, state))
        # The reply joins the transcript now rather than at the next message.
        await self.save(dispatcher, tracker)
        return events


class OptOut(EndingAction):
    """Stops asking, says goodbye politely and records the opt-out."""

    kind = "opt_out"

    def name(self) -> str:
        """Action name used in domain.yml."""
        return "action_opt_out"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Record ``opt_out`` and ``session_end``, deactivate the form (or ask first)."""
        asked = await self.confirm_first(dispatcher, tracker)
        if asked is not None:
            return asked
        dispatcher.utter_message(
            text="No problem, I won't ask anything else. Thanks for visiting, and if you need "
            "help later just say hi."
        )
        await self.record_events(
            dispatcher,
            tracker,
            ("opt_out", {"during_question": tracker.get_slot(REQUESTED_SLOT)}),
            ("session_end", {"reason": "opt_out"}),
        )
        return [*_stop_form(), SlotSet(STATUS_SLOT, "opted_out"), SlotSet(CONFIRMING_SLOT, None)]


class Goodbye(EndingAction):
    """Says goodbye and records the end of the chat session."""

    kind = "goodbye"

    def name(self) -> str:
        """Action name used in domain.yml."""
        return "action_goodbye"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Record ``session_end`` (or ask first); an unfinished qualification can resume later.

        A "goodbye" before the bot has said anything is a greeting the NLU took for a
        farewell ("Buongiorno", "ciao", "salut" are both): the questions start.
        """
        if opening_message(tracker):
            dispatcher.utter_message(response="utter_greet")
            await self.record_events(dispatcher, tracker)
            return resume_questions(tracker)
        asked = await self.confirm_first(dispatcher, tracker)
        if asked is not None:
            return asked
        dispatcher.utter_message(text="Goodbye, and thanks for stopping by!")
        await self.record_events(dispatcher, tracker, ("session_end", {"reason": "goodbye"}))
        return [*_stop_form(), SlotSet(CONFIRMING_SLOT, None)]


class KeepGoing(LeadAction):
    """The shopper said no to "Do you want me to stop asking questions?": carry on."""

    offers_human = False

    def name(self) -> str:
        """Action name used in domain.yml."""
        return "action_keep_going"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Clear the pending question and say so; a rule restarts the form if unfinished."""
        if tracker.get_slot(STATUS_SLOT) == "completed":
            dispatcher.utter_message(text="Great! What else can I help you with?")
        else:
            dispatcher.utter_message(text="Great, let's carry on.")
        await self.record_events(
            dispatcher,
            tracker,
            ("ending_cancelled", {"ending": tracker.get_slot(CONFIRMING_SLOT)}),
        )
        return [SlotSet(CONFIRMING_SLOT, None)]


class WithdrawOptOut(LeadAction):
    """Takes an opt-out back ("actually, I do want to buy it"): the questions resume."""

    offers_human = False

    def name(self) -> str:
        """Action name used in domain.yml."""
        return "action_withdraw_opt_out"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Record ``opt_out_withdrawn``, keep what the message answers; the form follows."""
        result = _read_answers(tracker, requested_key=None)
        result.events.append(("opt_out_withdrawn", {}))
        dispatcher.utter_message(text="Great, happy to help! Let's pick up where we left off.")
        commands = turn_commands(
            tracker.sender_id,
            latest_message_id(tracker),
            result,
            clock.now(),
            consent_text=None,
            flow=conversation_flow(tracker),
        )
        await self.save(dispatcher, tracker, commands)
        return [
            *answer_slot_events(tracker, result.answers),
            SlotSet(STATUS_SLOT, None),
            SlotSet(CONFIRMING_SLOT, None),
        ]


class CompleteQualification(LeadAction):
    """Thanks the shopper and records that every question was handled."""

    # The closing line says what happens next (a specialist will be in touch, or
    # how to reach the team): offering a person right after it would contradict it.
    offers_human = False

    def name(self) -> str:
        """Action name used in domain.yml."""
        return "action_complete_qualification"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Summarise the answers and record ``qualification_completed``."""
        answers = answers_of(tracker)
        summary = assistant().summary(conversation_flow(tracker), answers)
        consent = answers.get(CONSENT_KEY)
        if isinstance(consent, dict) and consent.get("value") is True:
            closing = "Thanks! A specialist will be in touch soon."
        elif _asked_for_a_person(tracker):
            # The hand-over reply promised a reply; without details it cannot happen.
            closing = (
                "Thanks! Without a way to contact you, our team can't get back to you: you can "
                'reach them from the Contact page, or say "contact me" if you change your mind.'
            )
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


def _asked_for_a_person(tracker: Tracker) -> bool:
    return any(
        item.get("event") == "action" and item.get("name") == HUMAN_ACTION
        for item in tracker.events
    )


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
