"""The scoring review for people: evaluation and backtest as text, conversion as a chart.

Renders the reports of :mod:`bot.leads.review` (``python -m bot scoring
evaluate`` and ``backtest``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from bot.leads.review import BacktestReport, EvaluationReport, LeadExample


def write_chart(report: EvaluationReport, path: Path) -> Path:
    """Draw conversion rate by score decile as a PNG at ``path`` (parents created)."""
    # Imported here: matplotlib is slow to import and only this function needs it.
    # The Agg canvas renders without a display and leaves pyplot's global state alone.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 4.5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    rows = report.by_decile
    labels = [f"D{row.label}\n{row.scores}" for row in rows]
    rates = [100 * (row.rate or 0.0) for row in rows]
    bars = axes.bar(range(len(rows)), rates, color="#3b6ea5")
    for bar, row in zip(bars, rows, strict=True):
        axes.annotate(
            f"{row.converted}/{row.leads}",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    axes.set_xticks(range(len(rows)))
    axes.set_xticklabels(labels, fontsize=8)
    axes.set_xlabel("score decile (lowest scores first) and scores in it")
    axes.set_ylabel("converted (%)")
    axes.set_title(f"Conversion by score decile, {report.accuracy.leads:,} leads")
    if not rows:
        axes.text(0.5, 0.5, "no leads", ha="center", va="center", transform=axes.transAxes)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    return path


def render_evaluation(report: EvaluationReport) -> str:
    """The evaluation as compact text."""
    accuracy = report.accuracy
    lines = [
        f"Score evaluation: {accuracy.leads:,} leads at {_time(report.now)} "
        f"(config {report.config})",
        f"Converted (Won or purchased): {accuracy.converted:,} "
        f"({_percent(accuracy.conversion)}); "
        "buyers judged just before their purchase, others just after their last visit",
        f"Hot as a predictor of conversion: precision {_percent(accuracy.precision)} "
        f"({accuracy.true_positives:,} of {accuracy.hot:,} hot converted), "
        f"recall {_percent(accuracy.recall)} "
        f"({accuracy.true_positives:,} of {accuracy.converted:,} converted were hot)",
        "",
        "Conversion by stage",
        f"  {'stage':<6} {'leads':>9} {'converted':>9} {'rate':>7}",
    ]
    lines += [
        f"  {row.stage:<6} {row.leads:>9,} {row.converted:>9,} {_percent(row.rate):>7}"
        for row in report.by_stage
    ]
    lines += [
        "",
        "Conversion by score decile (lowest scores first)",
        f"  {'decile':<6} {'scores':>9} {'leads':>9} {'converted':>9} {'rate':>7}",
    ]
    lines += [
        f"  {row.label:<6} {row.scores:>9} {row.leads:>9,} {row.converted:>9,} "
        f"{_percent(row.rate):>7}"
        for row in report.by_decile
    ]
    lines += _example_lines(
        f"False positives (hot, not converted): {accuracy.false_positives:,}",
        "highest scores",
        report.false_positive_examples,
    )
    lines += _example_lines(
        f"False negatives (converted, not hot): {accuracy.false_negatives:,}",
        "lowest scores",
        report.false_negative_examples,
    )
    return "\n".join(lines)


def render_backtest(report: BacktestReport) -> str:
    """The backtest as compact text."""
    current, proposed = report.current, report.proposed
    lines = [
        f"Backtest: {report.proposed_config} against {report.current_config}, "
        f"{current.leads:,} leads at {_time(report.now)}",
        f"  {'':<16} {'current':>9} {'proposed':>9}",
        f"  {'precision (hot)':<16} {_percent(current.precision):>9} "
        f"{_percent(proposed.precision):>9}",
        f"  {'recall (hot)':<16} {_percent(current.recall):>9} {_percent(proposed.recall):>9}",
        f"  {'hot leads':<16} {current.hot:>9,} {proposed.hot:>9,}",
        f"  {'false positives':<16} {current.false_positives:>9,} {proposed.false_positives:>9,}",
        f"  {'false negatives':<16} {current.false_negatives:>9,} {proposed.false_negatives:>9,}",
        "",
        f"Score changes: {report.score_changed:,} leads; stage changes: "
        f"{report.stage_changed:,} leads",
    ]
    lines += [
        f"  {move.from_stage} \u2192 {move.to_stage}: {move.leads:,} leads, "
        f"{move.converted:,} converted"
        for move in report.moves
    ]
    if report.changes:
        lines += [
            "",
            f"Leads changing stage ({len(report.changes)} of {report.stage_changed:,}, "
            "largest score change first)",
        ]
        for change in report.changes:
            outcome = "converted" if change.converted else "not converted"
            lines.append(
                f"  {change.lead_id} {change.from_stage} \u2192 {change.to_stage}, score "
                f"{change.score_before} \u2192 {change.score_after}, {outcome}"
            )
            lines += [f"      {reason}" for reason in change.reasons]
    return "\n".join(lines)


def _example_lines(title: str, order: str, examples: Sequence[LeadExample]) -> list[str]:
    if not examples:
        return ["", title]
    lines = ["", f"{title}; {order}:"]
    for example in examples:
        lines.append(f"  {example.lead_id} {example.stage}, score {example.score}")
        lines += [f"      {reason}" for reason in example.reasons]
    return lines


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
