"""The kept dialogue states equal Rasa's ``Domain.states_for_tracker_history`` after every event."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActionReverted,
    ActiveLoop,
    BotUttered,
    Event,
    FollowupAction,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
    deserialise_events,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot.settings import PROJECT_ROOT
from rasa_ext import dialogue_states
from rasa_ext.tracker_cache import copy_tracker

FORM = "qualification_form"
ARGUMENTS = [
    # MemoizationPolicy and RulePolicy at prediction time, and the defaults
    {},
    {"ignore_rule_only_turns": True, "rule_only_data": {"slots": ["confirming"], "loops": []}},
    {"ignore_rule_only_turns": True, "rule_only_data": {"slots": [], "loops": [FORM]}},
    {"omit_unset_slots": True},
]


@pytest.fixture(scope="module", autouse=True)
def installed() -> None:
    dialogue_states.install()


@pytest.fixture(autouse=True)
def forgotten() -> Iterator[None]:
    dialogue_states.forget()
    yield
    dialogue_states.forget()


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(PROJECT_ROOT / "domain.yml"))


def rasa_states(domain: Domain, tracker: DialogueStateTracker, **arguments: Any) -> Any:
    return dialogue_states.RASA_METHODS["states_for_tracker_history"](domain, tracker, **arguments)


def rasa_applied(tracker: DialogueStateTracker) -> list[Event]:
    applied: list[Event] = dialogue_states.RASA_METHODS["applied_events"](tracker)
    return applied


def rasa_copy(tracker: DialogueStateTracker) -> DialogueStateTracker:
    copied: DialogueStateTracker = dialogue_states.RASA_METHODS["copy"](tracker)
    return copied


def tracker_state(tracker: DialogueStateTracker) -> dict[str, Any]:
    """Every attribute, events as dicts and empty placeholder messages without their time."""
    state = {name: value for name, value in vars(tracker).items() if name != "slots"}
    state["events"] = [(type(event), event.as_dict()) for event in tracker.events]
    state["slots"] = {name: (slot.value, slot.has_been_set) for name, slot in tracker.slots.items()}
    for name in ("latest_message", "latest_bot_utterance"):
        event = state[name]
        if event is not None:
            data = event.as_dict()
            if not any(logged is event for logged in tracker.events):
                data.pop("timestamp")
            state[name] = data
    return state


def said(message: str, intent: str) -> list[Event]:
    return [
        UserUttered(message, {"name": intent, "confidence": 0.9}, parse_data={"text": message}),
    ]


def listen() -> Event:
    return ActionExecuted("action_listen")


def form_turn(message: str, slot: str, value: Any, *, first: bool = False) -> list[Event]:
    events: list[Event] = [*said(message, "inform")]
    if not first:
        events.append(ActionExecuted("action_extract_slots"))
    events += [
        ActionExecuted(FORM, policy="RulePolicy"),
        SlotSet(slot, value),
    ]
    if first:
        events.append(ActiveLoop(FORM))
    events += [
        BotUttered("next?"),
        SlotSet("requested_slot", "budget"),
        listen(),
    ]
    return events


def rule_turn(message: str, intent: str, action: str) -> list[Event]:
    return [
        *said(message, intent),
        ActionExecuted(action, policy="RulePolicy", hide_rule_turn=True),
        BotUttered("answer"),
        ActionExecuted(FORM, policy="RulePolicy"),
        listen(),
    ]


def conversation() -> list[list[Event]]:
    """Turns of a qualification with interruptions, rewinds, a restart and a new session."""
    return [
        [
            ActionExecuted("action_session_start"),
            SessionStarted(),
            listen(),
        ],
        form_turn("hi", "timeline", {"days": 30}, first=True),
        rule_turn("why?", "ask_why", "action_explain_question"),
        form_turn("Lyon", "location", {"country": "FR"}),
        rule_turn("are you a bot?", "bot_challenge", "utter_iamabot"),
        [
            *said("uh", "nlu_fallback"),
            ActionExecuted("action_default_fallback"),
            UserUtteranceReverted(),
        ],
        form_turn("300", "budget", {"amount": 300}),
        [
            *said("stop", "stop"),
            ActionExecuted("action_opt_out", hide_rule_turn=True),
            ActiveLoop(None),
            SlotSet("requested_slot", None),
            SlotSet("confirming", "opt_out"),
            listen(),
        ],
        [
            *said("no", "deny"),
            ActionExecuted("action_keep_going"),
            FollowupAction(FORM),
            ActionExecuted(FORM),
            ActiveLoop(FORM),
            listen(),
        ],
        [*said("x", "inform"), ActionExecuted("action_extract_slots"), ActionReverted()],
        form_turn("blue M", "variant", "hoodie-blue-m"),
        [
            *said("/restart", "restart"),
            ActionExecuted("action_restart"),
            Restarted(),
            ActionExecuted("action_session_start"),
            SessionStarted(),
            listen(),
        ],
        form_turn("hi", "timeline", {"days": 7}, first=True),
        form_turn("Paris", "location", {"country": "FR"}),
    ]


def test_every_prefix_of_a_turn_by_turn_conversation_has_rasas_states(domain: Domain) -> None:
    # Like the Rasa server: the kept tracker grows by a turn, and each turn's
    # events are read back from the store (new objects) before the next turn.
    tracker = DialogueStateTracker("shopper", domain.slots)
    for turn in conversation():
        live = copy_tracker(tracker)
        for event in turn:
            live.update(event)
            assert live.applied_events() == rasa_applied(live)
            assert tracker_state(live.copy()) == tracker_state(rasa_copy(live))
            for arguments in ARGUMENTS:
                expected = rasa_states(domain, live, **arguments)
                assert domain.states_for_tracker_history(live, **arguments) == expected
        for event in deserialise_events([event.as_dict() for event in turn]):
            tracker.update(event)


@pytest.mark.parametrize("seed", range(6))
def test_trackers_in_any_order_have_rasas_states(domain: Domain, seed: int) -> None:
    # Prefixes visited out of order (a rewind, a tracker read afresh, another
    # conversation's tracker with the same id) are never served from a stale fold.
    events = [event for turn in conversation() for event in turn]
    shuffled = random.Random(seed)
    for _ in range(40):
        length = shuffled.randint(0, len(events))
        prefix = events[:length]
        if shuffled.random() < 0.3:
            prefix = deserialise_events([event.as_dict() for event in prefix])
        tracker = DialogueStateTracker.from_events("shopper", prefix, domain.slots)
        arguments = shuffled.choice(ARGUMENTS)
        applied = tracker.applied_events()
        assert [id(event) for event in applied] == [id(event) for event in rasa_applied(tracker)]
        assert tracker_state(tracker.copy()) == tracker_state(rasa_copy(tracker))
        assert domain.states_for_tracker_history(tracker, **arguments) == rasa_states(
            domain, tracker, **arguments
        )


def test_callers_changing_their_states_do_not_change_the_next_callers(domain: Domain) -> None:
    tracker = DialogueStateTracker.from_events(
        "shopper", [event for turn in conversation()[:4] for event in turn], domain.slots
    )
    first = domain.states_for_tracker_history(tracker)
    for state in first:
        for sub_state in state.values():
            sub_state.clear()
    assert domain.states_for_tracker_history(tracker) == rasa_states(domain, tracker)


def test_a_copy_has_the_events_state_not_what_was_set_on_the_tracker(domain: Domain) -> None:
    # The processor clears followup_action and sets model_id on the tracker directly;
    # Rasa's copy replays the events, so it has the follow-up action and no model id.
    events = [event for turn in conversation()[:9] for event in turn]
    tracker = DialogueStateTracker.from_events("shopper", events, domain.slots)
    for _ in range(2):
        tracker.model_id = "model-1"
        tracker.clear_followup_action()
        copied = tracker.copy()
        assert tracker_state(copied) == tracker_state(rasa_copy(tracker))
        assert copied.model_id is None
        copied.update(SlotSet("timeline", {"days": 1}))
        copied.slots["location"].value = "changed"
    assert tracker.copy().slots["location"].value == {"country": "FR"}


def test_rule_policy_formats_states_only_for_a_debug_log() -> None:
    import logging

    import structlog
    from rasa.core.policies.rule_policy import RulePolicy

    states = [{"user": {"intent": "greet"}, "prev_action": {"action_name": "action_listen"}}]
    previous = structlog.get_config()
    try:
        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.INFO))
        assert RulePolicy.format_tracker_states(states) == ""
        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG))
        formatted = RulePolicy.format_tracker_states(states)
        assert formatted == dialogue_states.RASA_METHODS["format_tracker_states"](states)
        assert "user intent: greet" in formatted
    finally:
        structlog.configure(**previous)


def test_another_history_under_the_same_id_is_not_continued(domain: Domain) -> None:
    # Same sender, same length or longer, other events: nothing kept may be reused.
    first = [event for turn in conversation()[:5] for event in turn]
    other_turns = [
        conversation()[0],
        form_turn("soon", "timeline", {"days": 3}, first=True),
        rule_turn("why?", "ask_why", "action_explain_question"),
        *conversation()[3:8],
    ]
    second = [event for turn in other_turns for event in turn]
    for events in (first, second, first):
        tracker = DialogueStateTracker.from_events("shopper", events, domain.slots)
        assert tracker_state(tracker.copy()) == tracker_state(rasa_copy(tracker))
        assert tracker.applied_events() == rasa_applied(tracker)
        for arguments in ARGUMENTS:
            assert domain.states_for_tracker_history(tracker, **arguments) == rasa_states(
                domain, tracker, **arguments
            )


def _policy(cls: type, lookup: dict[str, Any], max_history: int | None = None) -> Any:
    from rasa.core.featurizers.tracker_featurizers import MaxHistoryTrackerFeaturizer

    policy = object.__new__(cls)
    # Policy keeps its featurizer in a private attribute behind a read-only property.
    policy._Policy__featurizer = MaxHistoryTrackerFeaturizer(None, max_history=max_history)
    policy.lookup = lookup
    policy.config = {"enable_feature_string_compression": False}
    return policy


def test_a_rule_policy_reads_one_state_more_than_its_longest_key() -> None:
    from rasa.core.policies.rule_policy import RulePolicy

    three = json.dumps([{}, {"prev_action": {"action_name": "action_listen"}}, {"user": {}}])
    lookup = {
        "rules": {json.dumps([{}]): "utter_greet", three: "action_listen"},
        "rules_for_loop_unhappy_path": {},
        "rules_not_in_stories": [
            json.dumps([{}, {}]),
            "predicting default action with intent back",
        ],
        "rule_only_slots": ["confirming"],
    }
    assert dialogue_states.policy_window(_policy(RulePolicy, lookup)) == (4, False)


def test_a_memoization_policy_reads_its_max_history_or_beyond_its_longest_key() -> None:
    import base64
    import zlib

    from rasa.core.policies.memoization import MemoizationPolicy

    key = json.dumps([{}, {"user": {"intent": "greet"}}], sort_keys=True).replace('"', "")
    assert dialogue_states.policy_window(_policy(MemoizationPolicy, {key: "x"}, 5)) == (5, True)
    window = dialogue_states.policy_window(_policy(MemoizationPolicy, {key: "x"}))
    assert window is not None and window[0] > 2
    compressed = _policy(
        MemoizationPolicy, {base64.b64encode(zlib.compress(key.encode())).decode(): "x"}
    )
    compressed.config["enable_feature_string_compression"] = True
    assert dialogue_states.policy_window(compressed) == window
    assert dialogue_states.policy_window(_policy(MemoizationPolicy, {})) == (1, True)
    assert dialogue_states.policy_window(object()) is None


def test_the_window_skips_states_after_action_unlikely_intent_when_the_policy_drops_them() -> None:
    unlikely = {"prev_action": {"action_name": "action_unlikely_intent"}}
    plain = {"prev_action": {"action_name": "action_listen"}}
    states = [plain, plain, unlikely, plain, unlikely]
    assert dialogue_states._window_start(states, 2, True) == 1
    assert dialogue_states._window_start(states, 2, False) == 3
    assert dialogue_states._window_start(states, 9, True) == 0
