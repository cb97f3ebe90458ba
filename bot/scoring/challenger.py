"""The challenger score: a logistic regression learned from outcomes over the rules' facts.

The rules (``default.yml``) are what a marketer believes makes a buyer; the
challenger is what the store's outcomes (Won, Lost, purchases) say. It reads the
same facts the rules read (:class:`LeadFacts`: storefront and chat signals,
return visits, the answers and how they meet the catalogue) as named yes/no
features, e.g. ``add_to_cart:recent`` (added to cart in the last 3 days) or
``budget:far_below`` (the budget is far below the wanted item's price), and
learns one weight per feature: an L2-penalised logistic regression, fitted by
Newton's method.

Training is streamed: :class:`Trainer` keeps one counter per distinct feature
pattern (how many leads had it and how many of them converted), so memory grows
with the number of patterns, not of leads, and the fit is over those patterns
weighted by their counts (the same solution as over every lead). Patterns are
sorted before the fit, so the same leads give the same model whatever order
they arrive in.

A lead's challenger score is on the rules' scale of points: each feature the
lead shows adds ``round(10 x weight)`` points (10 points are a factor of e on
the odds of buying), with a reason that names the fact, so reasons are ranked
like the rules' and sum exactly to the score. The stage comes from the
probability of buying and the thresholds of the scoring configuration's
``challenger`` section.

Models are versioned JSON files (``challenger-0001.json``, …) in the
configuration's model directory; the newest is the one in use.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from bot.answers.budget import Budget
from bot.catalog import NO_RATES, Catalog, RateTable
from bot.scoring.config import ChallengerSettings, ScoringConfig
from bot.scoring.facts import LeadFacts
from bot.scoring.scorer import (
    _LABELS,
    SECONDS_PER_DAY,
    Reason,
    ScoreResult,
    _item,
    budget_fit,
    count_visits,
)

# The stated minimum of outcomes: fewer and the weights would be noise.
MIN_LABELLED = 200
MIN_PER_CLASS = 30
# A signal is "recent" within this many days of the moment scored, "earlier" up to
# WINDOW_DAYS, and forgotten after.
RECENT_DAYS = 3
WINDOW_DAYS = 30
# Challenger points per unit of log-odds: +10 points multiply the odds of buying by e.
POINTS_PER_LOGIT = 10
MODEL_FORMAT = 1
MODEL_GLOB = "challenger-*.json"
_MODEL_NAME = re.compile(r"^challenger-(\d+)\.json$")
_TIMELINE_BANDS = ((7, "within_7"), (30, "within_30"), (90, "within_90"))
_FIT_PREFIXES = ("budget:", "location:", "variant:", "timeline:", "flow.")
# Features that change as time passes with nothing new happening: signals age from
# recent to earlier to forgotten, visits leave their window, a purchase date nears.
_TIMED = ("timeline:", "return_visits:")
_AGES = (":recent", ":earlier")
_FIT_LABELS = {
    "budget:covers": "budget covers the item's price",
    "budget:near": "budget is close to the item's price",
    "budget:short": "budget is short of the item's price",
    "budget:far_below": "budget is far below the item's price",
    "budget:no_rate": "budget in a currency the rate table cannot convert",
    "location:serviceable": "delivery place the shop serves",
    "location:not_serviceable": "delivery place outside the item's shipping zones",
    "variant:in_stock": "wanted variant is in stock",
    "variant:out_of_stock": "wanted variant is out of stock",
    "timeline:within_7": "plans to buy within 7 days",
    "timeline:within_30": "plans to buy within 30 days",
    "timeline:within_90": "plans to buy within 90 days",
    "timeline:later": "plans to buy in more than 90 days",
    "timeline:uncertain": "was unsure when they will buy",
    "return_visits:1": "came back once",
    "return_visits:2+": "came back twice or more",
}


class NotEnoughOutcomes(ValueError):
    """Too few labelled leads to learn from; the message names the counts."""


class ChallengerModelError(ValueError):
    """A model file that cannot be used; the message names the file."""


def features(
    facts: LeadFacts,
    now: datetime,
    config: ScoringConfig,
    catalog: Catalog,
    rates: RateTable = NO_RATES,
) -> tuple[str, ...]:
    """The challenger's features of ``facts`` at ``now``, sorted by name."""
    at = now.timestamp()
    found: list[str] = []
    answered = {name: [stamp] for name, stamp in facts.answer_signals().items()}
    for name, stamps in (*facts.signals.items(), *answered.items()):
        if not stamps:
            continue
        age = (at - stamps[-1]) / SECONDS_PER_DAY
        if age <= RECENT_DAYS:
            found.append(f"{name}:recent")
        elif age <= WINDOW_DAYS:
            found.append(f"{name}:earlier")
    visits = config.return_visits
    came = count_visits(
        facts.activity, at - visits.window_days * SECONDS_PER_DAY, visits.gap_minutes * 60
    )
    if came >= 2:
        found.append("return_visits:1" if came == 2 else "return_visits:2+")
    found += _fit_features(facts, at, config, catalog, rates)
    return tuple(sorted(set(found)))


