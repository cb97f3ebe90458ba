"""The handoff configuration: teams, business hours, SLAs, triggers and channels.

See ``default.yml`` for the format and the reasoning. Loading validates the
file and reports every problem as ``path:line: field: message``. Secrets stay
out of the file: any string may be written ``${VARIABLE}`` and is read from
the environment when the file is loaded.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Extra, Field, ValidationError, conint, root_validator, validator
from pydantic.error_wrappers import ErrorWrapper

from bot.yamlconf import Location, describe, load_document

DEFAULT_CONFIG_PATH = Path(__file__).with_name("default.yml")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
STAGES = ("cold", "warm", "hot")
# Triggers fired by an event of the shopper (storefront or chat).
TRIGGER_EVENTS = (
    "product_view",
    "variant_select",
    "compare",
    "add_to_cart",
    "shipping_check",
    "checkout_start",
    "payment_info",
    "email_click",
    "human_requested",
    "qualification_completed",
)
_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
# "24:00": open until midnight (business hours treat it as the next day's 00:00).
END_OF_DAY = time(23, 59, 59, 999999)
_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
# Standard Webhooks: a secret is "whsec_" + base64 of 24 to 64 random bytes.
WHSEC_PATTERN = re.compile(r"^whsec_[A-Za-z0-9+/]{32,88}={0,2}$")


def webhook_secret(value: str) -> str:
    """A Standard Webhooks secret (``whsec_`` + base64 of 24 to 64 bytes), or ValueError."""
    if not WHSEC_PATTERN.match(value):
        raise ValueError(
            "expected a Standard Webhooks secret: 'whsec_' followed by base64 of "
            "24 to 64 random bytes (make one with: python -m bot handoffs secret)"
        )
    return value


class HandoffConfigError(ValueError):
    """A handoff configuration that cannot be used; names the file, line and field."""


def parse_duration(value: Any) -> float:
    """Seconds of ``30``, ``"5s"``, ``"5m"``, ``"2h"`` or ``"3d"`` (a bare number is seconds)."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30s, 5m, 2h or 1d")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if match is None:
            raise ValueError(f"expected a duration such as 30s, 5m, 2h or 1d, got {value!r}")
        seconds = float(match.group(1)) * _DURATION_UNITS[match.group(2)]
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


@dataclass(frozen=True)
class OpeningHours:
    """One day's opening hours, local time of the team."""

    opens: time
    closes: time


@dataclass(frozen=True)
class Rep:
    """A salesperson who receives handoffs."""

    name: str
    email: str | None
    capacity: int


@dataclass(frozen=True)
class Team:
    """Reps who share handoffs, their hours and where their notifications go."""

    name: str
    timezone: ZoneInfo
    hours: Mapping[int, OpeningHours]  # weekday (Monday 0) → hours; missing days are closed
    holidays: frozenset[date]
    reps: tuple[Rep, ...]
    channels: tuple[str, ...]
    escalate_to: tuple[str, ...]


@dataclass(frozen=True)
class Sla:
    """How fast a rep must answer: a number of business minutes, or by closing time."""

    name: str
    respond_within_minutes: int | None
    by_end_of_business_day: bool
    rank: int  # 0 is the most urgent


@dataclass(frozen=True)
class Trigger:
    """A situation that hands a lead to a team with an SLA."""

    name: str
    sla: Sla
    team: str
    rank: int  # strength: lower is stronger (SLA first, then file order)
    stage: str | None = None
    event: str | None = None
    no_followup: str | None = None
    after_minutes: int = 0
    budget_at_least: int | None = None
    returning_after_hours: float | None = None
    min_stage: str | None = None


@dataclass(frozen=True)
class Channel:
    """Where notifications are delivered: a signed webhook, Slack, or email."""

    name: str
    type: str
    url: str | None = None
    secrets: tuple[str, ...] = ()
    to: tuple[str, ...] = ()


