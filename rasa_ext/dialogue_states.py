"""The policies' dialogue states of a conversation, continued from the last turn, not replayed.

Before every prediction, Rasa 3.6.21's MemoizationPolicy and RulePolicy ask
``Domain.states_for_tracker_history`` for the conversation's states: it replays the
tracker's applied events (``DialogueStateTracker.generate_all_prior_trackers``)
from the session start and derives one state at each ``ActionExecuted``, a few
times per prediction and a few predictions per turn, so each turn costs more than
the one before.

The derivation is a left fold over ``tracker.applied_events()``: the state at an
action depends only on the applied events before it and on the fold's own running
values (the last ML action, whether the turn was hidden, the previous state). So it
is kept per conversation, with a checkpoint at each of the latest actions (the
replayed tracker before the action and the running values after its state), and
a later call resumes from the latest checkpoint whose applied events are still the
*same event objects* (Rasa's tracker copies share them; a rewind, a loop undo or a
tracker read afresh from the store changes the objects or the prefix, and then the
fold resumes earlier or starts over). Anything unusual (a different tracker class,
no checkpoint left) runs Rasa's own method.

Callers change the states they get (``TrackerFeaturizer._choose_last_user_input``
deletes keys), so every call gets its own copies.
"""

from __future__ import annotations

import base64
import itertools
import json
import operator
import zlib
from collections import OrderedDict
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rasa_ext.tracker_cache import copy_tracker

if TYPE_CHECKING:
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import Event
    from rasa.shared.core.trackers import DialogueStateTracker

State = dict[str, Any]

# Checkpoints kept per conversation: a loop undo or a rewind goes back a few actions.
MAX_CHECKPOINTS = 32
MAX_CONVERSATIONS = 512


@dataclass
class Checkpoint:
    """The fold just after the state of the ``ActionExecuted`` at ``index`` of applied events."""

    index: int
    # The replayed tracker before that action is applied.
    tracker: DialogueStateTracker
    states: int
    last_ml_action_sub_state: Any
    turn_was_hidden: bool


@dataclass
class Fold:
    """One conversation's fold for one set of arguments."""

    applied: list[Event]
    states: list[State] = field(default_factory=list)
    checkpoints: list[Checkpoint] = field(default_factory=list)


_Key = tuple[str, int, bool, bool, str, bool, int | None]
_FOLDS: OrderedDict[_Key, Fold] = OrderedDict()
# Domains whose id() is part of a key, kept alive so that the id is not reused.
_DOMAINS: dict[int, Domain] = {}


def _common_prefix(first: Sequence[Event], second: Sequence[Event]) -> int:
    """How many leading events the two hold in common (the same objects)."""
    shorter = min(len(first), len(second))
    mismatch = next(
        itertools.compress(itertools.count(), map(operator.is_not, first, second)), shorter
    )
    return min(mismatch, shorter)


def _copy_states(states: list[State]) -> list[State]:
    """Copies of the states and of their sub-state dicts (which hold strings and tuples).

    Rasa's states share a user sub-state where ``_substitute_rule_only_user_input``
    gave a state the previous one's; the copies do not. The callers' changes are the
    same whether shared or not: ``_remove_user_text_if_intent`` drops the text from
    every user sub-state that has an intent, and ``_choose_last_user_input`` changes
    the last state only when its previous action is ``action_listen``, which is when
    no state took its user sub-state from another.
    """
    return [{name: dict(sub) for name, sub in state.items()} for state in states]


# Set while a policy computes its prediction states: (states it reads, whether
# states after action_unlikely_intent are dropped before it counts them).
_WINDOW: ContextVar[tuple[int, bool] | None] = ContextVar("rasa_ext_states_window", default=None)


def _window_start(states: list[State], size: int, skips_unlikely_intent: bool) -> int:
    """Index of the first of the last ``size`` states (not counting dropped ones)."""
    from rasa.core.featurizers.tracker_featurizers import _is_prev_action_unlikely_intent_in_state

    counted = 0
    for index in range(len(states) - 1, -1, -1):
        if not (skips_unlikely_intent and _is_prev_action_unlikely_intent_in_state(states[index])):
            counted += 1
            if counted == size:
                return index
    return 0


