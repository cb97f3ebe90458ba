"""Funnel analytics of the question flows: where shoppers answer, skip and leave.

:func:`funnel` reads the chat-behaviour events the qualification form writes
(``question_asked``, ``question_answered``, ``question_skipped``,
``question_reasked``, ``question_unanswered``, ``qualification_completed``) and
counts, per flow, question and A/B arm:

``asked``
    distinct leads asked the question at least once (first ask or re-ask).
``answered``
    distinct leads with a ``question_answered`` for the key given when asked.
``volunteered``
    distinct leads whose every answer for the key came unasked (``volunteered``
    in another answer); ``answered + volunteered`` is the leads with an answer.
``skipped`` / ``reasked`` / ``unanswered``
    distinct leads with a ``question_skipped`` / a re-ask (``question_reasked``
    or a ``question_asked`` with ``reask: true``) / a ``question_unanswered``
    (the bot gave up after failed answers) for the key.
``dropped``
    distinct leads whose *last* ``question_asked`` (first ask or re-ask) was this
    question and after which nothing resolved it: no answer to it, no skip, no
    give-up and no ``qualification_completed``. The conversation ended there.
``median_seconds_to_answer``
    median of ``seconds_to_answer`` over each lead's first timed answer.
``hot`` / ``won`` (conversion)
    of the ``asked`` leads, those whose lead is now ``hot`` / ``Won``. A merged
    lead's events stay on its own row; its outcome is the surviving lead's.

The *arm* of a lead for a question is what it was first shown (its first
non-re-ask ``question_asked``): the A/B test arm as ``test/arm`` (``ab_test``, ``arm``),
else the prompt variant, labelled ``v1``, ``v2``… (variant index + 1); ``page``
for the product-page wording; ``-`` when unknown (older events, or a lead who only
volunteered the answer). Each lead is in exactly one arm per question, so the
arm rows add up to the question row. Older events without ``flow`` count as flow
``default``; answers, skips and give-ups belong to the flow the lead was last
asked that question in (else the flow it was last asked anything in).

``since``/``until`` keep events with ``since <= ts < until``: a conversation cut
by ``until`` shows as dropped where the window cut it. ``flow`` keeps one flow.
Leads are counted per lead row (a person with two merged sessions counts twice).

Memory: events are streamed in ``(lead_id, ts)`` order and folded one lead at a
time into per-arm counters; only the hot/Won lead ids (one more query) and one
float per timed answer (for exact medians) are kept.
"""

from __future__ import annotations

import statistics
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import aliased

from bot.flows.loader import load_flow
from bot.flows.model import Flow, FlowError
from bot.store.models import Lead, LeadEvent

FUNNEL_EVENT_TYPES = (
    "question_asked",
    "question_answered",
    "question_skipped",
    "question_reasked",
    "question_unanswered",
    "qualification_completed",
)
DEFAULT_FLOW = "default"
STREAM_BATCH = 2000
_EVENTS = LeadEvent.__table__
_LEADS = Lead.__table__


def arm_label(variant: int | None) -> str:
    """``v1``, ``v2``… for prompt variant 0, 1…; ``-`` when unknown."""
    return "-" if variant is None else f"v{variant + 1}"


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@dataclass(frozen=True)
class FunnelCounts:
    """The counters of one question or arm (definitions: module docstring)."""

    asked: int = 0
    answered: int = 0
    volunteered: int = 0
    skipped: int = 0
    reasked: int = 0
    unanswered: int = 0
    dropped: int = 0
    hot: int = 0
    won: int = 0
    median_seconds_to_answer: float | None = None

    @property
    def hot_rate(self) -> float | None:
        """Share of the asked leads now hot."""
        return _rate(self.hot, self.asked)

    @property
    def won_rate(self) -> float | None:
        """Share of the asked leads now Won."""
        return _rate(self.won, self.asked)

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "asked": self.asked,
            "answered": self.answered,
            "volunteered": self.volunteered,
            "skipped": self.skipped,
            "reasked": self.reasked,
            "unanswered": self.unanswered,
            "dropped": self.dropped,
            "median_seconds_to_answer": self.median_seconds_to_answer,
            "hot": self.hot,
            "won": self.won,
            "hot_rate": self.hot_rate,
            "won_rate": self.won_rate,
        }


