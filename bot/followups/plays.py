"""Which plays are due for a lead, and when: pure rules over what the lead store knows.

The planner reads a batch of leads' signals in a few set-based queries and
asks :func:`due_plays` for each; nothing here touches the database, so the
rules are tested with plain values and the same ``now``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from bot.answers.budget import Budget
from bot.catalog import Catalog
from bot.catalog.rates import RateTable
from bot.followups.config import FollowupConfig, Play

# A later step of the funnel means the earlier one was not left behind.
LATER_STEPS = {"add_to_cart": ("checkout_start", "purchase"), "checkout_start": ("purchase",)}


@dataclass(frozen=True)
class LeadSignals:
    """What the rules read about one lead (current answers, latest shop steps, open handoff)."""

    lead_id: str
    stage: str
    score: int
    since: datetime  # when the lead reached its stage (or was created)
    # Latest time of each storefront step (add_to_cart, checkout_start, purchase …).
    steps: Mapping[str, datetime] = field(default_factory=dict)
    # The variant the shopper chose (answer, else the latest variant they picked) and when.
    variant_id: str | None = None
    variant_at: datetime | None = None
    timeline_days: int | None = None
    timeline_at: datetime | None = None
    budget: Budget | None = None
    budget_at: datetime | None = None
    # The open, unacknowledged handoff's SLA deadline.
    handoff_due_at: datetime | None = None


@dataclass(frozen=True)
class Due:
    """A play due for a lead: when its conditions became true and when to send."""

    play: Play
    signal_at: datetime
    due_at: datetime
    held_out: bool


def held_out(seed: str, play: str, lead_id: str, share: float) -> bool:
    """Whether the lead is in the play's control group: a hash, the same on every run."""
    if share <= 0:
        return False
    digest = hashlib.sha256(f"{seed}\x00{play}\x00{lead_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def chosen_price(
    catalog: Catalog, variant_id: str | None, currency: str, rates: RateTable
) -> Decimal | None:
    """The chosen variant's current price in ``currency`` (``None``: unknown variant)."""
    found = catalog.variant(variant_id) if variant_id else None
    if found is None:
        return None
    variant = found[1]
    return rates.convert(variant.price, variant.currency, currency)


def budget_under(signals: LeadSignals, catalog: Catalog, currency: str, rates: RateTable) -> bool:
    """Whether the most the shopper said they would spend is under the chosen variant's price."""
    if signals.budget is None or signals.budget.open_ended:
        return False
    price = chosen_price(catalog, signals.variant_id, currency, rates)
    budget = signals.budget.in_currency(currency, rates)
    return price is not None and budget is not None and budget.top < price


def due_plays(
    config: FollowupConfig,
    signals: LeadSignals,
    now: datetime,
    *,
    catalog: Catalog,
    currency: str,
    rates: RateTable,
    planned: frozenset[str] = frozenset(),
) -> list[Due]:
    """The plays whose conditions hold for the lead at ``now`` and that it has not had yet."""
    found: list[Due] = []
    for play in config.plays:
        if play.name in planned:
            continue
        timing = _signal(play, signals, now, catalog, currency, rates)
        if timing is None:
            continue
        signal_at, due_at = timing
        found.append(
            Due(
                play,
                signal_at,
                due_at,
                held_out(config.holdout.seed, play.name, signals.lead_id, config.holdout.share),
            )
        )
    return found


def _signal(
    play: Play,
    signals: LeadSignals,
    now: datetime,
    catalog: Catalog,
    currency: str,
    rates: RateTable,
) -> tuple[datetime, datetime] | None:
    """(when the conditions became true, when to send), or ``None`` if they do not hold."""
    when = play.when
    if when.stages and signals.stage not in when.stages:
        return None
    if when.min_score is not None and signals.score < when.min_score:
        return None
    # The stage counts from when the lead reached it; other signals from their own time.
    times: list[datetime] = [signals.since] if when.stages or when.min_score is not None else []
    if when.left is not None:
        left_at = signals.steps.get(when.left.event)
        if left_at is None or any(
            signals.steps.get(step, left_at) > left_at for step in LATER_STEPS[when.left.event]
        ):
            return None
        ready = left_at + timedelta(seconds=when.left.seconds)
        if ready > now:
            return None
        times.append(ready)
    stated: datetime | None = None
    if when.timeline_weeks_away is not None:
        if signals.timeline_days is None or signals.timeline_at is None:
            return None
        if signals.timeline_days < 7 * when.timeline_weeks_away:
            return None
        stated = signals.timeline_at + timedelta(days=signals.timeline_days)
        if stated <= now:
            return None
        times.append(signals.timeline_at)
    if when.budget_under_price:
        if not budget_under(signals, catalog, currency, rates):
            return None
        times += [at for at in (signals.budget_at, signals.variant_at) if at is not None]
    if when.handoff_past_sla:
        if signals.handoff_due_at is None or signals.handoff_due_at > now:
            return None
        times.append(signals.handoff_due_at)
    signal_at = max(times, default=signals.since)
    if play.days_before_stated_date is not None and stated is not None:
        due_at = max(signal_at, stated - timedelta(days=play.days_before_stated_date))
    else:
        due_at = signal_at + timedelta(seconds=play.delay_seconds)
    return signal_at, due_at
