"""The outcome report: what the follow-ups, A/B arms, answers and reps brought in.

:func:`outcome_report` reads the counts :mod:`bot.store.attribution` groups in the
database over ``[since, until)`` (default: the 90 days before now) and adds the
rates and intervals:

- **plays**: per follow-up play, the eligible leads of the follow-ups due in the
  range, by intention to treat: ``assigned`` are all the leads the play was planned
  for, whatever became of the message (``sent``: queued in the durable outbox,
  which delivers each once; ``stopped``: held back by a stop rule, such as a
  purchase before the send; ``planned``: not released yet, e.g. postponed by the
  frequency cap), ``held_out`` the seeded control group that got nothing.
  Converted means an order since the lead was assigned to the play (``signal_at``,
  the same moment in both arms), or Won since then; revenue is those orders'
  value in the shop's currency. ``lift`` is the assigned group's conversion rate
  minus the held-out group's, with a 95 % **Newcombe hybrid score interval**
  (method 10 of Newcombe 1998, built from the two Wilson score intervals), which
  keeps inside [-1, 1] and stays sensible for small groups and rates near 0 or 1,
  unlike the Wald interval. Comparing only the sent leads would drop from the
  treatment arm the shoppers who bought before their message went out (their
  message is stopped) while the control arm keeps its early buyers: the arms would
  no longer be the random split the hash made, and the lift would come out low.
  ``sent_group`` (the sent leads alone) is shown beside it, not used for the lift.
- **arms**: leads created in the range per flow A/B test and arm (the arm the
  lead was first shown, as ``python -m bot flows report`` labels it), with Won,
  revenue and the Won rate.
- **answers**: leads created in the range by their current budget against the
  chosen variant's catalogue price (``over`` when the budget covers the price,
  ``under``, ``no_budget``, ``no_variant`` when there is a budget but no priced
  variant, ``other_currency`` when they differ) and by timeline (days to the
  stated purchase: ``0-7``, ``8-30``, ``31-90``, ``91+``, ``none``).
- **reps**: speed-to-lead per rep over the handoffs opened in the range: the
  median seconds from handoff to the rep's acknowledgement, the share of SLAs
  met (met / (met + missed); handoffs not yet due are pending and left out) and
  the conversion (Won) of the leads handed to them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import String, and_, case, cast, literal
from sqlalchemy.engine import Engine

from bot import clock
from bot.catalog.model import Catalog
from bot.store import attribution
from bot.store.attribution import CurrentAnswers, GroupCounts, RepCounts

DEFAULT_DAYS = 90
# The two-sided 95 % normal quantile.
Z95 = 1.959963984540054
BUDGET_BUCKETS = ("over", "under", "no_budget", "no_variant", "other_currency")
TIMELINE_BUCKETS = (("0-7", 7), ("8-30", 30), ("31-90", 90), ("91+", None))
NO_TIMELINE = "none"


class ReportRangeError(ValueError):
    """A report range that is not a range (``since`` not before ``until``)."""


def wilson_interval(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion."""
    if trials == 0:
        return (0.0, 1.0)
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def newcombe_interval(
    successes_a: int, trials_a: int, successes_b: int, trials_b: int, z: float = Z95
) -> tuple[float, float] | None:
    """Newcombe's hybrid score interval of ``p_a - p_b``; ``None`` if a group is empty."""
    if trials_a == 0 or trials_b == 0:
        return None
    p_a, p_b = successes_a / trials_a, successes_b / trials_b
    low_a, high_a = wilson_interval(successes_a, trials_a, z)
    low_b, high_b = wilson_interval(successes_b, trials_b, z)
    difference = p_a - p_b
    lower = difference - math.sqrt((p_a - low_a) ** 2 + (high_b - p_b) ** 2)
    upper = difference + math.sqrt((high_a - p_a) ** 2 + (p_b - low_b) ** 2)
    return (lower, upper)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _per_lead(revenue: Decimal, leads: int) -> Decimal | None:
    return (revenue / leads).quantize(Decimal("0.01")) if leads else None