@dataclass(frozen=True)
class Delivery:
    """How the outbox delivers: timeout, retry schedule (seconds) and parallelism."""

    timeout_seconds: float = 10.0
    retry_schedule: tuple[float, ...] = (0.0, 5.0, 300.0, 1800.0, 7200.0, 18000.0) + (36000.0,) * 6
    jitter: float = 0.1
    concurrency: int = 32


@dataclass(frozen=True)
class Smtp:
    """The mail server used by email channels."""

    host: str = "localhost"
    port: int = 25
    sender: str = "leads@localhost"
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    use_tls: bool = False


@dataclass(frozen=True)
class HandoffConfig:
    """The whole handoff configuration."""

    teams: Mapping[str, Team]
    slas: Mapping[str, Sla]
    triggers: tuple[Trigger, ...]
    channels: Mapping[str, Channel]
    delivery: Delivery = field(default_factory=Delivery)
    smtp: Smtp = field(default_factory=Smtp)
    source: Path | None = None

    def trigger(self, name: str) -> Trigger:
        """The trigger called ``name``."""
        for trigger in self.triggers:
            if trigger.name == name:
                return trigger
        raise KeyError(name)

    def with_channel(self, channel: Channel) -> HandoffConfig:
        """A copy with ``channel`` added, notified by every team for every handoff."""
        teams = {name: _replace_team(team, channel.name) for name, team in self.teams.items()}
        return HandoffConfig(
            teams=MappingProxyType(teams),
            slas=self.slas,
            triggers=self.triggers,
            channels=MappingProxyType({**self.channels, channel.name: channel}),
            delivery=self.delivery,
            smtp=self.smtp,
            source=self.source,
        )


def _replace_team(team: Team, channel: str) -> Team:
    return Team(
        name=team.name,
        timezone=team.timezone,
        hours=team.hours,
        holidays=team.holidays,
        reps=team.reps,
        channels=tuple(dict.fromkeys((*team.channels, channel))),
        escalate_to=tuple(dict.fromkeys((*team.escalate_to, channel))),
    )


class _Strict(BaseModel):
    class Config:
        extra = Extra.forbid


class _SlaIn(_Strict):
    respond_within_minutes: conint(strict=True, ge=1, le=7 * 24 * 60) | None = None  # type: ignore[valid-type]
    by: Literal["end_of_business_day"] | None = None

    @root_validator(skip_on_failure=True)
    def _one_rule(cls, values: dict[str, Any]) -> dict[str, Any]:
        """Exactly one way to set the deadline."""
        if (values.get("respond_within_minutes") is None) == (values.get("by") is None):
            raise ValueError(
                "give exactly one of respond_within_minutes: N or by: end_of_business_day"
            )
        return values


class _RepIn(_Strict):
    name: str = Field(..., min_length=1, max_length=120)
    email: str | None = Field(None, max_length=254)
    capacity: conint(strict=True, ge=1, le=10_000) = 20  # type: ignore[valid-type]


class _TeamIn(_Strict):
    timezone: str
    hours: dict[str, str]
    holidays: list[date] = []
    reps: list[_RepIn] = Field(..., min_items=1)
    channels: list[str] = []
    escalate_to: list[str] = []

    @validator("timezone")
    def _known_zone(cls, value: str) -> str:
        """An IANA time zone such as Europe/Paris."""
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}: use an IANA name such as Europe/Paris"
            ) from None
        return value

    @validator("hours")
    def _valid_hours(cls, value: dict[str, str]) -> dict[str, str]:
        """Weekday → "HH:MM-HH:MM", opening before closing, at least one open day."""
        # Each bad day is reported at its own line (a nested error located at the day).
        errors: list[ErrorWrapper] = []
        for day, span in value.items():
            try:
                if day not in WEEKDAYS:
                    raise ValueError(f"unknown day {day!r}: expected one of {', '.join(WEEKDAYS)}")
                _parse_hours(span)
            except ValueError as exc:
                errors.append(ErrorWrapper(exc, loc=day))
        if errors:
            raise ValidationError(errors, _TeamIn)
        if not value:
            raise ValueError("give the opening hours of at least one day, e.g. mon: 09:00-18:00")
        return value

    @validator("reps")
    def _unique_reps(cls, value: list[_RepIn]) -> list[_RepIn]:
        """Reps are told apart by name."""
        names = [rep.name for rep in value]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"rep names must be unique: {', '.join(twice)} given twice")
        return value


