"""Intent + fit scoring of leads (pure; the store calls it on every write)."""

from bot.scoring.config import (
    DEFAULT_CONFIG_PATH,
    STOREFRONT_EVENT_TYPES,
    ScoringConfig,
    ScoringConfigError,
    load_scoring_config,
)
from bot.scoring.facts import AnswerFact, EventFact, LeadFacts, facts_from_history
from bot.scoring.scorer import Reason, ScoreResult, score

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "STOREFRONT_EVENT_TYPES",
    "AnswerFact",
    "EventFact",
    "LeadFacts",
    "Reason",
    "ScoreResult",
    "ScoringConfig",
    "ScoringConfigError",
    "facts_from_history",
    "load_scoring_config",
    "score",
]
