"""Scoring tests; ``SCORING_CONFIG`` is the scoring file whose numbers they assert."""

from pathlib import Path

SCORING_CONFIG = Path(__file__).with_name("scoring.yml")
