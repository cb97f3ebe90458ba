"""Which events of a conversation the actions read, shared with the Rasa server.

The actions read ``tracker.events`` (the latest session, as dicts) in a few ways
only (``actions.common`` and ``actions.lead``):

- back to the latest shopper message: its id and time, and whether another action
  answered it already;
- back to the shopper message before it: when the bot last spoke, and whether this
  is the conversation's first message;
- the transcript not yet recorded: from the last *recording* action (ours, see
  :func:`records_transcript`) before the latest shopper message, plus, to number
  the bot's replies, back to the shopper message before that action;
- anywhere in the session: whether the shopper ever asked for a person
  (:data:`HUMAN_ACTION`).

The Rasa server sends each custom action only the events these need
(``rasa_ext.action_payload``); a test runs every reader on whole and on trimmed
event lists and requires the same answers. A new way of reading far back must be
added here and there.
"""

from __future__ import annotations

# Rasa's built-in actions: they record nothing in the lead store.
RASA_ACTIONS = frozenset(
    {
        "action_listen",
        "action_session_start",
        "action_restart",
        "action_default_fallback",
        "action_deactivate_loop",
        "action_revert_fallback_events",
        "action_default_ask_affirmation",
        "action_default_ask_rephrase",
        "action_two_stage_fallback",
        "action_unlikely_intent",
        "action_back",
        "action_extract_slots",
    }
)
FORM_NAME = "qualification_form"
# Run when the shopper asks for a person; read anywhere in the session.
HUMAN_ACTION = "action_request_human"


def records_transcript(action_name: str | None) -> bool:
    """Whether the action records the transcript up to its own replies (ours do)."""
    if not action_name:
        return False
    if action_name == FORM_NAME:
        return True
    return action_name.startswith("action_") and action_name not in RASA_ACTIONS
