"""Each custom action gets the events it reads, not the whole session.

Rasa 3.6.21's ``RemoteAction._action_call_format`` sends the action server
``tracker.current_state(EventVerbosity.ALL)``: every event of the session,
serialised on each action call, parsed again by the action server. In a long chat
that grew each turn's cost with the conversation.

The actions read the events in the few ways listed in :mod:`actions.reading`, all
within a window that starts at the shopper message before the last recording
action that preceded the latest shopper message, plus one event from anywhere
(whether the shopper ever asked for a person). :func:`window` finds that window;
the request is built as Rasa builds it (same fields, ``current_state`` without
events, then the window's events), so slots, the latest message and the rest are
unchanged. When no such window exists (no shopper message yet, or no recording
action before it, or no shopper message before that) every event is sent, as
before. A test runs the actions' readers on whole and on trimmed sessions and
requires the same answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from actions.reading import HUMAN_ACTION, records_transcript

if TYPE_CHECKING:
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

_USER = "user"
_ACTION = "action"

RASA_METHODS: dict[str, Any] = {}


def window(kinds: Sequence[tuple[str, str | None]]) -> tuple[int, int | None]:
    """``(start, human)`` for events given as ``(type name, action name)``.

    The actions need ``events[start:]``, preceded by ``events[human]`` when it is
    not None (an earlier request for a person). ``start`` is 0 when they need all.
    """
    latest_user = _last(kinds, len(kinds), lambda kind, _: kind == _USER)
    if latest_user is None:
        return 0, None
    recording = _last(
        kinds, latest_user, lambda kind, name: kind == _ACTION and records_transcript(name)
    )
    if recording is None:
        return 0, None
    start = _last(kinds, recording, lambda kind, _: kind == _USER)
    if start is None:
        return 0, None
    human = next(
        (
            index
            for index in range(start)
            if kinds[index][0] == _ACTION and kinds[index][1] == HUMAN_ACTION
        ),
        None,
    )
    return start, human


def _last(kinds: Sequence[tuple[str, str | None]], before: int, wanted: Any) -> int | None:
    for index in range(before - 1, -1, -1):
        kind, name = kinds[index]
        if wanted(kind, name):
            return index
    return None


def needed_events(tracker: DialogueStateTracker) -> list[Any]:
    """The tracker's events the actions read (see :func:`window`)."""
    events = list(tracker.events)
    start, human = window(
        [(event.type_name, getattr(event, "action_name", None)) for event in events]
    )
    return ([] if human is None else [events[human]]) + events[start:]


def action_call_format(
    action: RemoteAction, tracker: DialogueStateTracker, domain: Domain
) -> dict[str, Any]:
    """Rasa's ``_action_call_format`` with :func:`needed_events` as the tracker's events."""
    import rasa
    from rasa.shared.core.trackers import EventVerbosity

    tracker_state = tracker.current_state(EventVerbosity.NONE)
    tracker_state["events"] = [event.as_dict() for event in needed_events(tracker)]
    result = {
        "next_action": action._name,
        "sender_id": tracker.sender_id,
        "tracker": tracker_state,
        "version": rasa.__version__,
    }
    if (
        not action._is_selective_domain_enabled()
        or domain.does_custom_action_explicitly_need_domain(action.name())
    ):
        result["domain"] = domain.as_dict()
    return result


def install() -> None:
    """Route ``RemoteAction._action_call_format`` through :func:`action_call_format` (once)."""
    from rasa.core.actions.action import RemoteAction

    if RASA_METHODS:
        return
    RASA_METHODS["_action_call_format"] = RemoteAction._action_call_format

    def _action_call_format(
        self: RemoteAction, tracker: DialogueStateTracker, domain: Domain
    ) -> dict[str, Any]:
        return action_call_format(self, tracker, domain)

    _action_call_format.__doc__ = RemoteAction._action_call_format.__doc__
    RemoteAction._action_call_format = _action_call_format
