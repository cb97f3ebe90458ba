"""The action server registers exactly the custom actions the domain declares."""

from __future__ import annotations

from pathlib import Path

import yaml
from rasa_sdk.executor import ActionExecutor


def test_every_domain_action_is_registered_and_nothing_else() -> None:
    domain = yaml.safe_load(Path("domain.yml").read_text(encoding="utf-8"))
    executor = ActionExecutor()
    executor.register_package("actions")
    registered = set(executor.actions)
    assert registered == set(domain["actions"])


def test_flow_questions_are_form_slots_asked_by_the_validation_action() -> None:
    from bot.flows import load_flow

    domain = yaml.safe_load(Path("domain.yml").read_text(encoding="utf-8"))
    flow = load_flow(Path("data/flows/default.yml"))
    assert flow.keys == domain["forms"]["qualification_form"]["required_slots"]
    asking = [f"action_ask_{key}" for key in flow.keys] + [f"utter_ask_{key}" for key in flow.keys]
    # Rasa would ask with these instead of the flow's wording.
    assert not set(asking) & (set(domain["actions"]) | set(domain["responses"]))
