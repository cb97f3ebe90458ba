"""The follow-up configuration: plays, frequency cap, quiet hours, holdout and stop rules.

See ``default.yml`` for the format. Loading validates the file and reports
every problem as ``path:line: field: message``; ``${VARIABLE}`` in any text is
read from the environment, as in the handoff file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from email.utils import parseaddr
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from pydantic import BaseModel, Extra, Field, ValidationError, conint, root_validator, validator

from bot.handoff.config import Channel, _expand_env, parse_duration, webhook_secret
from bot.yamlconf import Location, describe, load_document

DEFAULT_CONFIG_PATH = Path(__file__).with_name("default.yml")
TEMPLATES_DIR = Path(__file__).with_name("templates")
STAGES = ("cold", "warm", "hot")
# Storefront steps a shopper can leave behind: the cart, the checkout.
LEFT_EVENTS = ("add_to_cart", "checkout_start")
EMAIL = "email"
# A template is three files: <name>.subject.txt, <name>.txt and <name>.html.
TEMPLATE_PARTS = ("subject.txt", "txt", "html")
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")


class FollowupConfigError(ValueError):
    """A follow-up configuration that cannot be used; names the file, line and field."""


@dataclass(frozen=True)
class Left:
    """A storefront step left behind: ``event`` seen, no purchase within ``seconds``."""

    event: str
    seconds: float


@dataclass(frozen=True)
class Conditions:
    """What must hold for a play to be due (every condition given)."""

    stages: frozenset[str] = frozenset()
    min_score: int | None = None
    left: Left | None = None
    timeline_weeks_away: int | None = None
    budget_under_price: bool = False
    handoff_past_sla: bool = False


@dataclass(frozen=True)
class Play:
    """One follow-up: conditions, timing, channel and template."""

    name: str
    when: Conditions
    channel: str
    template: str
    priority: int
    delay_seconds: float = 0.0
    # Set: sent this many days before the shopper's stated date instead of after ``delay``.
    days_before_stated_date: int | None = None


@dataclass(frozen=True)
class FrequencyCap:
    """At most ``messages`` follow-ups per lead in any ``days`` days."""

    messages: int
    days: int


@dataclass(frozen=True)
class QuietHours:
    """A nightly window (shopper's local time) in which nothing is sent; may cross midnight."""

    start: time
    end: time

    def contains(self, moment: time) -> bool:
        """Whether the local time ``moment`` falls in the window."""
        if self.start <= self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end


@dataclass(frozen=True)
class Holdout:
    """The share of due leads that gets no message, chosen by a seeded hash."""

    share: float
    seed: str


@dataclass(frozen=True)
class FollowupConfig:
    """The whole follow-up configuration."""

    plays: tuple[Play, ...]
    sender: str
    frequency_cap: FrequencyCap
    quiet_hours: QuietHours | None
    holdout: Holdout
    stop_on: frozenset[str]
    channels: Mapping[str, Channel] = field(default_factory=lambda: MappingProxyType({}))
    shop_url: str = ""
    product_link: str = "/products/{product_id}"
    cart_link: str = "/cart"
    source: Path | None = None

    def play(self, name: str) -> Play:
        """The play called ``name``; ``KeyError`` names the known ones."""
        for play in self.plays:
            if play.name == name:
                return play
        raise KeyError(
            f"no play {name!r} in {self.source}: expected one of "
            + ", ".join(p.name for p in self.plays)
        )


class _Strict(BaseModel):
    class Config:
        extra = Extra.forbid


class _LeftIn(_Strict):
    event: Literal["add_to_cart", "checkout_start"]
    for_: Any = Field(..., alias="for")

    @validator("for_")
    def _duration(cls, value: Any) -> float:
        """A duration of at least a minute."""
        seconds = parse_duration(value)
        if seconds < 60:
            raise ValueError("give at least 1m: a cart is not left the moment it is filled")
        return seconds


class _WhenIn(_Strict):
    stage: list[Literal["cold", "warm", "hot"]] | None = None
    min_score: conint(strict=True, ge=0, le=100) | None = None  # type: ignore[valid-type]
    left: _LeftIn | None = None
    timeline_weeks_away: conint(strict=True, ge=1, le=104) | None = None  # type: ignore[valid-type]
    budget_under_price: bool | None = None
    handoff_past_sla: bool | None = None

    @validator("stage", pre=True)
    def _one_or_many(cls, value: Any) -> Any:
        """``stage: warm`` is ``stage: [warm]``."""
        return [value] if isinstance(value, str) else value

    @root_validator(skip_on_failure=True)
    def _a_signal(cls, values: dict[str, Any]) -> dict[str, Any]:
        """At least one condition, and ``true`` for the yes/no ones."""
        for flag in ("budget_under_price", "handoff_past_sla"):
            if values.get(flag) is False:
                raise ValueError(f"{flag}: false is no condition: leave it out")
        if not any(value is not None for value in values.values()):
            raise ValueError(
                "give at least one condition: stage, min_score, left, timeline_weeks_away, "
                "budget_under_price or handoff_past_sla"
            )
        return values


class _TimedIn(_Strict):
    days_before: conint(strict=True, ge=0, le=90) = 0  # type: ignore[valid-type]


class _PlayIn(_Strict):
    name: str = Field(..., regex=r"^[a-z][a-z0-9_]{0,63}$")
    when: _WhenIn
    delay: Any = None
    timed_to_stated_date: _TimedIn | None = None
    channel: str = EMAIL
    template: str = Field(..., regex=r"^[a-z][a-z0-9_]{0,63}$")
    priority: conint(strict=True, ge=0, le=99) = 50  # type: ignore[valid-type]

    @validator("delay")
    def _delay(cls, value: Any) -> float | None:
        """A duration up to a year."""
        if value is None:
            return None
        seconds = parse_duration(value)
        if seconds > 366 * 86400:
            raise ValueError("a delay of more than a year: write it in days, at most 366d")
        return seconds

    @root_validator(skip_on_failure=True)
    def _timing(cls, values: dict[str, Any]) -> dict[str, Any]:
        """Either a delay or the stated date, which needs a timeline condition."""
        timed = values.get("timed_to_stated_date")
        if timed is not None and values.get("delay") is not None:
            raise ValueError("give delay or timed_to_stated_date, not both")
        when = values.get("when")
        if timed is not None and (when is None or when.timeline_weeks_away is None):
            raise ValueError(
                "timed_to_stated_date needs the condition timeline_weeks_away (a stated date)"
            )
        return values


class _CapIn(_Strict):
    messages: conint(strict=True, ge=1, le=100)  # type: ignore[valid-type]
    days: conint(strict=True, ge=1, le=365)  # type: ignore[valid-type]


class _QuietIn(_Strict):
    start: str
    end: str

    @validator("start", "end")
    def _clock(cls, value: str) -> str:
        """A time of day such as 21:00."""
        _parse_clock(value)
        return value

    @root_validator(skip_on_failure=True)
    def _not_empty(cls, values: dict[str, Any]) -> dict[str, Any]:
        """A window of some length."""
        if values.get("start") == values.get("end"):
            raise ValueError("start and end are the same time: leave quiet_hours out instead")
        return values


class _HoldoutIn(_Strict):
    share: float = Field(..., ge=0, le=0.9)
    seed: str = Field(..., min_length=1, max_length=200)


class _WebhookIn(_Strict):
    type: Literal["webhook"]
    url: str = Field(..., regex=r"^https?://")
    secrets: list[str] = Field(..., min_items=1)

    _whsec = validator("secrets", each_item=True, allow_reuse=True)(webhook_secret)


class _LinksIn(_Strict):
    product: str = Field("/products/{product_id}", regex=r"^/.*\{product_id\}")
    cart: str = Field("/cart", regex=r"^/")


class _ConfigIn(_Strict):
    sender: str
    shop_url: str = Field("", regex=r"^(https?://[^\s/]+(/[^\s]*)?)?$")
    links: _LinksIn = Field(default_factory=lambda: _LinksIn.parse_obj({}))
    plays: list[_PlayIn] = Field(..., min_items=1)
    frequency_cap: _CapIn
    quiet_hours: _QuietIn | None = None
    holdout: _HoldoutIn
    stop_on: list[Literal["purchase", "reply", "handoff"]] = ["purchase", "reply", "handoff"]
    channels: dict[str, _WebhookIn] = {}

    @validator("sender")
    def _address(cls, value: str) -> str:
        """``Name <address>`` or a bare address."""
        address = parseaddr(value)[1]
        local, _, domain = address.partition("@")
        if not local or not domain or any(c in address for c in " <>") or "@" in domain:
            raise ValueError(
                f"expected an email address such as 'Shop <hello@shop.example>', got {value!r}"
            )
        return value

    @validator("channels")
    def _not_email(cls, value: dict[str, _WebhookIn]) -> dict[str, _WebhookIn]:
        """``email`` is the built-in channel's name."""
        if EMAIL in value:
            raise ValueError("'email' is the built-in email channel: name a webhook otherwise")
        return value


def _parse_clock(value: str) -> time:
    match = _CLOCK.match(value.strip()) if isinstance(value, str) else None
    if match is None or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ValueError(f"expected a time of day such as 21:00, got {value!r}")
    return time(int(match.group(1)), int(match.group(2)))


def load_followup_config(
    path: Path = DEFAULT_CONFIG_PATH,
    environ: Mapping[str, str] | None = None,
    templates: Path = TEMPLATES_DIR,
) -> FollowupConfig:
    """Read and validate a follow-up configuration; raises :class:`FollowupConfigError`."""
    what = "follow-up configuration"
    data, root = load_document(path, FollowupConfigError, what)
    if not isinstance(data, dict):
        raise FollowupConfigError(f"{path}:1: expected a mapping with sender, plays, holdout …")
    data, problems = _expand_env(data, os.environ if environ is None else environ)
    if problems:
        raise FollowupConfigError(describe(path, root, problems, what))
    try:
        parsed = _ConfigIn.parse_obj(data)
    except ValidationError as exc:
        problems = [(_located(error["loc"]), error["msg"]) for error in exc.errors()]
        raise FollowupConfigError(describe(path, root, problems, what)) from exc
    problems = _cross_check(parsed, templates)
    if problems:
        raise FollowupConfigError(describe(path, root, problems, what))
    return _build(parsed, path)


def _located(loc: tuple[Any, ...]) -> Location:
    """A pydantic error location as the YAML spells it (``for``, not ``for_``)."""
    return tuple("for" if part == "for_" else part for part in loc)


def _cross_check(config: _ConfigIn, templates: Path) -> list[tuple[Location, str]]:
    problems: list[tuple[Location, str]] = []
    names: set[str] = set()
    for index, play in enumerate(config.plays):
        if play.name in names:
            problems.append((("plays", index, "name"), f"play {play.name!r} is defined twice"))
        names.add(play.name)
        if play.channel != EMAIL and play.channel not in config.channels:
            known = ", ".join([EMAIL, *config.channels])
            problems.append(
                (("plays", index, "channel"), f"unknown channel {play.channel!r}: one of {known}")
            )
        missing = [
            f"{play.template}.{part}"
            for part in TEMPLATE_PARTS
            if not (templates / f"{play.template}.{part}").is_file()
        ]
        if missing:
            problems.append(
                (
                    ("plays", index, "template"),
                    f"template {play.template!r} is incomplete: {', '.join(missing)} not found "
                    f"in {templates}",
                )
            )
    return problems


def _build(config: _ConfigIn, path: Path) -> FollowupConfig:
    plays = tuple(
        Play(
            name=play.name,
            when=Conditions(
                stages=frozenset(play.when.stage or ()),
                min_score=play.when.min_score,
                left=(
                    Left(play.when.left.event, play.when.left.for_)
                    if play.when.left is not None
                    else None
                ),
                timeline_weeks_away=play.when.timeline_weeks_away,
                budget_under_price=bool(play.when.budget_under_price),
                handoff_past_sla=bool(play.when.handoff_past_sla),
            ),
            channel=play.channel,
            template=play.template,
            priority=play.priority,
            delay_seconds=play.delay or 0.0,
            days_before_stated_date=(
                play.timed_to_stated_date.days_before
                if play.timed_to_stated_date is not None
                else None
            ),
        )
        for play in config.plays
    )
    quiet = (
        QuietHours(_parse_clock(config.quiet_hours.start), _parse_clock(config.quiet_hours.end))
        if config.quiet_hours is not None
        else None
    )
    channels = {
        name: Channel(name=name, type="webhook", url=hook.url, secrets=tuple(hook.secrets))
        for name, hook in config.channels.items()
    }
    return FollowupConfig(
        plays=plays,
        sender=config.sender,
        frequency_cap=FrequencyCap(config.frequency_cap.messages, config.frequency_cap.days),
        quiet_hours=quiet,
        holdout=Holdout(config.holdout.share, config.holdout.seed),
        stop_on=frozenset(config.stop_on),
        channels=MappingProxyType(channels),
        shop_url=config.shop_url.rstrip("/"),
        product_link=config.links.product,
        cart_link=config.links.cart,
        source=path,
    )