def policy_window(policy: Any) -> tuple[int, bool] | None:
    """How many of the last dialogue states ``policy`` reads when it predicts; None: all.

    For Rasa 3.6.21's MemoizationPolicy and RulePolicy (exactly those classes):

    - with a ``max_history``, the featurizer keeps the last ``max_history`` states
      after dropping states that follow ``action_unlikely_intent`` (policies of ML
      data; ``MaxHistoryTrackerFeaturizer.prediction_states``);
    - without one, MemoizationPolicy looks its states' key up among the keys it
      learned, so more states than the longest key can never match, cut or not;
      RulePolicy compares states from the last backwards with each rule's, and a
      rule is applicable at every state before its first
      (``RulePolicy._is_rule_applicable``), so states further back than the longest
      rule change no match. When no rule matches, the states' own key is the
      prediction's source, only looked up among rule keys
      (``RULES_NOT_IN_STORIES``). One state more than the longest key keeps every
      such lookup failing, whether the states are cut or not.
    """
    from rasa.core.featurizers.tracker_featurizers import MaxHistoryTrackerFeaturizer
    from rasa.core.policies.memoization import MemoizationPolicy
    from rasa.core.policies.policy import SupportedData
    from rasa.core.policies.rule_policy import RulePolicy

    if type(policy) not in (MemoizationPolicy, RulePolicy):
        return None
    featurizer = policy.featurizer
    if not isinstance(featurizer, MaxHistoryTrackerFeaturizer):
        return None
    skips_unlikely_intent = policy.supported_data() == SupportedData.ML_DATA
    if featurizer.max_history:
        return featurizer.max_history, skips_unlikely_intent
    longest = _LONGEST_KEYS.get(id(policy))
    if longest is None or longest[0] is not policy.lookup:
        longest = (policy.lookup, _longest_key(policy))
        _LONGEST_KEYS[id(policy)] = longest
    return longest[1] + 1, skips_unlikely_intent


_LONGEST_KEYS: dict[int, tuple[Any, int]] = {}


