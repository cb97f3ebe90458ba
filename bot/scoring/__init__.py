"""Intent + fit scoring of leads: pure functions, no database.

The scorer is a function of a lead's facts (:class:`LeadFacts`, folded from its
events and answers), the configuration and ``now``; it does no I/O once built
(:func:`scorer_for` reads the configuration, catalogue and rates files). The
lead service folds every write into the lead's facts and scores it with this
package, in the write's transaction.
"""

from bot.catalog import load_catalog, load_rates
from bot.scoring.config import (
    DEFAULT_CONFIG_PATH,
    STOREFRONT_EVENT_TYPES,
    ScoringConfig,
    ScoringConfigError,
    load_scoring_config,
)
from bot.scoring.facts import AnswerFact, EventFact, LeadFacts, facts_from_history
from bot.scoring.scorer import Reason, Scorer, ScoreResult, score
from bot.settings import Settings


def scorer_for(settings: Settings) -> Scorer:
    """The scorer configured by ``settings`` (scoring YAML, catalogue, rates), validated."""
    return Scorer(
        load_scoring_config(settings.scoring_config_path),
        load_catalog(settings.catalog_path),
        load_rates(settings.rates_path),
    )


__all__ = [
    "DEFAULT_CONFIG_PATH",
    "STOREFRONT_EVENT_TYPES",
    "AnswerFact",
    "EventFact",
    "LeadFacts",
    "Reason",
    "ScoreResult",
    "Scorer",
    "ScoringConfig",
    "ScoringConfigError",
    "facts_from_history",
    "load_scoring_config",
    "score",
    "scorer_for",
]