def _parse_hours(span: Any) -> OpeningHours:
    match = _HOURS.match(str(span)) if isinstance(span, str) else None
    if match is None:
        raise ValueError(f"expected opening hours like 09:00-18:00, got {span!r}")
    h1, m1, h2, m2 = (int(part) for part in match.groups())
    if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
        raise ValueError(f"{span!r} is not a time of day")
    opens = time(h1, m1)
    closes = END_OF_DAY if h2 == 24 else time(h2, m2)
    if closes <= opens:
        raise ValueError(f"closing time must be after opening time in {span!r}")
    return OpeningHours(opens, closes)


class _WhenIn(_Strict):
    stage: Literal["warm", "hot"] | None = None
    event: str | None = None
    no_followup: str | None = None
    after_minutes: conint(strict=True, ge=1, le=7 * 24 * 60) | None = None  # type: ignore[valid-type]
    budget_at_least: conint(strict=True, ge=1) | None = None  # type: ignore[valid-type]
    returning_after_hours: float | None = Field(None, gt=0, le=24 * 365)
    min_stage: Literal["warm", "hot"] | None = None

    @validator("event")
    def _known_event(cls, value: str | None) -> str | None:
        """Only events a shopper can cause."""
        if value is not None and value not in TRIGGER_EVENTS:
            raise ValueError(
                f"unknown event {value!r}: expected one of {', '.join(TRIGGER_EVENTS)}"
            )
        return value

    @validator("no_followup")
    def _known_followup(cls, value: str | None) -> str | None:
        """The event that cancels the trigger if it comes in time."""
        if value is not None and value not in (*TRIGGER_EVENTS, "purchase"):
            raise ValueError(f"unknown event {value!r}")
        return value

    @root_validator(skip_on_failure=True)
    def _one_condition(cls, values: dict[str, Any]) -> dict[str, Any]:
        """One main condition; ``no_followup`` needs ``event`` and ``after_minutes``."""
        main = [
            k
            for k in ("stage", "event", "budget_at_least", "returning_after_hours")
            if values.get(k) is not None
        ]
        if len(main) != 1:
            raise ValueError(
                "give exactly one of stage, event, budget_at_least or returning_after_hours"
                + (f" (got {', '.join(main)})" if main else "")
            )
        followup, after = values.get("no_followup"), values.get("after_minutes")
        if (followup is None) != (after is None):
            raise ValueError("no_followup and after_minutes go together")
        if followup is not None and values.get("event") is None:
            raise ValueError("no_followup needs an event to wait after")
        return values


class _TriggerIn(_Strict):
    name: str = Field(..., regex=r"^[a-z][a-z0-9_]{0,63}$")
    when: _WhenIn
    sla: str
    team: str


class _WebhookIn(_Strict):
    type: Literal["webhook"]
    url: str
    secrets: list[str] = Field(..., min_items=1)

    _whsec = validator("secrets", each_item=True, allow_reuse=True)(webhook_secret)


class _SlackIn(_Strict):
    type: Literal["slack"]
    url: str


class _EmailIn(_Strict):
    type: Literal["email"]
    to: list[str] = Field(..., min_items=1)


class _SmtpIn(_Strict):
    host: str = "localhost"
    port: conint(strict=True, ge=1, le=65535) = 25  # type: ignore[valid-type]
    sender: str = "leads@localhost"
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    use_tls: bool = False


