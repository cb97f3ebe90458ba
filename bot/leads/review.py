"""Is the score right? ``evaluate`` checks it against outcomes, ``backtest`` tries a new config.

A lead *converted* when its status is Won or it has a ``purchase`` event; it was
*predicted* to convert when its stage was hot. Precision is the share of hot
leads that converted, recall the share of converted leads that were hot.

When a lead is judged matters, and both reports judge it the same way:

- A buyer is judged on the stage it had just before its first purchase: its
  facts are rebuilt (``facts_from_history``) from the events and answers
  recorded before that moment and scored at that moment. Its current stage
  would be unfair both ways: interest fades after buying, so most buyers would
  look like misses, and visits after the purchase (order tracking) would count
  as intent.
- Every other lead, and a Won lead with no recorded purchase (the store does not
  say when it was won), is judged on the stage it had at the end of its last
  activity (its stored facts scored one minute after its last active minute, or
  at ``now`` if that is earlier). Intent only rises when something happens and
  decays in between, so this is the lead's most engaged moment too: a checkout
  abandoned three weeks ago still counts as the hot lead it was, and shows up as
  a false positive ("was hot, never bought") rather than fading out of sight.

Both sides are thus compared at their most engaged moment, which is what sales
would have seen when it mattered.

Leads are read in keyset batches of ``batch_size`` (one short transaction each),
so memory stays flat for millions of leads; only counts, a score histogram and
the few worst examples are kept. :mod:`bot.leads.reviewreport` renders the
reports as text and a chart.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import partial
from typing import Any, Generic, TypeVar

from sqlalchemy.engine import Engine

from bot.leads.service import LeadService
from bot.scoring.config import STAGES
from bot.scoring.facts import LeadFacts, facts_from_history
from bot.scoring.scorer import Scorer, ScoreResult
from bot.store import history

DEFAULT_BATCH_SIZE = 2000
TOP_REASONS = 3
DECILES = 10
_T = TypeVar("_T")


@dataclass(frozen=True)
class HotAccuracy:
    """How well "hot" predicts conversion."""

    leads: int
    converted: int
    hot: int
    true_positives: int

    @property
    def conversion(self) -> float | None:
        """Share of leads that converted (``None`` without leads)."""
        return _ratio(self.converted, self.leads)

    @property
    def precision(self) -> float | None:
        """Share of hot leads that converted (``None`` without hot leads)."""
        return _ratio(self.true_positives, self.hot)

    @property
    def recall(self) -> float | None:
        """Share of converted leads that were hot (``None`` without conversions)."""
        return _ratio(self.true_positives, self.converted)

    @property
    def false_positives(self) -> int:
        """Hot leads that did not convert."""
        return self.hot - self.true_positives

    @property
    def false_negatives(self) -> int:
        """Converted leads that were not hot."""
        return self.converted - self.true_positives

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "leads": self.leads,
            "converted": self.converted,
            "hot": self.hot,
            "true_positives": self.true_positives,
            "false_positives": self.false_positives,
            "false_negatives": self.false_negatives,
            "precision": self.precision,
            "recall": self.recall,
        }


@dataclass(frozen=True)
class StageRow:
    """Conversion of the leads judged in one stage."""

    stage: str
    leads: int
    converted: int

    @property
    def rate(self) -> float | None:
        """Conversion rate (``None`` without leads)."""
        return _ratio(self.converted, self.leads)

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "stage": self.stage,
            "leads": self.leads,
            "converted": self.converted,
            "rate": self.rate,
        }


class DecileSpan:
    """Leads ranked in deciles ``first_decile``..``last_decile``, and how many converted.

    A base of the rows of decile tables (the dataclasses below declare the fields).
    """

    first_decile: int
    last_decile: int
    leads: int
    converted: int

    @property
    def rate(self) -> float | None:
        """Conversion rate (``None`` without leads)."""
        return _ratio(self.converted, self.leads)

    @property
    def label(self) -> str:
        """The deciles, as 3 or 1-5."""
        if self.first_decile == self.last_decile:
            return str(self.first_decile)
        return f"{self.first_decile}-{self.last_decile}"


@dataclass(frozen=True)
class DecileRow(DecileSpan):
    """Conversion of leads whose scores rank in deciles ``first_decile``..``last_decile``.

    Deciles count from the lowest scores. Leads with the same score stay in one
    row, so a score shared by many leads spans several deciles.
    """

    first_decile: int
    last_decile: int
    min_score: int
    max_score: int
    leads: int
    converted: int

    @property
    def scores(self) -> str:
        """The scores, as 12 or 0..9."""
        if self.min_score == self.max_score:
            return str(self.min_score)
        return f"{self.min_score}..{self.max_score}"

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "deciles": self.label,
            "min_score": self.min_score,
            "max_score": self.max_score,
            "leads": self.leads,
            "converted": self.converted,
            "rate": self.rate,
        }


@dataclass(frozen=True)
class LeadExample:
    """A lead the score got wrong, with the reasons behind its score."""

    lead_id: str
    stage: str
    score: int
    reasons: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "lead_id": self.lead_id,
            "stage": self.stage,
            "score": self.score,
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True)
class EvaluationReport:
    """The score against outcomes (see the module docstring for how leads are judged)."""

    now: datetime
    config: str
    accuracy: HotAccuracy
    by_stage: tuple[StageRow, ...]
    by_decile: tuple[DecileRow, ...]
    false_positive_examples: tuple[LeadExample, ...]
    false_negative_examples: tuple[LeadExample, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "now": self.now.isoformat(),
            "config": self.config,
            **self.accuracy.as_dict(),
            "by_stage": [row.as_dict() for row in self.by_stage],
            "by_decile": [row.as_dict() for row in self.by_decile],
            "false_positive_examples": [e.as_dict() for e in self.false_positive_examples],
            "false_negative_examples": [e.as_dict() for e in self.false_negative_examples],
        }


@dataclass(frozen=True)
class StageMove:
    """How many leads a proposed config moves from one stage to another."""

    from_stage: str
    to_stage: str
    leads: int
    converted: int

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "from": self.from_stage,
            "to": self.to_stage,
            "leads": self.leads,
            "converted": self.converted,
        }


@dataclass(frozen=True)
class StageChange:
    """A lead whose stage a proposed config changes; ``reasons`` are the proposed ones."""

    lead_id: str
    from_stage: str
    to_stage: str
    score_before: int
    score_after: int
    converted: bool
    reasons: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "lead_id": self.lead_id,
            "from": self.from_stage,
            "to": self.to_stage,
            "score_before": self.score_before,
            "score_after": self.score_after,
            "converted": self.converted,
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True)
class BacktestReport:
    """The stored leads under the current and a proposed config."""

    now: datetime
    current_config: str
    proposed_config: str
    current: HotAccuracy
    proposed: HotAccuracy
    score_changed: int
    moves: tuple[StageMove, ...]
    changes: tuple[StageChange, ...]

    @property
    def stage_changed(self) -> int:
        """Leads whose stage would change."""
        return sum(move.leads for move in self.moves)

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "now": self.now.isoformat(),
            "current_config": self.current_config,
            "proposed_config": self.proposed_config,
            "current": self.current.as_dict(),
            "proposed": self.proposed.as_dict(),
            "score_changed": self.score_changed,
            "stage_changed": self.stage_changed,
            "moves": [move.as_dict() for move in self.moves],
            "changes": [change.as_dict() for change in self.changes],
        }


@dataclass(frozen=True)
class Judged:
    """A lead at the moment it is judged: its facts then, and whether it converted."""

    lead_id: str
    facts: LeadFacts
    at: datetime
    converted: bool


def judged_leads(
    engine: Engine, now: datetime, *, batch_size: int = DEFAULT_BATCH_SIZE
) -> Iterator[Judged]:
    """Every stored lead (merged leads excepted) as it is judged, in id order."""
    last_id = ""
    while True:
        batch = _judged_batch(engine, now, last_id, batch_size)
        if not batch:
            return
        yield from batch
        last_id = batch[-1].lead_id


def _judged_batch(engine: Engine, now: datetime, after_id: str, limit: int) -> list[Judged]:
    with engine.connect() as connection:
        rows = history.surviving_leads(connection, after_id, limit)
        if not rows:
            return []
        purchased_at = history.first_purchases(connection, [row.id for row in rows])
        before = history.history_before(connection, purchased_at)
        judged: list[Judged] = []
        for row in rows:
            if row.id in purchased_at:
                facts = facts_from_history(*before[row.id])
                judged.append(Judged(row.id, facts, purchased_at[row.id], True))
                continue
            if row.score_facts is None:
                facts = LeadService.load_facts(connection, row.id)
            else:
                facts = LeadFacts.from_json(row.score_facts)
            judged.append(Judged(row.id, facts, _last_active(facts, now), row.status == "Won"))
    return judged


def _last_active(facts: LeadFacts, now: datetime) -> datetime:
    """One minute after the lead's last active minute, or ``now`` if that is earlier."""
    if not facts.activity:
        return now
    return min(now, datetime.fromtimestamp(facts.activity[-1] + 60, timezone.utc))


