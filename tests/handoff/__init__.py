"""Handoff tests; ``HANDOFF_CONFIG`` is the handoff file whose rules and hours they assert."""

from pathlib import Path

HANDOFF_CONFIG = Path(__file__).with_name("handoff.yml")