def _fit_features(
    facts: LeadFacts, at: float, config: ScoringConfig, catalog: Catalog, rates: RateTable
) -> list[str]:
    found: list[str] = []
    product, variant, _ = _item(facts, catalog)
    budget = facts.answer("budget")
    said = Budget.of(budget["value"]) if budget is not None else None
    if said is not None and product is not None:
        price = variant.price if variant is not None else product.price
        currency = variant.currency if variant is not None else product.currency
        converted = said.in_currency(currency, rates)
        if converted is None:
            found.append("budget:no_rate")
        else:
            found.append(f"budget:{budget_fit(converted, price, config) or 'short'}")
    place = _place(facts)
    if place is not None:
        ships = catalog.ships_to(product, *place)
        found.append("location:serviceable" if ships else "location:not_serviceable")
    if product is not None and variant is not None:
        found.append("variant:in_stock" if variant.in_stock else "variant:out_of_stock")
    found += _timeline_features(facts, at, config)
    for key, entry in facts.points.items():
        if entry["p"] > 0:
            found.append(f"flow.{key}:raised")
        elif entry["p"] < 0:
            found.append(f"flow.{key}:lowered")
    return found


def _place(facts: LeadFacts) -> tuple[str, str | None, str | None] | None:
    """Country, region and area of the delivery place: answered, else shipping checked."""
    answer = facts.answer("location")
    if answer is not None and isinstance(answer["value"], dict):
        value = answer["value"]
        country = value.get("country")
        if isinstance(country, str) and country:
            region, area = value.get("region"), value.get("area")
            return (
                country,
                region if isinstance(region, str) else None,
                area if isinstance(area, str) else None,
            )
        return None
    if facts.country is not None:
        return facts.country[0], None, None
    return None


def _timeline_features(facts: LeadFacts, at: float, config: ScoringConfig) -> list[str]:
    answer = facts.answer("timeline")
    if answer is None or not isinstance(answer["value"], dict):
        return []
    days = answer["value"].get("days")
    if not isinstance(days, int) or isinstance(days, bool):
        return []
    left = days - (at - float(answer["at"])) / SECONDS_PER_DAY
    if left < -config.timeline_stale_after_days:
        return []
    band = next((name for within, name in _TIMELINE_BANDS if left <= within), "later")
    found = [f"timeline:{band}"]
    if answer["value"].get("uncertain") is True:
        found.append("timeline:uncertain")
    return found


def feature_label(name: str) -> str:
    """What a feature means, in words ("added to cart in the last 3 days")."""
    if name in _FIT_LABELS:
        return _FIT_LABELS[name]
    if name.startswith("flow."):
        key, _, change = name[len("flow.") :].rpartition(":")
        return f"the flow {'awarded' if change == 'raised' else 'deducted'} points for {key}"
    signal, _, when = name.rpartition(":")
    label = _LABELS.get(signal, signal.replace("_", " "))
    if when == "recent":
        return f"{label} in the last {RECENT_DAYS} days"
    return f"{label} {RECENT_DAYS}\u2013{WINDOW_DAYS} days before"


def is_fit_feature(name: str) -> bool:
    """Whether a feature is about fit (answers against the catalogue), not intent."""
    return name.startswith(_FIT_PREFIXES)


