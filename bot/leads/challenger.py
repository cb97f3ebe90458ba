"""The challenger against the store: what it learns from, training, and the time split.

**What the challenger learns from, at a cutoff.** Only what was known before the
cutoff counts, so a model trained at a cutoff can be tested on what came after:

- a lead *converted* when it bought (its first ``purchase`` event) before the
  cutoff; it is judged, like ``evaluate`` judges buyers, on the facts recorded
  before that purchase, at that moment. A Won lead with no recorded purchase (the
  store does not say when it was won) converted just after its last activity.
- every other lead with activity before the cutoff is a lead that had not
  converted by then, judged on its facts recorded before the cutoff, just after
  its last activity. It is counted as a "no" only once *settled*: quiet for the
  configuration's ``challenger.settle_days`` before the cutoff, or marked Lost by
  sales; a lead active in the last few days may still buy and is left out.

So an event recorded after the cutoff changes nothing the model learns from
(:func:`training_examples` rebuilds a lead's facts from the history before the
cutoff whenever its stored facts reach past it). Training a model for use
(``python -m bot scoring challenger train``) takes the cutoff ``now``.

**The time split** (``evaluate --challenger``, ``backtest --challenger``): a model
trained at the cutoff, then both it and the rules judged on the leads judged
(as ``evaluate`` judges them) at or after the cutoff: precision and recall of
"hot", AUC, and calibration by decile.

Leads are read in keyset batches (one short transaction each) and the trainer
keeps one counter per feature pattern, so memory stays flat however many leads
the store holds. Counting is CPU-bound Python, so :func:`train_in_parallel`
shares the leads by id between processes (as ``rescore`` does) and adds up their
counts before the fit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy.engine import Engine

from bot.leads.rescore import in_parallel, worker_engine
from bot.leads.review import (
    DEFAULT_BATCH_SIZE,
    DecileRow,
    DecileSpan,
    HotAccuracy,
    judged_leads,
    score_deciles,
)
from bot.leads.service import LeadService
from bot.scoring.challenger import ChallengerModel, Trainer, feature_label, features
from bot.scoring.facts import LeadFacts, facts_from_history
from bot.scoring.scorer import Scorer
from bot.settings import Settings
from bot.store import history
from bot.store.db import create_db_engine

# The default time split: the last week is the test.
DEFAULT_TEST_DAYS = 7
DECILES = 10
# Probabilities are binned this finely for AUC and calibration (memory stays flat).
_BINS = 10_000
_JUDGED_AFTER = timedelta(minutes=1)


@dataclass(frozen=True)
class Example:
    """A labelled lead as the challenger learns from it: its facts at ``at``."""

    lead_id: str
    facts: LeadFacts
    at: datetime
    converted: bool


def latest_moment(facts: LeadFacts) -> float | None:
    """Epoch seconds of the latest thing the facts know of (``None`` when empty)."""
    stamps = [stamps[-1] for stamps in facts.signals.values() if stamps]
    stamps += facts.activity[-1:]
    stamps += [float(answer["at"]) for answer in facts.answers.values()]
    stamps += [float(entry["at"]) for entry in facts.points.values()]
    return max(stamps) if stamps else None


def training_examples(
    engine: Engine,
    cutoff: datetime,
    *,
    settle_days: float,
    batch_size: int = DEFAULT_BATCH_SIZE,
    id_range: tuple[str, str | None] = ("", None),
) -> Iterator[Example]:
    """The labelled leads as known at ``cutoff`` (see the module docstring), in id order.

    ``id_range`` = [low, high) lets several processes share the leads.
    """
    last_id, high = id_range
    while True:
        with engine.connect() as connection:
            rows = history.surviving_leads(connection, last_id, batch_size)
            if high is not None:
                rows = [row for row in rows if row.id < high]
            if not rows:
                return
            batch = _examples(connection, rows, cutoff, settle_days)
        yield from batch
        last_id = rows[-1].id


def _examples(
    connection: Any, rows: list[Any], cutoff: datetime, settle_days: float
) -> list[Example]:
    purchased_at = history.first_purchases(connection, [row.id for row in rows])
    edge = cutoff.timestamp()
    stored: dict[str, tuple[LeadFacts, float | None]] = {}
    rebuild: dict[str, datetime] = {}
    converted_at: dict[str, datetime] = {}
    for row in rows:
        facts = (
            LeadFacts.from_json(row.score_facts)
            if row.score_facts is not None
            else LeadService.load_facts(connection, row.id)
        )
        latest = latest_moment(facts)
        stored[row.id] = facts, latest
        converted = purchased_at.get(row.id)
        if converted is None and row.status == "Won" and latest is not None:
            converted = datetime.fromtimestamp(latest, timezone.utc) + _JUDGED_AFTER
        if converted is not None and converted < cutoff:
            converted_at[row.id] = converted
            if row.id in purchased_at:
                rebuild[row.id] = converted
        elif latest is not None and latest >= edge:
            rebuild[row.id] = cutoff
    before = history.history_before(connection, rebuild)
    examples: list[Example] = []
    for row in rows:
        if row.id in rebuild:
            facts = facts_from_history(*before[row.id])
            latest = latest_moment(facts)
        else:
            facts, latest = stored[row.id]
        if row.id in converted_at:
            examples.append(Example(row.id, facts, converted_at[row.id], True))
            continue
        if latest is None:
            continue
        settled = row.status == "Lost" or latest <= edge - settle_days * 86_400
        if settled:
            at = min(cutoff, datetime.fromtimestamp(latest, timezone.utc) + _JUDGED_AFTER)
            examples.append(Example(row.id, facts, at, False))
    return examples


@dataclass(frozen=True)
class Training:
    """A trained model and what it was trained from."""

    model: ChallengerModel
    patterns: int


def count_examples(
    engine: Engine,
    scorer: Scorer,
    *,
    cutoff: datetime,
    batch_size: int = DEFAULT_BATCH_SIZE,
    id_range: tuple[str, str | None] = ("", None),
    progress: Callable[[int], None] | None = None,
) -> Trainer:
    """The labelled leads at ``cutoff`` counted by feature pattern, ready to fit.

    ``progress`` gets the number of leads counted after each batch.
    """
    trainer = Trainer()
    pending = 0
    for example in training_examples(
        engine,
        cutoff,
        settle_days=scorer.config.challenger.settle_days,
        batch_size=batch_size,
        id_range=id_range,
    ):
        names = features(example.facts, example.at, scorer.config, scorer.catalog, scorer.rates)
        trainer.add(names, example.converted)
        pending += 1
        if progress is not None and pending >= batch_size:
            progress(pending)
            pending = 0
    if progress is not None and pending:
        progress(pending)
    return trainer


def train(
    engine: Engine,
    scorer: Scorer,
    *,
    cutoff: datetime,
    trained_at: datetime,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
) -> Training:
    """Train the challenger on the leads as known at ``cutoff``, in this process.

    Raises :class:`bot.scoring.challenger.NotEnoughOutcomes` below the minimum.
    """
    trainer = count_examples(
        engine, scorer, cutoff=cutoff, batch_size=batch_size, progress=progress
    )
    model = trainer.fit(scorer.config.challenger, trained_at=trained_at, cutoff=cutoff)
    return Training(model, trainer.patterns)


def _count_range(
    settings: Settings,
    id_range: tuple[str, str | None],
    cutoff: datetime,
    batch_size: int,
    progress: Any,
) -> Trainer:
    from bot.scoring import scorer_for

    with worker_engine(settings) as engine:
        return count_examples(
            engine,
            scorer_for(settings),
            cutoff=cutoff,
            batch_size=batch_size,
            id_range=id_range,
            progress=progress.put,
        )


def train_in_parallel(
    settings: Settings,
    scorer: Scorer,
    *,
    workers: int,
    cutoff: datetime,
    trained_at: datetime,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
) -> Training:
    """Train as :func:`train` does, with ``workers`` processes sharing the leads by id.

    Each process counts its share of the leads by feature pattern; the counts add
    up, and this process fits the model (with ``scorer``'s configuration) over them.
    """
    if workers <= 1:
        engine = create_db_engine(settings.database_url)
        try:
            return train(
                engine,
                scorer,
                cutoff=cutoff,
                trained_at=trained_at,
                batch_size=batch_size,
                progress=progress,
            )
        finally:
            engine.dispose()
    trainer = Trainer()
    for part in in_parallel(
        _count_range, settings, (cutoff, batch_size), workers=workers, progress=progress
    ):
        trainer.merge(part)
    model = trainer.fit(scorer.config.challenger, trained_at=trained_at, cutoff=cutoff)
    return Training(model, trainer.patterns)


@dataclass(frozen=True)
class CalibrationRow(DecileSpan):
    """Leads whose predicted chance ranks in deciles ``first_decile``..``last_decile``."""

    first_decile: int
    last_decile: int
    leads: int
    converted: int
    predicted: float

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "deciles": self.label,
            "leads": self.leads,
            "converted": self.converted,
            "predicted": self.predicted,
            "rate": self.rate,
        }


@dataclass(frozen=True)
class Comparison:
    """The challenger beside the rules on the leads after the cutoff."""

    now: datetime
    cutoff: datetime
    config: str
    model: ChallengerModel
    rules: HotAccuracy
    challenger: HotAccuracy
    rules_auc: float | None
    challenger_auc: float | None
    rules_deciles: tuple[DecileRow, ...]
    calibration: tuple[CalibrationRow, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "now": self.now.isoformat(),
            "cutoff": self.cutoff.isoformat(),
            "config": self.config,
            "trained_on": {"leads": self.model.leads, "converted": self.model.converted},
            "tested_on": {"leads": self.rules.leads, "converted": self.rules.converted},
            "rules": {**self.rules.as_dict(), "auc": self.rules_auc},
            "challenger": {**self.challenger.as_dict(), "auc": self.challenger_auc},
            "rules_by_decile": [row.as_dict() for row in self.rules_deciles],
            "challenger_calibration": [row.as_dict() for row in self.calibration],
            "challenger_weights": [
                {"feature": name, "weight": weight} for name, weight in self.model.ranked_weights()
            ],
        }


def compare(
    engine: Engine,
    scorer: Scorer,
    *,
    cutoff: datetime,
    now: datetime,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> Comparison:
    """Train at ``cutoff``, then judge the rules and the challenger on the leads after it."""
    if cutoff >= now:
        raise ValueError(
            f"the cutoff ({cutoff.isoformat()}) must be before now ({now.isoformat()})"
        )
    model = train(engine, scorer, cutoff=cutoff, trained_at=now, batch_size=batch_size).model
    rules = _Counts()
    challenger = _Counts()
    rule_scores: dict[int, tuple[int, int]] = {}
    chances: dict[int, list[float]] = {}
    settings = scorer.config.challenger
    for lead in judged_leads(engine, now, batch_size=batch_size):
        if lead.at < cutoff:
            continue
        result = scorer.rules(lead.facts, lead.at)
        rules.add(lead.converted, result.stage == "hot")
        leads, converted = rule_scores.get(result.score, (0, 0))
        rule_scores[result.score] = (leads + 1, converted + lead.converted)
        names = features(lead.facts, lead.at, scorer.config, scorer.catalog, scorer.rates)
        chance = model.probability(names)
        challenger.add(lead.converted, settings.stage(chance) == "hot")
        row = chances.setdefault(round(chance * _BINS), [0, 0, 0.0])
        row[0] += 1
        row[1] += lead.converted
        row[2] += chance
    return Comparison(
        now=now,
        cutoff=cutoff,
        config=str(scorer.config.source) if scorer.config.source else "(in memory)",
        model=model,
        rules=rules.accuracy(),
        challenger=challenger.accuracy(),
        rules_auc=auc(rule_scores),
        challenger_auc=auc({key: (int(n), int(c)) for key, (n, c, _) in chances.items()}),
        rules_deciles=score_deciles(rule_scores),
        calibration=calibration(chances),
    )


class _Counts:
    def __init__(self) -> None:
        self.leads = self.converted = self.hot = self.true_positives = 0

    def add(self, converted: bool, hot: bool) -> None:
        self.leads += 1
        self.converted += converted
        self.hot += hot
        self.true_positives += hot and converted

    def accuracy(self) -> HotAccuracy:
        return HotAccuracy(self.leads, self.converted, self.hot, self.true_positives)


def auc(histogram: dict[int, tuple[int, int]]) -> float | None:
    """Area under the ROC curve from ``{score: (leads, converted)}`` (ties count half).

    The chance that a converted lead scores above one that did not; ``None``
    unless both kinds are present.
    """
    positives = sum(converted for _, converted in histogram.values())
    negatives = sum(leads - converted for leads, converted in histogram.values())
    if not positives or not negatives:
        return None
    below = 0
    area = 0.0
    for score in sorted(histogram):
        leads, converted = histogram[score]
        others = leads - converted
        area += converted * (below + others / 2)
        below += others
    return area / (positives * negatives)


def calibration(bins: dict[int, list[Any]]) -> tuple[CalibrationRow, ...]:
    """Predicted against observed conversion by decile of predicted chance, lowest first.

    ``bins`` maps a binned chance to ``[leads, converted, sum of chances]``. As in
    :func:`bot.leads.review.score_deciles`, leads with the same binned chance stay
    in one row.
    """
    total = sum(int(row[0]) for row in bins.values())
    rows: list[CalibrationRow] = []
    seen = 0
    first: int | None = None
    leads = converted = 0
    predicted = 0.0
    for key in sorted(bins):
        count, hits, chance = bins[key]
        if first is None:
            first = seen * DECILES // total + 1
        seen += count
        leads += count
        converted += hits
        predicted += chance
        if seen * DECILES >= first * total:
            last = min(-(-seen * DECILES // total), DECILES)
            rows.append(CalibrationRow(first, last, leads, converted, predicted / leads))
            first, leads, converted, predicted = None, 0, 0, 0.0
    return tuple(rows)


def render_comparison(report: Comparison) -> str:
    """The time split as compact text."""
    rules, challenger = report.rules, report.challenger
    lines = [
        f"Challenger beside the rules, time split at {_time(report.cutoff)} "
        f"(config {report.config})",
        f"Trained on {report.model.leads:,} labelled leads before the cutoff "
        f"({report.model.converted:,} converted); tested on {rules.leads:,} leads judged "
        f"after it ({rules.converted:,} converted)",
        f"  {'':<16} {'rules':>10} {'challenger':>10}",
        f"  {'AUC':<16} {_auc(report.rules_auc):>10} {_auc(report.challenger_auc):>10}",
        f"  {'precision (hot)':<16} {_percent(rules.precision):>10} "
        f"{_percent(challenger.precision):>10}",
        f"  {'recall (hot)':<16} {_percent(rules.recall):>10} {_percent(challenger.recall):>10}",
        f"  {'hot leads':<16} {rules.hot:>10,} {challenger.hot:>10,}",
        "",
        "Challenger calibration by decile of predicted chance (lowest first)",
        f"  {'decile':<6} {'leads':>9} {'predicted':>9} {'observed':>9}",
    ]
    lines += [
        f"  {row.label:<6} {row.leads:>9,} {_percent(row.predicted):>9} {_percent(row.rate):>9}"
        for row in report.calibration
    ]
    lines += [
        "",
        "Rules: conversion by score decile (lowest scores first)",
        f"  {'decile':<6} {'scores':>9} {'leads':>9} {'observed':>9}",
    ]
    lines += [
        f"  {row.label:<6} {row.scores:>9} {row.leads:>9,} {_percent(row.rate):>9}"
        for row in report.rules_deciles
    ]
    lines += ["", "What the challenger learned (strongest first, log-odds)"]
    lines += weight_lines(report.model, 10)
    return "\n".join(lines)


def weight_lines(model: ChallengerModel, count: int) -> list[str]:
    """The ``count`` strongest weights as "  +1.52  added to cart in the last 3 days"."""
    return [
        f"  {weight:+6.2f}  {feature_label(name)}"
        for name, weight in model.ranked_weights()[:count]
    ]


def _auc(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