class _DeliveryIn(_Strict):
    timeout: Any = "10s"
    retry_schedule: list[Any] = Field(..., min_items=1, max_items=50)
    jitter: float = Field(0.1, ge=0, le=0.5)
    concurrency: conint(strict=True, ge=1, le=256) = 32  # type: ignore[valid-type]

    @validator("timeout")
    def _timeout(cls, value: Any) -> float:
        """Between 1 and 60 seconds."""
        seconds = parse_duration(value)
        if not 0.1 <= seconds <= 60:
            raise ValueError("timeout must be between 0.1s and 60s")
        return seconds

    @validator("retry_schedule", each_item=True)
    def _delay(cls, value: Any) -> float:
        """Each delay is a duration."""
        return parse_duration(value)


class _ConfigIn(_Strict):
    slas: dict[str, _SlaIn]
    teams: dict[str, _TeamIn]
    channels: dict[str, dict[str, Any]] = {}
    triggers: list[_TriggerIn] = Field(..., min_items=1)
    delivery: _DeliveryIn | None = None
    smtp: _SmtpIn = _SmtpIn()

    @validator("slas", "teams")
    def _not_empty(cls, value: dict[str, Any]) -> dict[str, Any]:
        """At least one SLA and one team."""
        if not value:
            raise ValueError("define at least one")
        return value


_CHANNEL_MODELS: dict[str, type[_Strict]] = {
    "webhook": _WebhookIn,
    "slack": _SlackIn,
    "email": _EmailIn,
}


def _expand_env(
    data: Any, env: Mapping[str, str], path: Location = ()
) -> tuple[Any, list[tuple[Location, str]]]:
    """Replace ``${NAME}`` in every string; unset variables are problems."""
    problems: list[tuple[Location, str]] = []
    if isinstance(data, dict):
        out: dict[Any, Any] = {}
        for key, value in data.items():
            out[key], found = _expand_env(value, env, (*path, key))
            problems += found
        return out, problems
    if isinstance(data, list):
        items = []
        for index, value in enumerate(data):
            item, found = _expand_env(value, env, (*path, index))
            items.append(item)
            problems += found
        return items, problems
    if isinstance(data, str):
        missing = [name for name in _ENV_REFERENCE.findall(data) if not env.get(name)]
        if missing:
            problems.append((path, f"environment variable {missing[0]} is not set"))
            return data, problems
        return _ENV_REFERENCE.sub(lambda m: env[m.group(1)], data), problems
    return data, problems


def load_handoff_config(
    path: Path = DEFAULT_CONFIG_PATH, environ: Mapping[str, str] | None = None
) -> HandoffConfig:
    """Read and validate a handoff configuration; raises :class:`HandoffConfigError`."""
    data, root = load_document(path, HandoffConfigError, "handoff configuration")
    if not isinstance(data, dict):
        raise HandoffConfigError(f"{path}:1: expected a mapping with slas, teams and triggers")
    data, problems = _expand_env(data, os.environ if environ is None else environ)
    if problems:
        raise HandoffConfigError(describe(path, root, problems, "handoff configuration"))
    try:
        parsed = _ConfigIn.parse_obj(data)
    except ValidationError as exc:
        problems = [(tuple(error["loc"]), error["msg"]) for error in exc.errors()]
        raise HandoffConfigError(describe(path, root, problems, "handoff configuration")) from exc
    channels: dict[str, Channel] = {}
    for name, raw in parsed.channels.items():
        kind = raw.get("type") if isinstance(raw, dict) else None
        model = _CHANNEL_MODELS.get(kind) if isinstance(kind, str) else None
        if model is None:
            problems.append((("channels", name, "type"), "expected type webhook, slack or email"))
            continue
        try:
            channel = model.parse_obj(raw)
        except ValidationError as exc:
            problems += [
                (("channels", name, *error["loc"]), error["msg"]) for error in exc.errors()
            ]
            continue
        channels[name] = Channel(
            name=name,
            type=kind,  # type: ignore[arg-type]
            url=getattr(channel, "url", None),
            secrets=tuple(getattr(channel, "secrets", ())),
            to=tuple(getattr(channel, "to", ())),
        )
    problems += _cross_check(parsed, channels)
    if problems:
        raise HandoffConfigError(describe(path, root, problems, "handoff configuration"))
    return _build(parsed, channels, path)