@dataclass(frozen=True)
class ArmRow:
    """One A/B arm (prompt variant) of a question."""

    variant: int | None
    counts: FunnelCounts
    name: str | None = None

    @property
    def label(self) -> str:
        """The A/B arm's name, else ``v1``, ``v2``… or ``-``."""
        return self.name or arm_label(self.variant)

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"arm": self.label, "variant": self.variant, **self.counts.as_dict()}


@dataclass(frozen=True)
class QuestionRow:
    """One question of a flow: its totals and its arms (ordered v1, v2…, then ``-``)."""

    key: str
    counts: FunnelCounts
    arms: tuple[ArmRow, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "key": self.key,
            **self.counts.as_dict(),
            "arms": [arm.as_dict() for arm in self.arms],
        }


@dataclass(frozen=True)
class FlowFunnel:
    """One flow: leads asked anything in it, leads who completed it, its questions."""

    name: str
    leads: int
    completed: int
    questions: tuple[QuestionRow, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "flow": self.name,
            "leads": self.leads,
            "completed": self.completed,
            "questions": [question.as_dict() for question in self.questions],
        }


@dataclass(frozen=True)
class FunnelReport:
    """The funnel of every flow seen in the window (or of the one asked for)."""

    since: datetime | None
    until: datetime | None
    flow: str | None
    flows: tuple[FlowFunnel, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON form (times ISO 8601, rates as fractions 0..1)."""
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "flow": self.flow,
            "flows": [flow.as_dict() for flow in self.flows],
        }


# -- folding -------------------------------------------------------------------------------


@dataclass
class _LeadQuestion:
    """What one lead did with one question (flags, folded from its events)."""

    asked: bool = False
    arm: tuple[str | None, int | None] = (None, None)
    variant_known: bool = False
    answered: bool = False
    volunteered: bool = False
    skipped: bool = False
    reasked: bool = False
    unanswered: bool = False
    seconds: float | None = None


@dataclass
class _Counter:
    """Running totals of one arm; ``seconds`` keeps one float per timed answer."""

    asked: int = 0
    answered: int = 0
    volunteered: int = 0
    skipped: int = 0
    reasked: int = 0
    unanswered: int = 0
    dropped: int = 0
    hot: int = 0
    won: int = 0
    seconds: array[float] = field(default_factory=lambda: array("d"))

    def counts(self) -> FunnelCounts:
        return FunnelCounts(
            asked=self.asked,
            answered=self.answered,
            volunteered=self.volunteered,
            skipped=self.skipped,
            reasked=self.reasked,
            unanswered=self.unanswered,
            dropped=self.dropped,
            hot=self.hot,
            won=self.won,
            median_seconds_to_answer=(
                round(statistics.median(self.seconds), 1) if len(self.seconds) else None
            ),
        )

    def add(self, other: _Counter) -> None:
        for name in ("asked", "answered", "volunteered", "skipped", "reasked", "unanswered"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.dropped += other.dropped
        self.hot += other.hot
        self.won += other.won
        self.seconds.extend(other.seconds)


class _Fold:
    """Folds the events of one lead at a time into per-arm counters."""

    def __init__(self, flow: str | None, hot: set[str], won: set[str]) -> None:
        self.flow = flow
        self.hot = hot
        self.won = won
        self.arms: dict[tuple[str, str, tuple[str | None, int | None]], _Counter] = {}
        # Flow -> leads asked anything in it / leads who completed it.
        self.leads: dict[str, int] = {}
        self.completed: dict[str, int] = {}
        # (flow, key) -> earliest first ask: the order when no flows file says one.
        self.first_asked: dict[tuple[str, str], datetime] = {}
        self._reset(None)

    def _reset(self, lead_id: str | None) -> None:
        self.lead_id = lead_id
        self.questions: dict[tuple[str, str], _LeadQuestion] = {}
        self.flow_of_key: dict[str, str] = {}
        self.last_flow: str | None = None
        self.last_ask: tuple[str, str] | None = None
        self.last_ask_resolved = True
        self.flows_asked: set[str] = set()
        self.flows_completed: set[str] = set()

    def feed(self, lead_id: str, kind: str, ts: datetime, properties: Any) -> None:
        """One event; events come grouped by lead, oldest first."""
        if lead_id != self.lead_id:
            self.flush()
            self._reset(lead_id)
        props = properties if isinstance(properties, dict) else {}
        if kind == "question_asked":
            self._asked(props, ts)
        elif kind == "qualification_completed":
            flow = self.last_flow or DEFAULT_FLOW
            self.flows_completed.add(flow)
            self.last_ask_resolved = True
        else:
            key = props.get("key")
            if not isinstance(key, str):
                return
            place = (self.flow_of_key.get(key) or self.last_flow or DEFAULT_FLOW, key)
            state = self.questions.setdefault(place, _LeadQuestion())
            if kind == "question_reasked":
                state.reasked = True
                return
            if kind == "question_answered":
                if props.get("volunteered"):
                    state.volunteered = True
                else:
                    state.answered = True
                    seconds = props.get("seconds_to_answer")
                    if state.seconds is None and isinstance(seconds, (int, float)):
                        state.seconds = float(seconds)
            elif kind == "question_skipped":
                state.skipped = True
            elif kind == "question_unanswered":
                state.unanswered = True
            # Any answer (even a volunteered one), skip or give-up settles the question
            # the conversation was waiting on.
            if self.last_ask == place:
                self.last_ask_resolved = True

    def _asked(self, props: dict[str, Any], ts: datetime) -> None:
        key = props.get("question")
        if not isinstance(key, str):
            return
        named = props.get("flow")
        flow = named if isinstance(named, str) and named else DEFAULT_FLOW
        place = (flow, key)
        state = self.questions.setdefault(place, _LeadQuestion())
        reask = bool(props.get("reask"))
        variant = props.get("variant")
        named_arm = props.get("arm")
        test = props.get("ab_test")
        if not state.asked:
            self.first_asked[place] = min(ts, self.first_asked.get(place, ts))
        state.asked = True
        if reask:
            state.reasked = True
        elif not state.variant_known:
            state.variant_known = True
            index = variant if isinstance(variant, int) and not isinstance(variant, bool) else None
            # Prompt variants are labelled by index (v1, v2…); only test arms keep a name.
            name = named_arm if isinstance(named_arm, str) and named_arm else None
            if name is not None and isinstance(test, str) and test:
                # Arms of different tests stay apart, even under the same names.
                state.arm = (f"{test}/{name}", None)
            elif name is not None and name != arm_label(index):
                state.arm = (name, None)
            else:
                state.arm = (None, index)
        self.flow_of_key[key] = flow
        self.last_flow = flow
        self.flows_asked.add(flow)
        self.last_ask = place
        self.last_ask_resolved = False

    def flush(self) -> None:
        """Add the current lead's flags to the counters."""
        if self.lead_id is None:
            return
        keep = self._keeps
        hot, won = self.lead_id in self.hot, self.lead_id in self.won
        for flow in filter(keep, self.flows_asked):
            self.leads[flow] = self.leads.get(flow, 0) + 1
        for flow in filter(keep, self.flows_completed):
            self.completed[flow] = self.completed.get(flow, 0) + 1
        for (flow, key), state in self.questions.items():
            if not keep(flow):
                continue
            counter = self.arms.setdefault((flow, key, state.arm), _Counter())
            counter.asked += state.asked
            counter.answered += state.answered
            counter.volunteered += state.volunteered and not state.answered
            counter.skipped += state.skipped
            counter.reasked += state.reasked
            counter.unanswered += state.unanswered
            counter.dropped += (
                state.asked and self.last_ask == (flow, key) and not self.last_ask_resolved
            )
            counter.hot += state.asked and hot
            counter.won += state.asked and won
            if state.seconds is not None:
                counter.seconds.append(state.seconds)
        self._reset(None)

    def _keeps(self, flow: str) -> bool:
        return self.flow is None or flow == self.flow


# -- queries -------------------------------------------------------------------------------


def _window(column: Any, since: datetime | None, until: datetime | None) -> list[Any]:
    conditions = []
    if since is not None:
        conditions.append(column >= since)
    if until is not None:
        conditions.append(column < until)
    return conditions


def _converted(engine: Engine) -> tuple[set[str], set[str]]:
    """Ids of leads now hot and now Won; an absorbed lead takes its survivor's outcome."""
    survivor = aliased(_LEADS)
    stage = func.coalesce(survivor.c.stage, _LEADS.c.stage)
    status = func.coalesce(survivor.c.status, _LEADS.c.status)
    query = (
        select(_LEADS.c.id, stage, status)
        .select_from(_LEADS.outerjoin(survivor, survivor.c.id == _LEADS.c.merged_into))
        # Only converted leads are kept in memory: usually a small share of all leads.
        .where(or_(stage == "hot", status == "Won"))
    )
    hot: set[str] = set()
    won: set[str] = set()
    with engine.connect() as connection:
        for lead_id, lead_stage, lead_status in connection.execute(query):
            if lead_stage == "hot":
                hot.add(lead_id)
            if lead_status == "Won":
                won.add(lead_id)
    return hot, won


def _events(
    engine: Engine, since: datetime | None, until: datetime | None
) -> Iterator[tuple[str, str, datetime, Any]]:
    query = (
        select(_EVENTS.c.lead_id, _EVENTS.c.type, _EVENTS.c.ts, _EVENTS.c.properties)
        .where(and_(_EVENTS.c.type.in_(FUNNEL_EVENT_TYPES), *_window(_EVENTS.c.ts, since, until)))
        # id breaks ties of events written in the same instant in their written order.
        .order_by(_EVENTS.c.lead_id, _EVENTS.c.ts, _EVENTS.c.id)
    )
    # A server-side cursor on PostgreSQL: rows arrive in batches, never all at once.
    with engine.connect().execution_options(stream_results=True) as connection:
        result = connection.execute(query)
        for batch in result.partitions(STREAM_BATCH):
            for row in batch:
                yield row.lead_id, row.type, row.ts, row.properties


def _question_order(
    keys: Iterable[str], flow: str, order: Sequence[Flow], first: dict[tuple[str, str], datetime]
) -> list[str]:
    """The flows file's order for ``flow`` if given, then first-asked order."""
    listed = next((candidate.keys for candidate in order if candidate.name == flow), [])
    position = {key: index for index, key in enumerate(listed)}

    def rank(key: str) -> tuple[int, int, float, str]:
        asked = first.get((flow, key))
        # Questions only ever volunteered were never asked: they go last.
        stamp = asked.timestamp() if asked is not None else float("inf")
        return (0 if key in position else 1, position.get(key, 0), stamp, key)

    return sorted(keys, key=rank)


def _arm_rank(arm: tuple[str | None, int | None]) -> tuple[int, str, int]:
    name, variant = arm
    if name is not None:
        return (0, name, variant or 0)
    return (2, "", 0) if variant is None else (1, "", variant)


def funnel(
    engine: Engine,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    flow: str | None = None,
    order: Sequence[Flow] = (),
) -> FunnelReport:
    """The question funnel of the events with ``since <= ts < until`` (see module docstring).

    ``flow`` keeps one flow; ``order`` (the current flows) orders each flow's
    questions as its file does, questions no longer in it (or of flows without
    a file) following in the order they were first asked.
    """
    hot, won = _converted(engine)
    fold = _Fold(flow, hot, won)
    for lead_id, kind, ts, properties in _events(engine, since, until):
        fold.feed(lead_id, kind, ts, properties)
    fold.flush()

    by_flow: dict[str, dict[str, dict[tuple[str | None, int | None], _Counter]]] = {}
    for (flow_name, key, arm), counter in fold.arms.items():
        by_flow.setdefault(flow_name, {}).setdefault(key, {})[arm] = counter
    for flow_name in fold.leads:
        by_flow.setdefault(flow_name, {})
    flows = []
    for flow_name in sorted(by_flow, key=lambda name: (name != DEFAULT_FLOW, name)):
        questions = by_flow[flow_name]
        rows = []
        for key in _question_order(questions, flow_name, order, fold.first_asked):
            total = _Counter()
            arms = []
            for arm in sorted(questions[key], key=_arm_rank):
                counter = questions[key][arm]
                total.add(counter)
                arms.append(ArmRow(arm[1], counter.counts(), name=arm[0]))
            rows.append(QuestionRow(key, total.counts(), tuple(arms)))
        flows.append(
            FlowFunnel(
                name=flow_name,
                leads=fold.leads.get(flow_name, 0),
                completed=fold.completed.get(flow_name, 0),
                questions=tuple(rows),
            )
        )
    return FunnelReport(since=since, until=until, flow=flow, flows=tuple(flows))


def current_flows(flows_dir: Path) -> list[Flow]:
    """The flows files of ``flows_dir`` that load; a broken one only loses its order."""
    flows = []
    for path in sorted(flows_dir.glob("*.yml")):
        try:
            flows.append(load_flow(path))
        except FlowError:
            continue
    return flows


# -- output --------------------------------------------------------------------------------


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{100 * rate:.0f}%"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


_COLUMNS = (
    ("asked", 6),
    ("answered", 8),
    ("volunteered", 11),
    ("skipped", 7),
    ("re-asked", 8),
    ("gave up", 7),
    ("dropped", 7),
    ("median s", 8),
    ("hot %", 6),
    ("won %", 6),
)


def _cells(counts: FunnelCounts) -> list[str]:
    return [
        f"{counts.asked:,}",
        f"{counts.answered:,}",
        f"{counts.volunteered:,}",
        f"{counts.skipped:,}",
        f"{counts.reasked:,}",
        f"{counts.unanswered:,}",
        f"{counts.dropped:,}",
        _seconds(counts.median_seconds_to_answer),
        _percent(counts.hot_rate),
        _percent(counts.won_rate),
    ]


def _line(label: str, cells: list[str]) -> str:
    return f"  {label:<24}" + "".join(
        f" {cell:>{width}}" for cell, (_, width) in zip(cells, _COLUMNS, strict=True)
    )


def render_funnel(report: FunnelReport) -> str:
    """The funnel as a text table: per flow, each question, then its arms indented."""
    window = (
        f"{report.since.isoformat() if report.since else 'the start'} to "
        f"{report.until.isoformat() if report.until else 'now'}"
    )
    lines = [f"Question funnel, events from {window}"]
    if not report.flows:
        lines.append("no questions asked in this window")
    header = _line("question / arm", [name for name, _ in _COLUMNS])
    for flow in report.flows:
        lines += [
            "",
            f"Flow {flow.name}: {flow.leads:,} leads asked, {flow.completed:,} completed "
            f"({_percent(_rate(flow.completed, flow.leads))})",
            header,
        ]
        for question in flow.questions:
            lines.append(_line(question.key, _cells(question.counts)))
            lines += [_line(f"  {arm.label}", _cells(arm.counts)) for arm in question.arms]
    lines += [
        "",
        "asked/answered/…: distinct leads; dropped: the conversation ended at this question;",
        "median s: time to answer; hot %/won %: of the leads asked, now hot / Won.",
    ]
    return "\n".join(lines)


def write_funnel_chart(report: FunnelReport, path: Path) -> Path:
    """Draw asked/answered/dropped per question, one panel per flow, as a PNG at ``path``."""
    # Imported here: matplotlib is slow to import and only this function needs it.
    # The Agg canvas renders without a display and leaves pyplot's global state alone.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    flows = report.flows
    heights = [max(len(flow.questions), 1) for flow in flows] or [1]
    figure = Figure(figsize=(8, 1.5 + 0.45 * sum(heights) + 0.8 * len(heights)), dpi=100)
    FigureCanvasAgg(figure)
    if not flows:
        axes = figure.add_subplot()
        axes.text(0.5, 0.5, "no questions asked", ha="center", va="center")
        axes.set_axis_off()
    else:
        grid = figure.add_gridspec(len(flows), 1, height_ratios=heights)
        series = (("asked", "#9db7d5"), ("answered", "#3b6ea5"), ("dropped", "#c0504d"))
        bar = 0.27
        for index, flow in enumerate(flows):
            axes = figure.add_subplot(grid[index])
            keys = [question.key for question in flow.questions]
            positions = range(len(keys))
            for offset, (name, colour) in enumerate(series):
                values = [getattr(question.counts, name) for question in flow.questions]
                axes.barh(
                    [p + (offset - 1) * bar for p in positions],
                    values,
                    height=bar,
                    color=colour,
                    label=name,
                )
            axes.set_yticks(list(positions))
            axes.set_yticklabels(keys, fontsize=8)
            # The flow's first question on top, like the conversation.
            axes.invert_yaxis()
            axes.set_xlabel("leads")
            axes.xaxis.set_major_locator(MaxNLocator(integer=True))  # counts of people
            axes.set_title(f"Flow {flow.name}: {flow.leads:,} leads, {flow.completed:,} completed")
            if index == 0:  # the colours are the same in every panel
                axes.legend(fontsize=8, loc="lower right")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    return path
