"""Follow-up plays: messages to consenting shoppers by stage and signal, through the outbox."""

from __future__ import annotations

from bot.catalog import load_catalog
from bot.catalog.rates import load_rates
from bot.followups.config import FollowupConfig, FollowupConfigError, load_followup_config
from bot.followups.planner import FollowupPlanner
from bot.followups.zones import shop_zone
from bot.settings import Settings


def followup_planner_for(
    settings: Settings, config: FollowupConfig | None = None
) -> FollowupPlanner:
    """The follow-up planner ``settings`` configure (``FOLLOWUPS_CONFIG``, catalogue, rates …)."""
    try:
        zone = shop_zone(settings.shop_timezone, settings.shop_country)
    except ValueError as exc:
        raise FollowupConfigError(str(exc)) from None
    return FollowupPlanner(
        config or load_followup_config(settings.followups_config_path),
        catalog=load_catalog(settings.catalog_path),
        rates=load_rates(settings.rates_path),
        currency=settings.shop_currency,
        signing_key=settings.signing_key,
        public_url=settings.public_url,
        shop_zone=zone,
    )


__all__ = [
    "FollowupConfig",
    "FollowupConfigError",
    "FollowupPlanner",
    "followup_planner_for",
    "load_followup_config",
]