def evaluate(
    engine: Engine,
    scorer: Scorer,
    now: datetime,
    *,
    examples: int = 5,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> EvaluationReport:
    """Score every stored lead as it is judged and compare "hot" with conversion.

    Keeps the ``examples`` highest-scored false positives and lowest-scored
    false negatives.
    """
    tally = _Tally()
    false_positives: _Worst[LeadExample] = _Worst(examples)
    false_negatives: _Worst[LeadExample] = _Worst(examples)
    for lead in judged_leads(engine, now, batch_size=batch_size):
        result = scorer.score(lead.facts, lead.at)
        tally.add(lead.converted, result)
        hot = result.stage == "hot"
        if hot and not lead.converted:
            false_positives.offer(result.score, partial(_example, lead.lead_id, result))
        elif lead.converted and not hot:
            false_negatives.offer(-result.score, partial(_example, lead.lead_id, result))
    return EvaluationReport(
        now=now,
        config=_source(scorer),
        accuracy=tally.accuracy(),
        by_stage=tally.stages(),
        by_decile=score_deciles(tally.histogram),
        false_positive_examples=tuple(false_positives.items()),
        false_negative_examples=tuple(false_negatives.items()),
    )


def backtest(
    engine: Engine,
    current: Scorer,
    proposed: Scorer,
    now: datetime,
    *,
    limit: int = 50,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> BacktestReport:
    """Replay every stored lead under both scorers, as :func:`evaluate` judges it.

    Lists up to ``limit`` leads that would change stage, those whose score moves
    most first.
    """
    before, after = _Tally(), _Tally()
    moves: dict[tuple[str, str], list[int]] = {}
    changes: _Worst[StageChange] = _Worst(limit)
    score_changed = 0
    for lead in judged_leads(engine, now, batch_size=batch_size):
        old = current.score(lead.facts, lead.at)
        new = proposed.score(lead.facts, lead.at)
        before.add(lead.converted, old)
        after.add(lead.converted, new)
        score_changed += old.score != new.score
        if old.stage == new.stage:
            continue
        move = moves.setdefault((old.stage, new.stage), [0, 0])
        move[0] += 1
        move[1] += lead.converted
        changes.offer(
            abs(new.score - old.score),
            partial(
                StageChange,
                lead_id=lead.lead_id,
                from_stage=old.stage,
                to_stage=new.stage,
                score_before=old.score,
                score_after=new.score,
                converted=lead.converted,
                reasons=top_reasons(new),
            ),
        )
    order = {stage: index for index, stage in enumerate(STAGES)}
    return BacktestReport(
        now=now,
        current_config=_source(current),
        proposed_config=_source(proposed),
        current=before.accuracy(),
        proposed=after.accuracy(),
        score_changed=score_changed,
        moves=tuple(
            StageMove(from_stage, to_stage, counts[0], counts[1])
            for (from_stage, to_stage), counts in sorted(
                moves.items(), key=lambda item: (order[item[0][0]], order[item[0][1]])
            )
        ),
        changes=tuple(changes.items()),
    )


def score_deciles(histogram: Mapping[int, tuple[int, int]]) -> tuple[DecileRow, ...]:
    """Conversion by score decile from ``{score: (leads, converted)}``, lowest scores first.

    A row closes once it reaches the end of the decile it started in; ties never
    split, so a row may span several deciles and the next row may start in the
    decile the previous one ended in.
    """
    total = sum(leads for leads, _ in histogram.values())
    rows: list[DecileRow] = []
    seen = 0
    start: int | None = None
    leads_in_row = converted_in_row = 0
    for score in sorted(histogram):
        leads, converted = histogram[score]
        if leads == 0:
            continue
        if start is None:
            start, first = score, seen * DECILES // total + 1
        seen += leads
        leads_in_row += leads
        converted_in_row += converted
        if seen * DECILES >= first * total:
            last = min(-(-seen * DECILES // total), DECILES)
            rows.append(DecileRow(first, last, start, score, leads_in_row, converted_in_row))
            start, leads_in_row, converted_in_row = None, 0, 0
    return tuple(rows)


def top_reasons(result: ScoreResult, count: int = TOP_REASONS) -> tuple[str, ...]:
    """The ``count`` reasons that move the score most, as "+40 entered payment details…"."""
    return tuple(f"{reason.points:+d} {reason.detail}" for reason in result.reasons[:count])


class _Tally:
    """Counts of one scoring of the leads: confusion, stages and a score histogram."""

    def __init__(self) -> None:
        self.leads = self.converted = self.hot = self.true_positives = 0
        self.stage_counts: dict[str, list[int]] = {stage: [0, 0] for stage in STAGES}
        self.histogram: dict[int, tuple[int, int]] = {}

    def add(self, converted: bool, result: ScoreResult) -> None:
        hot = result.stage == "hot"
        self.leads += 1
        self.converted += converted
        self.hot += hot
        self.true_positives += hot and converted
        counts = self.stage_counts.setdefault(result.stage, [0, 0])
        counts[0] += 1
        counts[1] += converted
        leads, conversions = self.histogram.get(result.score, (0, 0))
        self.histogram[result.score] = (leads + 1, conversions + converted)

    def accuracy(self) -> HotAccuracy:
        return HotAccuracy(self.leads, self.converted, self.hot, self.true_positives)

    def stages(self) -> tuple[StageRow, ...]:
        return tuple(StageRow(stage, n, c) for stage, (n, c) in self.stage_counts.items())


class _Worst(Generic[_T]):
    """The ``size`` items with the largest keys; ties keep the item offered first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._heap: list[tuple[int, int, _T]] = []
        self._offered = 0

    def offer(self, key: int, build: Callable[[], _T]) -> None:
        """Keep ``build()`` if ``key`` ranks among the largest (built only then)."""
        self._offered += 1
        rank = (key, -self._offered)
        if self.size <= 0:
            return
        if len(self._heap) < self.size:
            heapq.heappush(self._heap, (*rank, build()))
        elif rank > self._heap[0][:2]:
            heapq.heapreplace(self._heap, (*rank, build()))

    def items(self) -> list[_T]:
        """The kept items, largest key first."""
        ranked = sorted(self._heap, key=lambda entry: entry[:2], reverse=True)
        return [item for _, _, item in ranked]


def _example(lead_id: str, result: ScoreResult) -> LeadExample:
    return LeadExample(lead_id, result.stage, result.score, top_reasons(result))


def _source(scorer: Scorer) -> str:
    source = scorer.config.source
    return str(source) if source is not None else "(in memory)"


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None
