"""The sequential graph runner and DIET's direct graph call give the trained model's exact results.

One ``MessageProcessor`` loads ``models/current.tar.gz`` with Rasa's ``DaskGraphRunner``;
a :class:`~rasa_ext.graph_runner.SequentialGraphRunner` over the same graph nodes then
parses the same messages and predicts at every step of the conversation tests
(``tests/test_stories.yml``), and every result must equal Rasa's.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from rasa.core.processor import MessageProcessor
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.engine.exceptions import GraphRunError
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
from rasa.shared.nlu.constants import TEXT

from bot.settings import PROJECT_ROOT
from rasa_ext import dialogue_states, tf_predict
from rasa_ext.graph_runner import SequentialGraphRunner, execution_order
from tests.e2e.conftest import MODEL

MESSAGES = [
    "hi",
    "I'm interested in your products",
    "sometime next month",
    "the blue hoodie in M",
    "Lyon",
    "around 300 bucks",
    "yes",
    "no thanks",
    "Jane Doe",
    "jane@example.com",
    "are you a bot?",
    "can I talk to a person",
    "stop",
    "bonjour, je cherche un sweat noir",
    "ich möchte in zwei wochen kaufen",
    "",
    "???",
    "x" * 2000,
]


@pytest.fixture(scope="module")
def processors() -> Iterator[tuple[MessageProcessor, MessageProcessor]]:
    if not MODEL.exists():
        pytest.fail(f"no trained model at {MODEL}: run `make train` first", pytrace=False)
    rasa = MessageProcessor(MODEL, InMemoryTrackerStore(None), None, None)  # type: ignore[arg-type]
    assert type(rasa.graph_runner) is DaskGraphRunner
    sequential = copy.copy(rasa)
    runner = SequentialGraphRunner.__new__(SequentialGraphRunner)
    # The same graph nodes (same loaded components), run without dask.
    runner.__dict__.update(
        {key: value for key, value in vars(rasa.graph_runner).items() if key != "_orders"}
    )
    sequential.graph_runner = runner
    yield rasa, sequential


def comparable(prediction: Any) -> dict[str, Any]:
    """A prediction's fields; its events without the time they were made at."""

    def timeless(events: Any) -> list[dict[str, Any]]:
        return [
            {key: value for key, value in event.as_dict().items() if key != "timestamp"}
            for event in events or []
        ]

    state = dict(vars(prediction))
    state.pop("diagnostic_data", None)
    state["events"] = timeless(state.get("events"))
    state["optional_events"] = timeless(state.get("optional_events"))
    return state


def story_trackers(processor: MessageProcessor) -> Iterator[tuple[str, DialogueStateTracker]]:
    """Each conversation test's tracker just before each of its bot actions."""
    domain = processor.domain
    steps = YAMLStoryReader(domain).read_from_file(str(PROJECT_ROOT / "tests" / "test_stories.yml"))
    for step in steps:
        tracker = DialogueStateTracker.from_events(f"story-{step.block_name}", [], domain.slots)
        for event in step.events:
            if isinstance(event, ActionExecuted):
                yield f"{step.block_name} before {event.action_name}", tracker.copy()
            if isinstance(event, UserUttered) and event.text:
                # As the processor would read it: the parse of the text.
                parsed = asyncio.run(processor.parse_message(_message(event.text)))
                event = UserUttered(event.text, parsed["intent"], parsed["entities"], parsed)
            tracker.update(event, domain)


def _message(text: str) -> Any:
    from rasa.core.channels.channel import UserMessage

    return UserMessage(text, sender_id="graph-runner")


def test_parses_are_rasa_s(processors: tuple[MessageProcessor, MessageProcessor]) -> None:
    rasa, sequential = processors
    for text in MESSAGES:
        expected = asyncio.run(rasa.parse_message(_message(text)))
        got = asyncio.run(sequential.parse_message(_message(text)))
        assert got == expected, text
        assert got[TEXT] == text


def test_predictions_are_rasa_s(processors: tuple[MessageProcessor, MessageProcessor]) -> None:
    rasa, sequential = processors
    compared = 0
    for where, tracker in story_trackers(rasa):
        expected = rasa._predict_next_with_tracker(tracker.copy())
        got = sequential._predict_next_with_tracker(tracker.copy())
        assert comparable(got) == comparable(expected), where
        compared += 1
    # The 27 conversation tests hold 94 bot actions.
    assert compared >= 90


