"""Marketer-editable question flows (``data/flows/*.yml``)."""

from bot.flows.loader import FlowContext, load_flow, load_flows
from bot.flows.model import ANSWER_TYPES, Flow, FlowError, FlowSet, Question

__all__ = [
    "ANSWER_TYPES",
    "Flow",
    "FlowContext",
    "FlowError",
    "FlowSet",
    "Question",
    "load_flow",
    "load_flows",
]
