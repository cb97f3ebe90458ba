"""What the lead service's writes return: each lead's state, and what a rescore did."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.handoff.planner import HandoffNotice


@dataclass(frozen=True)
class LeadState:
    """A lead's scoring state right after a write (what the bot and handoff react to)."""

    lead_id: str
    session_id: str
    stage: str
    previous_stage: str
    score: int
    counts: dict[str, int]
    # The lead's open handoff to sales, if any (what the bot promises the shopper).
    handoff: HandoffNotice | None = None
    # Contact fields the lead already has (name, e-mail, phone), e.g. from a web form.
    contact: dict[str, str] = field(default_factory=dict)
    # The variant the shopper last picked on the storefront (selected, added to the cart…).
    picked_variant: str | None = None

    @property
    def became_hot(self) -> bool:
        """Whether this write made the lead hot."""
        return self.stage == "hot" and self.previous_stage != "hot"


@dataclass(frozen=True)
class ApplyResult:
    """What a write did: new vs already-recorded events, and each lead's state."""

    accepted_events: int = 0
    duplicate_events: int = 0
    leads: dict[str, LeadState] = field(default_factory=dict)


@dataclass
class RescoreSummary:
    """What a full rescore did."""

    leads: int = 0
    changed: int = 0
    stage_changes: int = 0