@dataclass(frozen=True)
class ChallengerModel:
    """A trained challenger: an intercept and a weight (log-odds) per feature.

    ``leads``/``converted`` count the labelled leads it learned from, all judged
    before ``cutoff``.
    """

    intercept: float
    weights: Mapping[str, float]
    trained_at: datetime
    cutoff: datetime
    leads: int
    converted: int
    l2: float
    settle_days: float
    version: int = 0
    source: Path | None = field(default=None, compare=False)

    def logit(self, names: Iterable[str]) -> float:
        """Log-odds of buying for a lead showing the features ``names``."""
        return self.intercept + sum(self.weights.get(name, 0.0) for name in names)

    def probability(self, names: Iterable[str]) -> float:
        """Chance of buying for a lead showing the features ``names``."""
        return _sigmoid(self.logit(names))

    def score(
        self,
        facts: LeadFacts,
        now: datetime,
        config: ScoringConfig,
        catalog: Catalog,
        rates: RateTable = NO_RATES,
    ) -> ScoreResult:
        """The challenger's score of ``facts`` at ``now``, with its reasons and stage."""
        names = features(facts, now, config, catalog, rates)
        probability = self.probability(names)
        reasons = [
            Reason(
                round(POINTS_PER_LOGIT * self.weights[name]),
                f"challenger.{name}",
                feature_label(name),
            )
            for name in names
            if name in self.weights
        ]
        fit = sum(r.points for r in reasons if is_fit_feature(r.rule[len("challenger.") :]))
        intent = sum(r.points for r in reasons) - fit
        ranked = sorted(
            (r for r in reasons if r.points != 0), key=lambda r: (-abs(r.points), r.rule)
        )
        summary = Reason(0, "challenger", f"{probability:.0%} chance to buy ({self.describe()})")
        return ScoreResult(
            score=intent + fit,
            intent_score=intent,
            fit_score=fit,
            stage=config.challenger.stage(probability),
            reasons=(*ranked, summary),
            time_dependent=any(name.startswith(_TIMED) or name.endswith(_AGES) for name in names),
        )

    def describe(self) -> str:
        """Which model this is, in words."""
        version = f"v{self.version}" if self.version else "unsaved"
        return (
            f"challenger {version}, trained {self.trained_at:%Y-%m-%d %H:%M} UTC on "
            f"{self.leads:,} leads, {self.converted:,} converted"
        )

    def ranked_weights(self) -> list[tuple[str, float]]:
        """Features by how much they move the odds, strongest first."""
        return sorted(self.weights.items(), key=lambda item: (-abs(item[1]), item[0]))

    def as_dict(self) -> dict[str, Any]:
        """JSON form (what the model file holds)."""
        return {
            "format": MODEL_FORMAT,
            "version": self.version,
            "trained_at": self.trained_at.isoformat(),
            "cutoff": self.cutoff.isoformat(),
            "leads": self.leads,
            "converted": self.converted,
            "l2": self.l2,
            "settle_days": self.settle_days,
            "points_per_logit": POINTS_PER_LOGIT,
            "intercept": self.intercept,
            "weights": dict(sorted(self.weights.items())),
        }

    @classmethod
    def from_dict(cls, data: Any, source: Path | None = None) -> ChallengerModel:
        """Inverse of :meth:`as_dict`; raises :class:`ChallengerModelError`."""
        where = str(source) if source is not None else "challenger model"
        if not isinstance(data, dict) or data.get("format") != MODEL_FORMAT:
            raise ChallengerModelError(
                f"{where}: not a challenger model of format {MODEL_FORMAT} "
                "(train a new one with `python -m bot scoring challenger train`)"
            )
        try:
            weights = {str(name): float(value) for name, value in data["weights"].items()}
            return cls(
                intercept=float(data["intercept"]),
                weights=MappingProxyType(weights),
                trained_at=_aware(data["trained_at"]),
                cutoff=_aware(data["cutoff"]),
                leads=int(data["leads"]),
                converted=int(data["converted"]),
                l2=float(data["l2"]),
                settle_days=float(data["settle_days"]),
                version=int(data["version"]),
                source=source,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ChallengerModelError(f"{where}: damaged model ({exc!r})") from exc


def _aware(text: Any) -> datetime:
    moment = datetime.fromisoformat(str(text))
    if moment.tzinfo is None:
        raise ValueError(f"time without a time zone: {text}")
    return moment.astimezone(timezone.utc)


def _sigmoid(value: float) -> float:
    if value >= 0:
        return 1.0 / (1.0 + math.exp(-value))
    odds = math.exp(value)
    return odds / (1.0 + odds)


class Trainer:
    """Counts of labelled leads per feature pattern, then the fit over them."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, ...], list[int]] = {}
        self.leads = 0
        self.converted = 0

    def add(self, names: tuple[str, ...], converted: bool) -> None:
        """Count one labelled lead showing the (sorted) features ``names``."""
        counts = self._counts.get(names)
        if counts is None:
            counts = self._counts[names] = [0, 0]
        counts[0] += 1
        counts[1] += converted
        self.leads += 1
        self.converted += converted

    def merge(self, other: Trainer) -> None:
        """Add ``other``'s counts (another share of the leads) to these."""
        for names, (leads, converted) in other._counts.items():
            counts = self._counts.setdefault(names, [0, 0])
            counts[0] += leads
            counts[1] += converted
        self.leads += other.leads
        self.converted += other.converted

    @property
    def patterns(self) -> int:
        """Distinct feature patterns seen."""
        return len(self._counts)

    def check_minimum(self) -> None:
        """Raise :class:`NotEnoughOutcomes` below the stated minimum of outcomes."""
        others = self.leads - self.converted
        if self.leads < MIN_LABELLED or min(self.converted, others) < MIN_PER_CLASS:
            raise NotEnoughOutcomes(
                f"not enough outcomes to train the challenger: {self.leads:,} labelled "
                f"leads ({self.converted:,} converted, {others:,} not converted); it needs "
                f"at least {MIN_LABELLED} labelled leads with at least {MIN_PER_CLASS} "
                f"converted and {MIN_PER_CLASS} not converted"
            )

    def fit(
        self, settings: ChallengerSettings, *, trained_at: datetime, cutoff: datetime
    ) -> ChallengerModel:
        """The L2-penalised logistic regression over the counted leads."""
        self.check_minimum()
        patterns = sorted(self._counts)
        vocabulary = sorted({name for pattern in patterns for name in pattern})
        column = {name: index + 1 for index, name in enumerate(vocabulary)}
        matrix = np.zeros((len(patterns), len(vocabulary) + 1))
        matrix[:, 0] = 1.0
        for row, pattern in enumerate(patterns):
            matrix[row, [column[name] for name in pattern]] = 1.0
        counts = np.array([self._counts[pattern] for pattern in patterns], dtype=float)
        beta = _newton(matrix, counts[:, 0], counts[:, 1], settings.l2)
        return ChallengerModel(
            intercept=float(beta[0]),
            weights=MappingProxyType({name: float(beta[column[name]]) for name in vocabulary}),
            trained_at=trained_at,
            cutoff=cutoff,
            leads=self.leads,
            converted=self.converted,
            l2=settings.l2,
            settle_days=settings.settle_days,
        )


def _newton(matrix: np.ndarray, leads: np.ndarray, converted: np.ndarray, l2: float) -> np.ndarray:
    """Coefficients maximising the binomial log-likelihood minus ``l2/2 x |w|^2``.

    The intercept (column 0) is not penalised. Each step is a Newton step, halved
    until the objective improves, so the fit converges from any start.
    """
    penalty = np.full(matrix.shape[1], l2)
    penalty[0] = 0.0

    def objective(beta: np.ndarray) -> float:
        eta = matrix @ beta
        # log(1 + e^eta), computed without overflow.
        log_total = np.logaddexp(0.0, eta)
        return float(converted @ eta - leads @ log_total - 0.5 * penalty @ (beta * beta))

    beta = np.zeros(matrix.shape[1])
    base = converted.sum() / leads.sum()
    beta[0] = math.log(base / (1 - base))
    current = objective(beta)
    for _ in range(100):
        chance = 1.0 / (1.0 + np.exp(-(matrix @ beta)))
        gradient = matrix.T @ (converted - leads * chance) - penalty * beta
        curvature = leads * chance * (1.0 - chance)
        hessian = (matrix * curvature[:, None]).T @ matrix + np.diag(penalty)
        step = np.linalg.solve(hessian + 1e-9 * np.eye(len(beta)), gradient)
        scale = 1.0
        while True:
            candidate = beta + scale * step
            value = objective(candidate)
            if value >= current - 1e-12 or scale < 1e-6:
                break
            scale /= 2
        beta, previous, current = candidate, current, value
        if float(np.max(np.abs(scale * step))) < 1e-8 or abs(current - previous) < 1e-10:
            break
    return beta


def model_files(directory: Path) -> list[tuple[int, Path]]:
    """The model files in ``directory`` as ``(version, path)``, oldest first."""
    if not directory.is_dir():
        return []
    found = []
    for path in directory.glob(MODEL_GLOB):
        match = _MODEL_NAME.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


def load_model(path: Path) -> ChallengerModel:
    """The model in ``path``; raises :class:`ChallengerModelError`."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ChallengerModelError(f"{path}: cannot read the model ({exc})") from exc
    return ChallengerModel.from_dict(data, path)


def latest_model(directory: Path) -> ChallengerModel | None:
    """The newest model in ``directory`` (``None`` when none was trained)."""
    files = model_files(directory)
    return load_model(files[-1][1]) if files else None


def save_model(model: ChallengerModel, directory: Path) -> ChallengerModel:
    """Write ``model`` as the next version in ``directory``; returns it with its version.

    Written to a temporary file and renamed, so a reader never sees half a model.
    """
    directory.mkdir(parents=True, exist_ok=True)
    files = model_files(directory)
    version = files[-1][0] + 1 if files else 1
    path = directory / f"challenger-{version:04d}.json"
    saved = replace(model, version=version, source=path)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".challenger-", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(saved.as_dict(), out, indent=2)
            out.write("\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return saved