def _group(counts: GroupCounts) -> dict[str, Any]:
    return {
        "leads": counts.leads,
        "converted": counts.converted,
        "rate": _rate(counts.converted, counts.leads),
        "revenue": counts.revenue,
        "revenue_per_lead": _per_lead(counts.revenue, counts.leads),
    }


_EMPTY = GroupCounts(leads=0, converted=0, revenue=Decimal("0.00"))


def _sum(*groups: GroupCounts) -> GroupCounts:
    return GroupCounts(
        leads=sum(group.leads for group in groups),
        converted=sum(group.converted for group in groups),
        revenue=sum((group.revenue for group in groups), Decimal("0.00")),
        clicked=sum(group.clicked for group in groups),
    )


@dataclass(frozen=True)
class PlayRow:
    """One play's treatment arm (sent, stopped and still planned) and held-out group."""

    play: str
    sent: GroupCounts
    held_out: GroupCounts
    stopped: GroupCounts = _EMPTY
    planned: GroupCounts = _EMPTY

    @property
    def assigned(self) -> GroupCounts:
        """Every lead the play was planned for: the treatment arm, by intention to treat."""
        return _sum(self.sent, self.stopped, self.planned)

    @property
    def lift(self) -> float | None:
        """Assigned conversion rate minus held-out conversion rate."""
        assigned = self.assigned
        if not assigned.leads or not self.held_out.leads:
            return None
        return assigned.converted / assigned.leads - self.held_out.converted / self.held_out.leads

    @property
    def interval(self) -> tuple[float, float] | None:
        """The 95 % Newcombe interval of the lift."""
        assigned = self.assigned
        return newcombe_interval(
            assigned.converted, assigned.leads, self.held_out.converted, self.held_out.leads
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        interval = self.interval
        assigned = self.assigned
        return {
            "play": self.play,
            "eligible": assigned.leads + self.held_out.leads,
            "assigned": assigned.leads,
            "sent": self.sent.leads,
            "stopped": self.stopped.leads,
            "planned": self.planned.leads,
            "held_out": self.held_out.leads,
            "clicked": self.sent.clicked,
            "converted": assigned.converted + self.held_out.converted,
            "revenue": assigned.revenue + self.held_out.revenue,
            "assigned_group": _group(assigned),
            "sent_group": _group(self.sent),
            "held_out_group": _group(self.held_out),
            "lift": None if self.lift is None else round(self.lift, 4),
            "lift_low": None if interval is None else round(interval[0], 4),
            "lift_high": None if interval is None else round(interval[1], 4),
        }


@dataclass(frozen=True)
class OutcomeReport:
    """The report's rows over ``[since, until)``."""

    since: datetime
    until: datetime
    plays: list[PlayRow]
    arms: list[tuple[str, str, GroupCounts]]
    budget: list[tuple[str, GroupCounts]]
    timeline: list[tuple[str, GroupCounts]]
    reps: list[RepCounts]

    def as_dict(self) -> dict[str, Any]:
        """JSON form (decimals stay Decimal; the caller's JSON encoder writes them)."""
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "interval": "newcombe-hybrid-score-95",
            "plays": [row.as_dict() for row in self.plays],
            "arms": [{"test": test, "arm": arm, **_group(c)} for test, arm, c in self.arms],
            "answers": {
                "budget": [{"bucket": name, **_group(c)} for name, c in self.budget],
                "timeline": [{"bucket": name, **_group(c)} for name, c in self.timeline],
            },
            "reps": [_rep_dict(rep) for rep in self.reps],
        }


def _rep_dict(rep: RepCounts) -> dict[str, Any]:
    return {
        "rep": rep.rep,
        "handoffs": rep.handoffs,
        "acknowledged": rep.acknowledged,
        "median_seconds_to_ack": None
        if rep.median_seconds is None
        else round(rep.median_seconds, 1),
        "sla_met": rep.met,
        "sla_missed": rep.missed,
        "sla_pending": rep.pending,
        "share_sla_met": _rate(rep.met, rep.met + rep.missed),
        "leads": rep.leads,
        "won": rep.won,
        "rate": _rate(rep.won, rep.leads),
    }


