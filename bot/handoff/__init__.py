"""Handoff to sales: routing rules, SLAs in business hours, and durable signed notifications."""

from __future__ import annotations

from dataclasses import replace

from bot.catalog import load_catalog
from bot.catalog.rates import load_rates
from bot.handoff.config import (
    DEFAULT_CONFIG_PATH,
    WHSEC_PATTERN,
    Channel,
    HandoffConfig,
    HandoffConfigError,
    load_handoff_config,
)
from bot.handoff.planner import HandoffNotice, HandoffPlanner, LeadWrite, ack_token
from bot.settings import Settings

# Channels set up from the environment, without editing the YAML (see README).
ENV_WEBHOOK = "env-webhook"
ENV_SLACK = "env-slack"
ENV_EMAIL = "env-email"


def handoff_config_for(settings: Settings) -> HandoffConfig:
    """The handoff YAML plus the channels configured by environment variables, validated."""
    config = load_handoff_config(settings.handoff_config_path)
    if settings.handoff_webhook_url:
        if not settings.handoff_webhook_secret:
            raise HandoffConfigError(
                "HANDOFF_WEBHOOK_URL is set but HANDOFF_WEBHOOK_SECRET is not: webhooks are "
                "always signed (make a secret with: python -m bot handoffs secret)"
            )
        secrets = tuple(settings.handoff_webhook_secret.split())
        bad = [s for s in secrets if not WHSEC_PATTERN.match(s)]
        if bad:
            raise HandoffConfigError(
                "HANDOFF_WEBHOOK_SECRET: expected 'whsec_' followed by base64 of 24 to 64 "
                "random bytes (several secrets separated by spaces while rotating)"
            )
        config = config.with_channel(
            Channel(ENV_WEBHOOK, "webhook", url=settings.handoff_webhook_url, secrets=secrets)
        )
    if settings.handoff_slack_webhook_url:
        config = config.with_channel(
            Channel(ENV_SLACK, "slack", url=settings.handoff_slack_webhook_url)
        )
    if settings.handoff_email_to:
        config = config.with_channel(
            Channel(
                ENV_EMAIL, "email", to=tuple(settings.handoff_email_to.replace(",", " ").split())
            )
        )
    if settings.smtp_host:
        config = replace(
            config,
            smtp=replace(
                config.smtp, host=settings.smtp_host, port=settings.smtp_port or config.smtp.port
            ),
        )
    return config


def planner_for(settings: Settings, config: HandoffConfig | None = None) -> HandoffPlanner:
    """The handoff planner configured by ``settings``."""
    return HandoffPlanner(
        config or handoff_config_for(settings),
        public_url=settings.public_url,
        signing_key=settings.signing_key,
        currency=settings.shop_currency,
        rates=load_rates(settings.rates_path),
        catalog=load_catalog(settings.catalog_path),
    )


__all__ = [
    "DEFAULT_CONFIG_PATH",
    "HandoffConfig",
    "HandoffConfigError",
    "HandoffNotice",
    "HandoffPlanner",
    "LeadWrite",
    "ack_token",
    "handoff_config_for",
    "load_handoff_config",
    "planner_for",
]