def _longest_key(policy: Any) -> int:
    """At least as many states as the longest key the policy can look a prediction up in.

    RulePolicy's keys (in all its lookups) are JSON lists of states. MemoizationPolicy's
    have their quotes removed and may be compressed (``_create_feature_key``); a state
    prints as at least ``{}`` and the next one follows ``, ``, so a key of ``n``
    characters holds at most ``n // 4`` states.
    """
    from rasa.core.policies.rule_policy import RulePolicy

    if type(policy) is RulePolicy:
        # Besides keys, the lookups hold slot, loop and default-rule names; a name is
        # never a JSON list, so never equal to a key made of states.
        longest = 0
        for table in policy.lookup.values():
            for key in table:
                if isinstance(key, str) and key.startswith("["):
                    longest = max(longest, len(json.loads(key)))
        return longest
    compressed = bool(policy.config.get("enable_feature_string_compression"))
    longest = 0
    for key in policy.lookup:
        text = zlib.decompress(base64.b64decode(key)).decode() if compressed else key
        longest = max(longest, len(text) // 4 + 1)
    return longest


class _Folder:
    """Rasa 3.6.21's ``Domain.states_for_tracker_history`` loop, one step at a time."""

    def __init__(
        self,
        domain: Domain,
        omit_unset_slots: bool,
        ignore_rule_only_turns: bool,
        rule_only_data: dict[str, Any] | None,
        states: list[State],
        last_ml_action_sub_state: Any,
        turn_was_hidden: bool,
    ) -> None:
        self.domain = domain
        self.omit_unset_slots = omit_unset_slots
        self.ignore_rule_only_turns = ignore_rule_only_turns
        self.rule_only_data = rule_only_data
        self.states = states
        self.last_ml_action_sub_state = last_ml_action_sub_state
        self.turn_was_hidden = turn_was_hidden

    def step(self, tr: DialogueStateTracker, hide_rule_turn: bool) -> None:
        """The loop body for one prior tracker (the same code, in the same order)."""
        from typing import cast

        import rasa.shared.core.constants

        domain = self.domain
        if self.ignore_rule_only_turns:
            if not self.turn_was_hidden:
                self.last_ml_action_sub_state = domain._get_prev_action_sub_state(tr)
            if not tr.followup_action and tr.latest_action_name != tr.active_loop_name:
                self.turn_was_hidden = hide_rule_turn
            if self.turn_was_hidden:
                return
        state = domain.get_active_state(tr, omit_unset_slots=self.omit_unset_slots)
        if self.ignore_rule_only_turns:
            domain._remove_rule_only_features(state, self.rule_only_data)
            if self.states:
                domain._substitute_rule_only_user_input(state, self.states[-1])
            if self.last_ml_action_sub_state:
                state[rasa.shared.core.constants.PREVIOUS_ACTION] = cast(
                    Any, self.last_ml_action_sub_state
                )
        self.states.append(domain._clean_state(state))


def states_for_tracker_history(
    domain: Domain,
    tracker: DialogueStateTracker,
    omit_unset_slots: bool = False,
    ignore_rule_only_turns: bool = False,
    rule_only_data: dict[str, Any] | None = None,
) -> list[State]:
    """``Domain.states_for_tracker_history``, resumed from the conversation's last checkpoint."""
    from rasa.shared.core.events import ActionExecuted
    from rasa.shared.core.trackers import DialogueStateTracker

    if type(tracker) is not DialogueStateTracker or tracker.is_rule_tracker:
        rasa_states: list[State] = RASA_METHODS["states_for_tracker_history"](
            domain,
            tracker,
            omit_unset_slots=omit_unset_slots,
            ignore_rule_only_turns=ignore_rule_only_turns,
            rule_only_data=rule_only_data,
        )
        return rasa_states
    key: _Key = (
        tracker.sender_id,
        id(domain),
        omit_unset_slots,
        ignore_rule_only_turns,
        # RulePolicy passes a new dict each time (RulePolicy._get_rule_only_data).
        json.dumps(rule_only_data, sort_keys=True, default=str),
        tracker.is_rule_tracker,
        tracker._max_event_history,
    )
    applied = tracker.applied_events()
    fold = _FOLDS.pop(key, None)
    checkpoints: list[Checkpoint] = []
    if fold is not None:
        same = _common_prefix(applied, fold.applied)
        checkpoints = [checkpoint for checkpoint in fold.checkpoints if checkpoint.index < same]
    if fold is None or not checkpoints:
        replayed = tracker.init_copy()
        folder = _Folder(
            domain, omit_unset_slots, ignore_rule_only_turns, rule_only_data, [], None, False
        )
        position = 0
    else:
        start = checkpoints[-1]
        replayed = copy_tracker(start.tracker, copy_values=False)
        folder = _Folder(
            domain,
            omit_unset_slots,
            ignore_rule_only_turns,
            rule_only_data,
            fold.states[: start.states],
            start.last_ml_action_sub_state,
            start.turn_was_hidden,
        )
        replayed.update(applied[start.index])
        position = start.index + 1
    # DialogueStateTracker.generate_all_prior_trackers: yield before each action,
    # then the tracker after every applied event.
    for index in range(position, len(applied)):
        event = applied[index]
        if isinstance(event, ActionExecuted):
            before = copy_tracker(replayed, copy_values=False)
            folder.step(replayed, event.hide_rule_turn)
            checkpoints.append(
                Checkpoint(
                    index=index,
                    tracker=before,
                    states=len(folder.states),
                    last_ml_action_sub_state=folder.last_ml_action_sub_state,
                    turn_was_hidden=folder.turn_was_hidden,
                )
            )
        replayed.update(event)
    kept = Fold(applied=applied, states=folder.states, checkpoints=checkpoints[-MAX_CHECKPOINTS:])
    # The last state comes from the tracker after every applied event; it is not kept.
    window = _WINDOW.get()
    result = _copy_states(
        folder.states if window is None else folder.states[_window_start(folder.states, *window) :]
    )
    last = _Folder(
        domain,
        omit_unset_slots,
        ignore_rule_only_turns,
        rule_only_data,
        result,
        folder.last_ml_action_sub_state,
        folder.turn_was_hidden,
    )
    last.step(replayed, False)
    _FOLDS[key] = kept
    _DOMAINS[id(domain)] = domain
    while len(_FOLDS) > MAX_CONVERSATIONS:
        _FOLDS.popitem(last=False)
    return result


@dataclass
class AppliedFold:
    """``DialogueStateTracker.applied_events`` of a conversation's events, as last computed."""

    events: list[Event]
    loop_names: set[str]
    applied: list[Event]


_APPLIED: OrderedDict[tuple[str, bool, int | None], AppliedFold] = OrderedDict()


def applied_events(tracker: DialogueStateTracker) -> list[Event]:
    """``DialogueStateTracker.applied_events``, continued from the last call's events.

    Rasa's loop over the events keeps one running list (a restart or session start
    empties it, a rewind or a loop undo drops its tail); whether a loop action
    undoes depends on every loop name in the tracker. So the last call's list holds
    for a tracker whose events start with the same objects and name no new loop.
    """
    from rasa.shared.core.events import (
        ActionExecuted,
        ActionReverted,
        ActiveLoop,
        Restarted,
        SessionStarted,
        UserUtteranceReverted,
        UserUttered,
    )
    from rasa.shared.core.trackers import DialogueStateTracker

    if type(tracker) is not DialogueStateTracker:
        rasa_applied: list[Event] = RASA_METHODS["applied_events"](tracker)
        return rasa_applied
    key = (tracker.sender_id, tracker.is_rule_tracker, tracker._max_event_history)
    events = list(tracker.events)
    fold = _APPLIED.pop(key, None)
    if (
        fold is not None
        and len(events) >= len(fold.events)
        and _common_prefix(events, fold.events) == len(fold.events)
    ):
        new = events[len(fold.events) :]
        new_loop_names = {
            event.name for event in new if isinstance(event, ActiveLoop) and event.name
        }
        if not new_loop_names <= fold.loop_names:
            fold = None
    else:
        fold = None
    if fold is None:
        new = events
        loop_names = {
            event.name for event in events if isinstance(event, ActiveLoop) and event.name
        }
        applied: list[Event] = []
    else:
        loop_names = fold.loop_names
        applied = list(fold.applied)
    # The body of Rasa 3.6.21's DialogueStateTracker.applied_events loop.
    for event in new:
        if isinstance(event, (Restarted, SessionStarted)):
            applied = []
        elif isinstance(event, ActionReverted):
            tracker._undo_till_previous(ActionExecuted, applied)
        elif isinstance(event, UserUtteranceReverted):
            tracker._undo_till_previous(UserUttered, applied)
            tracker._undo_till_previous(ActionExecuted, applied)
        elif (
            isinstance(event, ActionExecuted)
            and event.action_name in loop_names
            and not tracker._first_loop_execution_or_unhappy_path(event.action_name, applied)
        ):
            tracker._undo_till_previous_loop_execution(event.action_name, applied)
        else:
            applied.append(event)
    _APPLIED[key] = AppliedFold(events=events, loop_names=loop_names, applied=list(applied))
    while len(_APPLIED) > MAX_CONVERSATIONS:
        _APPLIED.popitem(last=False)
    return applied


@dataclass
class Replay:
    """A conversation's tracker replayed from its events, as ``DialogueStateTracker.copy`` did."""

    events: list[Event]
    slots: list[tuple[str, type, dict[str, Any]]]
    tracker: DialogueStateTracker


_REPLAYS: OrderedDict[tuple[str, bool, int | None], Replay] = OrderedDict()


def _slot_definitions(tracker: DialogueStateTracker) -> list[tuple[str, type, dict[str, Any]]]:
    # What init_copy takes from the tracker's slots: everything but the value.
    return [
        (
            name,
            type(slot),
            {k: v for k, v in vars(slot).items() if k not in ("_value", "_has_been_set")},
        )
        for name, slot in tracker.slots.items()
    ]


def copy(tracker: DialogueStateTracker) -> DialogueStateTracker:
    """``DialogueStateTracker.copy``, continued from the last copy of the conversation.

    Rasa replays every event onto ``init_copy()`` (``travel_back_in_time(inf)``), so
    the copy's state is the events' state, not the tracker's own (the processor
    clears ``followup_action`` and sets ``model_id`` directly, and a copy has
    neither). Replaying is deterministic, so the last replay holds for a tracker
    whose events start with the same objects and whose slots are defined alike.
    """
    from rasa.shared.core.trackers import DialogueStateTracker

    if type(tracker) is not DialogueStateTracker:
        rasa_copy: DialogueStateTracker = RASA_METHODS["copy"](tracker)
        return rasa_copy
    events = list(tracker.events)
    key = (tracker.sender_id, tracker.is_rule_tracker, tracker._max_event_history)
    slots = _slot_definitions(tracker)
    replay = _REPLAYS.pop(key, None)
    if (
        replay is not None
        and replay.slots == slots
        and len(events) >= len(replay.events)
        and _common_prefix(events, replay.events) == len(replay.events)
    ):
        replayed = copy_tracker(replay.tracker)
        new = events[len(replay.events) :]
    else:
        replayed = tracker.init_copy()
        new = events
    if not all(event.timestamp <= float("inf") for event in new):
        # travel_back_in_time stops at such an event (a NaN timestamp); the kept
        # events all passed this check.
        rasa_copy = RASA_METHODS["copy"](tracker)
        return rasa_copy
    for event in new:
        replayed.update(event)
    _REPLAYS[key] = Replay(events=events, slots=slots, tracker=copy_tracker(replayed))
    while len(_REPLAYS) > MAX_CONVERSATIONS:
        _REPLAYS.popitem(last=False)
    return replayed


def _debug_is_logged() -> bool:
    """Whether Rasa's structlog loggers emit debug events.

    Rasa 3.6.21 configures structlog with ``make_filtering_bound_logger(level)``
    (``rasa.utils.log_utils.configure_structlog``); below that level structlog 23
    binds the level's method to ``_nop``, which drops the event, but its arguments
    are still computed by the caller.
    """
    import structlog

    wrapper = structlog.get_config().get("wrapper_class")
    debug = getattr(wrapper, "debug", None)
    return getattr(debug, "__name__", "") != "_nop"


def forget() -> None:
    """Drop every kept fold and replay."""
    _FOLDS.clear()
    _APPLIED.clear()
    _REPLAYS.clear()


RASA_METHODS: dict[str, Any] = {}


def install() -> None:
    """Route ``states_for_tracker_history`` and ``applied_events`` through the folds (once)."""
    from rasa.core.policies.policy import Policy
    from rasa.shared.core.domain import Domain

    if RASA_METHODS:
        return
    RASA_METHODS["_prediction_states"] = Policy._prediction_states
    rasa_prediction_states = Policy._prediction_states

    def _prediction_states(self: Policy, *args: Any, **kwargs: Any) -> list[State]:
        token = _WINDOW.set(policy_window(self))
        try:
            states: list[State] = rasa_prediction_states(self, *args, **kwargs)
        finally:
            _WINDOW.reset(token)
        return states

    _prediction_states.__doc__ = rasa_prediction_states.__doc__
    Policy._prediction_states = _prediction_states
    RASA_METHODS["states_for_tracker_history"] = Domain.states_for_tracker_history

    def memoized(
        self: Domain,
        tracker: DialogueStateTracker,
        omit_unset_slots: bool = False,
        ignore_rule_only_turns: bool = False,
        rule_only_data: dict[str, Any] | None = None,
    ) -> list[State]:
        return states_for_tracker_history(
            self,
            tracker,
            omit_unset_slots=omit_unset_slots,
            ignore_rule_only_turns=ignore_rule_only_turns,
            rule_only_data=rule_only_data,
        )

    memoized.__doc__ = Domain.states_for_tracker_history.__doc__
    Domain.states_for_tracker_history = memoized

    from rasa.shared.core.trackers import DialogueStateTracker

    RASA_METHODS["applied_events"] = DialogueStateTracker.applied_events

    def continued(self: DialogueStateTracker) -> list[Event]:
        return applied_events(self)

    continued.__doc__ = DialogueStateTracker.applied_events.__doc__
    DialogueStateTracker.applied_events = continued

    RASA_METHODS["copy"] = DialogueStateTracker.copy

    def replayed_copy(self: DialogueStateTracker) -> DialogueStateTracker:
        return copy(self)

    replayed_copy.__doc__ = DialogueStateTracker.copy.__doc__
    DialogueStateTracker.copy = replayed_copy

    from rasa.core.policies.rule_policy import RulePolicy

    # RulePolicy._find_action_from_rules formats every state of the conversation
    # for its "rule_policy.actions.find" debug event, and uses the text nowhere else.
    rasa_format = RulePolicy.format_tracker_states
    RASA_METHODS["format_tracker_states"] = rasa_format

    def format_tracker_states(states: list[dict[str, Any]]) -> str:
        formatted: str = rasa_format(states) if _debug_is_logged() else ""
        return formatted

    format_tracker_states.__doc__ = rasa_format.__doc__
    RulePolicy.format_tracker_states = staticmethod(format_tracker_states)
