"""Marketer-editable question flows (``data/flows/*.yml``)."""

from bot.flows.model import ANSWER_TYPES, Flow, FlowError, Question, load_flow

__all__ = ["ANSWER_TYPES", "Flow", "FlowError", "Question", "load_flow"]