def test_runs_only_what_the_targets_need(
    processors: tuple[MessageProcessor, MessageProcessor],
) -> None:
    _, sequential = processors
    schema = sequential.graph_runner._graph_schema
    nlu_target = sequential.model_metadata.nlu_target
    order = execution_order(schema, (nlu_target,))
    assert order[-1] == nlu_target
    assert set(order) == set(schema.minimal_graph_schema([nlu_target]).nodes)
    for position, name in enumerate(order):
        for needed in schema.nodes[name].needs.values():
            if needed in schema.nodes:
                assert order.index(needed) < position, (name, needed)


def test_an_input_named_like_a_node_is_refused(
    processors: tuple[MessageProcessor, MessageProcessor],
) -> None:
    _, sequential = processors
    node = next(iter(sequential.graph_runner._graph_schema.nodes))
    with pytest.raises(GraphRunError, match="clashes with a node name"):
        sequential.graph_runner.run(inputs={"__message__": node}, targets=[node])


def test_diet_predicts_the_same_through_its_concrete_function(
    processors: tuple[MessageProcessor, MessageProcessor],
) -> None:
    from rasa.utils.tensorflow.models import RasaModel

    rasa, _ = processors
    tf_predict.install()
    rasa_predict = tf_predict.RASA_METHODS["_rasa_predict"]
    batches: list[tuple[RasaModel, Any]] = []

    def capture(model: RasaModel, batch_in: Any) -> Any:
        batches.append((model, batch_in))
        return rasa_predict(model, batch_in)

    RasaModel._rasa_predict = capture
    try:
        for text in MESSAGES:
            asyncio.run(rasa.parse_message(_message(text)))
    finally:
        tf_predict.RASA_METHODS.clear()
        RasaModel._rasa_predict = rasa_predict
        tf_predict.install()
    assert len(batches) == len(MESSAGES)
    for model, batch_in in batches:
        expected = rasa_predict(model, batch_in)
        got = RasaModel._rasa_predict(model, batch_in)
        assert got is not expected
        assert set(got) == set(expected)
        for key, value in expected.items():
            if isinstance(value, dict):
                assert set(got[key]) == set(value)
                for name, part in value.items():
                    assert np.array_equal(np.asarray(got[key][name]), np.asarray(part)), name
            else:
                assert np.array_equal(np.asarray(got[key]), np.asarray(value)), key
    assert tf_predict._CONCRETE, "the concrete function was not used"


def test_policies_predict_the_same_from_their_window_of_states(
    processors: tuple[MessageProcessor, MessageProcessor],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every conversation test after 40 earlier turns: the cut states predict as all of them."""
    rasa, _ = processors
    dialogue_states.install()
    policies = [
        node._component
        for node in rasa.graph_runner._instantiated_nodes.values()
        if hasattr(node._component, "featurizer")
    ]
    assert {type(policy).__name__ for policy in policies} >= {"RulePolicy", "MemoizationPolicy"}
    windows = [dialogue_states.policy_window(policy) for policy in policies]
    assert all(window is not None for window in windows), windows

    domain = rasa.domain
    parsed = asyncio.run(rasa.parse_message(_message("are you a bot?")))
    earlier = [ActionExecuted("action_session_start"), ActionExecuted("action_listen")]
    for _ in range(40):
        earlier += [
            UserUttered("are you a bot?", parsed["intent"], parsed["entities"], parsed),
            ActionExecuted("utter_iamabot"),
            BotUttered("I am a bot."),
            ActionExecuted("action_listen"),
        ]
    steps = YAMLStoryReader(domain).read_from_file(str(PROJECT_ROOT / "tests" / "test_stories.yml"))
    compared = 0
    for step in steps:
        tracker = DialogueStateTracker.from_events(f"long-{step.block_name}", earlier, domain.slots)
        for event in step.events:
            if isinstance(event, ActionExecuted) and event.action_name != "action_listen":
                dialogue_states.forget()
                cut = rasa._predict_next_with_tracker(tracker.copy())
                with monkeypatch.context() as patched:
                    patched.setattr(dialogue_states, "policy_window", lambda policy: None)
                    dialogue_states.forget()
                    whole = rasa._predict_next_with_tracker(tracker.copy())
                assert comparable(cut) == comparable(whole), (step.block_name, event.action_name)
                compared += 1
            if isinstance(event, UserUttered) and event.text:
                message = asyncio.run(rasa.parse_message(_message(event.text)))
                event = UserUttered(event.text, message["intent"], message["entities"], message)
            tracker.update(event, domain)
    assert compared >= 60