def parse_report_time(text: str) -> datetime:
    """A ``since``/``until`` value: an ISO 8601 date (midnight UTC) or time (UTC if no zone)."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"expected an ISO 8601 date or time like 2026-11-30 or 2026-11-30T09:00:00Z, "
            f"got {text!r}"
        ) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def report_range(
    since: datetime | None, until: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """The range the options give: ``until`` defaults to now, ``since`` to 90 days before it."""
    end = until or now
    start = since or end - timedelta(days=DEFAULT_DAYS)
    if start >= end:
        raise ReportRangeError(
            f"since ({start.isoformat()}) must be before until ({end.isoformat()})"
        )
    return start, end


def _budget_bucket(catalog: Catalog) -> Callable[[CurrentAnswers], Any]:
    variants = [variant for _, variant in catalog.all_variants()]

    def bucket(answers: CurrentAnswers) -> Any:
        amount = answers.budget_amount
        if not variants:
            return case((amount.is_(None), literal("no_budget")), else_=literal("no_variant"))
        price = case({v.id: float(v.price) for v in variants}, value=answers.variant, else_=None)
        currency = case({v.id: v.currency for v in variants}, value=answers.variant, else_=None)
        return case(
            (amount.is_(None), literal("no_budget")),
            (price.is_(None), literal("no_variant")),
            (
                and_(
                    answers.budget_currency.is_not(None),
                    answers.budget_currency != cast(currency, String),
                ),
                literal("other_currency"),
            ),
            (amount >= price, literal("over")),
            else_=literal("under"),
        )

    return bucket


def _timeline_bucket(answers: CurrentAnswers) -> Any:
    days = answers.timeline_days
    whens: list[Any] = [(days.is_(None), literal(NO_TIMELINE))]
    for name, highest in TIMELINE_BUCKETS:
        if highest is not None:
            whens.append((days <= highest, literal(name)))
    return case(*whens, else_=literal(TIMELINE_BUCKETS[-1][0]))


def outcome_report(
    engine: Engine,
    catalog: Catalog,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    now: datetime | None = None,
) -> OutcomeReport:
    """The outcome report over ``[since, until)`` (default: the 90 days before ``now``)."""
    moment = now or clock.now()
    start, end = report_range(since, until, moment)
    with engine.connect() as connection:
        plays = attribution.play_counts(connection, start, end)
        arms = attribution.arm_counts(connection, start, end)
        answers = attribution.answer_counts(
            connection,
            start,
            end,
            {"budget": _budget_bucket(catalog), "timeline": _timeline_bucket},
        )
        budget, timeline = answers.get("budget", {}), answers.get("timeline", {})
        reps = attribution.rep_counts(connection, start, end, moment)
    timeline_order = [name for name, _ in TIMELINE_BUCKETS] + [NO_TIMELINE]
    return OutcomeReport(
        since=start,
        until=end,
        plays=[
            PlayRow(
                play=play,
                sent=groups.get("sent", _EMPTY),
                held_out=groups.get("held_out", _EMPTY),
                stopped=groups.get("stopped", _EMPTY),
                planned=groups.get("planned", _EMPTY),
            )
            for play, groups in sorted(plays.items())
        ],
        arms=[(test, arm, arms[(test, arm)]) for test, arm in sorted(arms)],
        budget=[(name, budget[name]) for name in BUDGET_BUCKETS if name in budget],
        timeline=[(name, timeline[name]) for name in timeline_order if name in timeline],
        reps=reps,
    )


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".") if value else "0"
    return str(value)


def _table(title: str, columns: list[str], rows: list[dict[str, Any]]) -> list[str]:
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [max([len(column), *(len(r[i]) for r in cells)]) for i, column in enumerate(columns)]
    lines = [title, "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=False))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) for row in cells]
    if not rows:
        lines.append("(none)")
    return lines


def render_report(report: OutcomeReport) -> str:
    """The report as plain-text tables."""
    data = report.as_dict()
    plays = [
        {
            **row,
            "assigned_rate": row["assigned_group"]["rate"],
            "held_out_rate": row["held_out_group"]["rate"],
            "rev/lead assigned": row["assigned_group"]["revenue_per_lead"],
            "rev/lead held": row["held_out_group"]["revenue_per_lead"],
            "95% CI": "-"
            if row["lift_low"] is None
            else f"[{_cell(row['lift_low'])}, {_cell(row['lift_high'])}]",
        }
        for row in data["plays"]
    ]
    lines = [f"Outcomes {data['since']} to {data['until']} (lift: {data['interval']})", ""]
    lines += _table(
        "Per play",
        [
            "play",
            "eligible",
            "assigned",
            "sent",
            "stopped",
            "held_out",
            "clicked",
            "converted",
            "revenue",
            "assigned_rate",
            "held_out_rate",
            "lift",
            "95% CI",
            "rev/lead assigned",
            "rev/lead held",
        ],
        plays,
    )
    group_columns = ["leads", "converted", "rate", "revenue"]
    lines += ["", *_table("Per A/B arm", ["test", "arm", *group_columns], data["arms"])]
    lines += ["", *_table("Per budget", ["bucket", *group_columns], data["answers"]["budget"])]
    lines += [
        "",
        *_table("Per timeline (days)", ["bucket", *group_columns], data["answers"]["timeline"]),
    ]
    lines += [
        "",
        *_table(
            "Speed to lead per rep",
            [
                "rep",
                "handoffs",
                "median_seconds_to_ack",
                "share_sla_met",
                "sla_pending",
                "leads",
                "won",
                "rate",
            ],
            data["reps"],
        ),
    ]
    return "\n".join(lines)


def write_charts(report: OutcomeReport, directory: Path) -> list[Path]:
    """Two PNGs in ``directory``: lift per play with its interval, conversion vs speed per rep."""
    # Imported here: matplotlib is slow to import and only this function needs it.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    directory.mkdir(parents=True, exist_ok=True)
    lift_path = directory / "outcomes_lift.png"
    figure = Figure(figsize=(8, 1.5 + 0.5 * max(len(report.plays), 1)), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    measured = [(row, row.lift, row.interval) for row in report.plays]
    shown = [(row.play, lift, ci) for row, lift, ci in measured if lift is not None and ci]
    if shown:
        positions = range(len(shown))
        lifts = [lift for _, lift, _ in shown]
        below = [lift - ci[0] for _, lift, ci in shown if ci is not None]
        above = [ci[1] - lift for _, lift, ci in shown if ci is not None]
        axes.errorbar(lifts, positions, xerr=[below, above], fmt="o", color="#3b6ea5", capsize=4)
        axes.axvline(0, color="#999999", linewidth=1)
        axes.set_yticks(list(positions), [name for name, _, _ in shown])
        axes.set_xlabel("lift in conversion (assigned - held out), 95% Newcombe interval")
    else:
        axes.text(0.5, 0.5, "no play with assigned and held-out leads", ha="center", va="center")
        axes.set_axis_off()
    axes.set_title("Follow-up lift per play")
    figure.tight_layout()
    figure.savefig(lift_path)

    reps_path = directory / "outcomes_reps.png"
    figure = Figure(figsize=(7, 5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    points = [
        (rep.rep, rep.median_seconds / 60, rep.won / rep.leads)
        for rep in report.reps
        if rep.median_seconds is not None and rep.leads
    ]
    if points:
        axes.scatter([p[1] for p in points], [p[2] for p in points], color="#3b6ea5")
        for name, minutes, rate in points:
            axes.annotate(name, (minutes, rate), textcoords="offset points", xytext=(4, 4))
        axes.set_xlabel("median minutes from handoff to acknowledgement")
        axes.set_ylabel("conversion (Won) of handed-off leads")
    else:
        axes.text(0.5, 0.5, "no acknowledged handoffs", ha="center", va="center")
        axes.set_axis_off()
    axes.set_title("Conversion vs speed to lead per rep")
    figure.tight_layout()
    figure.savefig(reps_path)
    return [lift_path, reps_path]
