"""The scoring configuration (see ``default.yml`` for the format and the reasoning)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from pydantic import BaseModel, Extra, Field, StrictInt, ValidationError, conint, validator

from bot.settings import PROJECT_ROOT, VAR_DIR
from bot.yamlconf import Location, describe, load_document

DEFAULT_CONFIG_PATH = Path(__file__).with_name("default.yml")

STOREFRONT_EVENT_TYPES = (
    "page_view",
    "product_view",
    "variant_select",
    "compare",
    "add_to_cart",
    "shipping_check",
    "checkout_start",
    "payment_info",
    "purchase",
    "email_click",
)
CHAT_SIGNALS = (
    "asked_shipping",
    "asked_price",
    "asked_stock",
    "asked_discount",
    "asked_returns",
    "human_requested",
    "qualification_completed",
)
# Chat answers that show buying (``LeadFacts.answer_signals``): each counts once, from
# when the shopper gave the current answer that shows it. A timeline answer counts as
# the first of these whose days (from the answer to the purchase) cover it.
ANSWER_TIMELINE_DAYS = (("answered_within_week", 7), ("answered_within_month", 30))
ANSWER_SIGNALS = (
    *(name for name, _ in ANSWER_TIMELINE_DAYS),
    "answered_variant",
    "answered_location",
    "answered_contact",
)
# A purchase is the outcome the score predicts (``evaluate`` measures it), not an input.
SCORABLE_SIGNALS = (
    tuple(t for t in STOREFRONT_EVENT_TYPES if t != "purchase") + CHAT_SIGNALS + ANSWER_SIGNALS
)
# Each step must be worth more than every step before it.
JOURNEY = (
    ("product_view",),
    ("variant_select", "compare"),
    ("add_to_cart",),
    ("shipping_check",),
    ("checkout_start",),
    ("payment_info",),
)
BROWSING_SIGNALS = ("page_view", "product_view")
STAGES = ("cold", "warm", "hot")
# Where `python -m bot scoring challenger train` keeps its models, unless configured.
DEFAULT_CHALLENGER_DIR = VAR_DIR / "challenger"


class ScoringConfigError(ValueError):
    """A scoring configuration that cannot be used; names the file, line and field."""


class _Strict(BaseModel):
    class Config:
        extra = Extra.forbid


class _SignalIn(_Strict):
    points: conint(strict=True, ge=0, le=1000)  # type: ignore[valid-type]
    half_life_days: float = Field(..., gt=0, le=3650)
    cap: conint(strict=True, ge=0, le=10_000)  # type: ignore[valid-type]

    @validator("cap")
    def _cap_covers_one(cls, value: int, values: dict[str, object]) -> int:
        """A cap below one occurrence's points would hide the signal's own value."""
        points = values.get("points")
        if isinstance(points, int) and value < points:
            raise ValueError(f"cap ({value}) must be at least points ({points})")
        return value


class _ReturnVisitsIn(_Strict):
    gap_minutes: float = Field(..., gt=0, le=24 * 60)
    window_days: float = Field(..., gt=0, le=365)
    points: conint(strict=True, ge=0, le=1000)  # type: ignore[valid-type]
    cap: conint(strict=True, ge=0, le=10_000)  # type: ignore[valid-type]


class _IntentIn(_Strict):
    signals: dict[str, _SignalIn]
    return_visits: _ReturnVisitsIn


class _BudgetIn(_Strict):
    covers_price: StrictInt
    near_price: StrictInt
    near_ratio: float = Field(..., gt=0, lt=1)
    far_below_price: conint(strict=True, le=0)  # type: ignore[valid-type]
    far_ratio: float = Field(..., gt=0, lt=1)

    @validator("far_ratio")
    def _below_near(cls, value: float, values: dict[str, object]) -> float:
        """The far-below ratio must be further below the price than the near ratio."""
        near = values.get("near_ratio")
        if isinstance(near, float) and value >= near:
            raise ValueError(f"far_ratio ({value}) must be below near_ratio ({near})")
        return value


class _LocationIn(_Strict):
    serviceable: StrictInt
    not_serviceable: conint(strict=True, le=0)  # type: ignore[valid-type]


class _VariantIn(_Strict):
    in_stock: StrictInt
    out_of_stock: StrictInt


class _BandIn(_Strict):
    within_days: conint(strict=True, ge=0, le=3650)  # type: ignore[valid-type]
    points: StrictInt


class _TimelineIn(_Strict):
    bands: list[_BandIn] = Field(..., min_items=1)
    beyond_points: StrictInt
    stale_after_days: conint(strict=True, ge=0, le=3650)  # type: ignore[valid-type]
    # A hedged answer ("maybe next week") scores this share of its band's points.
    uncertain_factor: float = Field(1.0, ge=0, le=1)

    @validator("bands")
    def _increasing(cls, value: list[_BandIn]) -> list[_BandIn]:
        """Bands are read in order, so their days must grow."""
        days = [band.within_days for band in value]
        if days != sorted(set(days)):
            raise ValueError(f"within_days must strictly increase from band to band, got {days}")
        return value


class _FitIn(_Strict):
    budget: _BudgetIn
    location: _LocationIn
    variant: _VariantIn
    timeline: _TimelineIn


class _ThresholdIn(_Strict):
    min_intent: StrictInt
    min_fit: StrictInt


class _StagesIn(_Strict):
    hot: _ThresholdIn
    warm: _ThresholdIn

    @validator("warm")
    def _warm_below_hot(cls, value: _ThresholdIn, values: dict[str, object]) -> _ThresholdIn:
        """Every hot lead must also qualify as warm."""
        hot = values.get("hot")
        if isinstance(hot, _ThresholdIn) and (
            value.min_intent > hot.min_intent or value.min_fit > hot.min_fit
        ):
            raise ValueError("warm thresholds must not be above the hot thresholds")
        return value


class _ChallengerIn(_Strict):
    hot_min_probability: float = Field(0.3, gt=0, lt=1)
    warm_min_probability: float = Field(0.08, gt=0, lt=1)
    settle_days: float = Field(7.0, ge=0, le=365)
    l2: float = Field(1.0, gt=0, le=1_000_000)
    model_dir: str | None = Field(None, min_length=1)

    @validator("warm_min_probability")
    def _warm_below_hot(cls, value: float, values: dict[str, object]) -> float:
        """Every hot lead must also qualify as warm."""
        hot = values.get("hot_min_probability")
        if isinstance(hot, float) and value > hot:
            raise ValueError(
                f"warm_min_probability ({value}) must not be above hot_min_probability ({hot})"
            )
        return value


class _ConfigIn(_Strict):
    intent: _IntentIn
    fit: _FitIn
    stages: _StagesIn
    reporting: dict[str, str] = Field(default_factory=dict)
    score_source: Literal["rules", "challenger"] = "rules"
    challenger: _ChallengerIn = Field(default_factory=lambda: _ChallengerIn.parse_obj({}))


@dataclass(frozen=True)
class ChallengerSettings:
    """How the challenger is trained, where its models live and how it stages leads."""

    hot_min_probability: float = 0.3
    warm_min_probability: float = 0.08
    # A lead that did not buy counts as a "no" once quiet this long (or marked Lost).
    settle_days: float = 7.0
    # Strength of the L2 penalty on the weights (in leads' worth of evidence).
    l2: float = 1.0
    model_dir: Path = DEFAULT_CHALLENGER_DIR

    def stage(self, probability: float) -> str:
        """The stage of a lead the challenger gives ``probability`` of buying."""
        if probability >= self.hot_min_probability:
            return "hot"
        if probability >= self.warm_min_probability:
            return "warm"
        return "cold"


@dataclass(frozen=True)
class Signal:
    """Points, decay and cap of one intent signal."""

    points: int
    half_life_days: float
    cap: int
    # Exponential decay per second (weight = exp(-decay_rate x age)), derived once.
    decay_rate: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "decay_rate", math.log(2) / (self.half_life_days * 86_400))


@dataclass(frozen=True)
class ReturnVisits:
    """Bonus for coming back."""

    gap_minutes: float
    window_days: float
    points: int
    cap: int


@dataclass(frozen=True)
class Band:
    """Points for a purchase intended within ``within_days``."""

    within_days: int
    points: int


@dataclass(frozen=True)
class ScoringConfig:
    """Validated scoring settings; ``source`` is the file they came from."""

    signals: MappingProxyType[str, Signal]
    return_visits: ReturnVisits
    budget_covers: int
    budget_near: int
    budget_near_ratio: float
    budget_far_below: int
    budget_far_ratio: float
    location_serviceable: int
    location_not_serviceable: int
    variant_in_stock: int
    variant_out_of_stock: int
    timeline_bands: tuple[Band, ...]
    timeline_beyond: int
    timeline_stale_after_days: int
    timeline_uncertain_factor: float
    hot_min_intent: int
    hot_min_fit: int
    warm_min_intent: int
    warm_min_fit: int
    reporting: MappingProxyType[str, str]
    source: Path | None = None
    score_source: str = "rules"
    challenger: ChallengerSettings = field(default_factory=ChallengerSettings)

    def stage(self, intent: int, fit: int) -> str:
        """The stage for these intent and fit scores."""
        if intent >= self.hot_min_intent and fit >= self.hot_min_fit:
            return "hot"
        if intent >= self.warm_min_intent and fit >= self.warm_min_fit:
            return "warm"
        return "cold"

    def report_label(self, stage: str) -> str | None:
        """MQL/SQL-style label of ``stage`` (``None`` when not reported)."""
        label = self.reporting.get(stage)
        return None if label in (None, "none") else label


def _cross_check(config: _ConfigIn) -> list[tuple[Location, str]]:
    """Rules that span several fields: journey order and browsing below hot."""
    problems: list[tuple[Location, str]] = []
    signals = config.intent.signals
    for name in sorted(set(signals) - set(SCORABLE_SIGNALS)):
        problems.append(
            (
                ("intent", "signals", name),
                f"unknown signal {name!r}; expected one of {', '.join(SCORABLE_SIGNALS)}",
            )
        )
    for name in sorted(set(config.reporting) - set(STAGES)):
        problems.append(
            (("reporting", name), f"unknown stage {name!r}; expected one of {', '.join(STAGES)}")
        )
    previous: tuple[str, int] | None = None
    for step in JOURNEY:
        present = [(name, signals[name].points) for name in step if name in signals]
        for name, points in present:
            if previous is not None and points <= previous[1]:
                problems.append(
                    (
                        ("intent", "signals", name, "points"),
                        f"{name} ({points}) must be worth more than {previous[0]} "
                        f"({previous[1]}): the buying journey must climb",
                    )
                )
        if present:
            previous = min(present, key=lambda item: item[1])
    browsing = sum(signals[name].cap for name in BROWSING_SIGNALS if name in signals)
    browsing += config.intent.return_visits.cap
    if browsing >= config.stages.hot.min_intent:
        problems.append(
            (
                ("intent", "return_visits", "cap"),
                f"browsing alone could make a lead hot: caps of {', '.join(BROWSING_SIGNALS)} "
                f"and return_visits add up to {browsing}, which must stay below "
                f"stages.hot.min_intent ({config.stages.hot.min_intent})",
            )
        )
    problems.extend(_timeline_order(config))
    return problems


def _timeline_order(config: _ConfigIn) -> list[tuple[Location, str]]:
    """A nearer purchase date must be worth at least a later one."""
    signals = config.intent.signals
    week, month = (name for name, _ in ANSWER_TIMELINE_DAYS)
    if week in signals and month in signals and signals[week].points < signals[month].points:
        return [
            (
                ("intent", "signals", week, "points"),
                f"{week} ({signals[week].points}) must be worth at least {month} "
                f"({signals[month].points}): a nearer purchase is the stronger sign",
            )
        ]
    return []


def load_scoring_config(path: Path = DEFAULT_CONFIG_PATH) -> ScoringConfig:
    """Read and validate a scoring configuration; raises :class:`ScoringConfigError`."""
    data, root = load_document(path, ScoringConfigError, "scoring configuration")
    if not isinstance(data, dict):
        raise ScoringConfigError(f"{path}:1: expected a mapping with intent, fit and stages")
    try:
        parsed = _ConfigIn.parse_obj(data)
    except ValidationError as exc:
        problems = [(tuple(error["loc"]), error["msg"]) for error in exc.errors()]
        raise ScoringConfigError(describe(path, root, problems, "scoring configuration")) from exc
    problems = _cross_check(parsed)
    if problems:
        raise ScoringConfigError(describe(path, root, problems, "scoring configuration"))
    return _build(parsed, path)


def _build(config: _ConfigIn, path: Path) -> ScoringConfig:
    fit = config.fit
    return ScoringConfig(
        signals=MappingProxyType(
            {
                name: Signal(s.points, s.half_life_days, s.cap)
                for name, s in config.intent.signals.items()
            }
        ),
        return_visits=ReturnVisits(**config.intent.return_visits.dict()),
        budget_covers=fit.budget.covers_price,
        budget_near=fit.budget.near_price,
        budget_near_ratio=fit.budget.near_ratio,
        budget_far_below=fit.budget.far_below_price,
        budget_far_ratio=fit.budget.far_ratio,
        location_serviceable=fit.location.serviceable,
        location_not_serviceable=fit.location.not_serviceable,
        variant_in_stock=fit.variant.in_stock,
        variant_out_of_stock=fit.variant.out_of_stock,
        timeline_bands=tuple(Band(b.within_days, b.points) for b in fit.timeline.bands),
        timeline_beyond=fit.timeline.beyond_points,
        timeline_stale_after_days=fit.timeline.stale_after_days,
        timeline_uncertain_factor=fit.timeline.uncertain_factor,
        hot_min_intent=config.stages.hot.min_intent,
        hot_min_fit=config.stages.hot.min_fit,
        warm_min_intent=config.stages.warm.min_intent,
        warm_min_fit=config.stages.warm.min_fit,
        reporting=MappingProxyType(dict(config.reporting)),
        source=path,
        score_source=config.score_source,
        challenger=_challenger(config.challenger),
    )


def _challenger(config: _ChallengerIn) -> ChallengerSettings:
    # A relative model directory is read from the project root, as the default is.
    model_dir = Path(config.model_dir) if config.model_dir else DEFAULT_CHALLENGER_DIR
    return ChallengerSettings(
        hot_min_probability=config.hot_min_probability,
        warm_min_probability=config.warm_min_probability,
        settle_days=config.settle_days,
        l2=config.l2,
        model_dir=model_dir if model_dir.is_absolute() else PROJECT_ROOT / model_dir,
    )