def _cross_check(config: _ConfigIn, channels: dict[str, Channel]) -> list[tuple[Location, str]]:
    problems: list[tuple[Location, str]] = []
    for team_name, team in config.teams.items():
        for key in ("channels", "escalate_to"):
            for index, channel in enumerate(getattr(team, key)):
                if channel not in config.channels:
                    known = ", ".join(config.channels) or "none defined"
                    problems.append(
                        (
                            ("teams", team_name, key, index),
                            f"unknown channel {channel!r} (channels: {known})",
                        )
                    )
    names: set[str] = set()
    for index, trigger in enumerate(config.triggers):
        if trigger.name in names:
            problems.append(
                (("triggers", index, "name"), f"trigger {trigger.name!r} is defined twice")
            )
        names.add(trigger.name)
        if trigger.sla not in config.slas:
            problems.append(
                (
                    ("triggers", index, "sla"),
                    f"unknown SLA {trigger.sla!r}: expected one of {', '.join(config.slas)}",
                )
            )
        if trigger.team not in config.teams:
            problems.append(
                (
                    ("triggers", index, "team"),
                    f"unknown team {trigger.team!r}: expected one of {', '.join(config.teams)}",
                )
            )
    return problems


def _build(config: _ConfigIn, channels: dict[str, Channel], path: Path) -> HandoffConfig:
    slas = {
        name: Sla(
            name=name,
            respond_within_minutes=sla.respond_within_minutes,
            by_end_of_business_day=sla.by == "end_of_business_day",
            rank=rank,
        )
        for rank, (name, sla) in enumerate(config.slas.items())
    }
    teams = {
        name: Team(
            name=name,
            timezone=ZoneInfo(team.timezone),
            hours=MappingProxyType(
                {WEEKDAYS.index(day): _parse_hours(span) for day, span in team.hours.items()}
            ),
            holidays=frozenset(team.holidays),
            reps=tuple(Rep(rep.name, rep.email, rep.capacity) for rep in team.reps),
            channels=tuple(team.channels),
            escalate_to=tuple(team.escalate_to or team.channels),
        )
        for name, team in config.teams.items()
    }
    # Strength: the more urgent SLA wins; between equal SLAs, the earlier trigger in the file.
    order = sorted(
        range(len(config.triggers)), key=lambda i: (slas[config.triggers[i].sla].rank, i)
    )
    strength = {index: rank for rank, index in enumerate(order)}
    triggers = tuple(
        Trigger(
            name=trigger.name,
            sla=slas[trigger.sla],
            team=trigger.team,
            rank=strength[index],
            stage=trigger.when.stage,
            event=trigger.when.event,
            no_followup=trigger.when.no_followup,
            after_minutes=trigger.when.after_minutes or 0,
            budget_at_least=trigger.when.budget_at_least,
            returning_after_hours=trigger.when.returning_after_hours,
            min_stage=trigger.when.min_stage,
        )
        for index, trigger in enumerate(config.triggers)
    )
    delivery = (
        Delivery(
            timeout_seconds=config.delivery.timeout,
            retry_schedule=tuple(config.delivery.retry_schedule),
            jitter=config.delivery.jitter,
            concurrency=config.delivery.concurrency,
        )
        if config.delivery is not None
        else Delivery()
    )
    return HandoffConfig(
        teams=MappingProxyType(teams),
        slas=MappingProxyType(slas),
        triggers=triggers,
        channels=MappingProxyType(channels),
        delivery=delivery,
        smtp=Smtp(**config.smtp.dict()),
        source=path,
    )
