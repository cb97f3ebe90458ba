"""Pure parts of the chat benchmark: latency statistics and the Markdown report."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# Targets the report is checked against (README, "Performance").
FULL_TO_BARE_P50_MAX = 1.3
FULL_P99_MAX_MS = 250.0


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation (numpy's default)."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be between 0 and 100, got {q}")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    lower, upper = math.floor(position), math.ceil(position)
    fraction = position - lower
    return ordered[lower] + (ordered[upper] - ordered[lower]) * fraction


@dataclass(frozen=True)
class LatencySummary:
    """Latency distribution (milliseconds) and throughput of one kind of turn."""

    turns: int
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    turns_per_second: float


def summarize(latencies_s: Sequence[float], wall_seconds: float, errors: int = 0) -> LatencySummary:
    """Summarise per-turn latencies (seconds) measured over ``wall_seconds``."""
    if wall_seconds <= 0:
        raise ValueError("wall time must be positive")
    millis = [value * 1000 for value in latencies_s]
    return LatencySummary(
        turns=len(millis),
        errors=errors,
        p50_ms=percentile(millis, 50),
        p95_ms=percentile(millis, 95),
        p99_ms=percentile(millis, 99),
        mean_ms=sum(millis) / len(millis),
        max_ms=max(millis),
        turns_per_second=len(millis) / wall_seconds,
    )


def p50_ratio(full: LatencySummary, bare: LatencySummary) -> float:
    """Full-turn p50 over bare-turn p50."""
    return full.p50_ms / bare.p50_ms


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def render_markdown(
    bare: LatencySummary,
    full: LatencySummary,
    rss_mb: Mapping[str, float],
    *,
    concurrency: int,
    machine: str,
    pacing: str = "no pause between turns",
) -> str:
    """The benchmark report: latency table, targets and (if given) memory, as Markdown."""
    ratio = p50_ratio(full, bare)
    lines = [
        f"Chat turns over REST, {concurrency} concurrent conversations, {pacing} ({machine})",
        "",
        "| turn | turns | errors | p50 ms | p95 ms | p99 ms | max ms | turns/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, summary in (("bare (rule, no custom action)", bare), ("full qualification", full)):
        lines.append(
            f"| {label} | {summary.turns} | {summary.errors} | {summary.p50_ms:.1f} "
            f"| {summary.p95_ms:.1f} | {summary.p99_ms:.1f} | {summary.max_ms:.1f} "
            f"| {summary.turns_per_second:.1f} |"
        )
    lines += [
        "",
        "| target | measured | |",
        "|---|---:|---|",
        f"| full p50 ≤ {FULL_TO_BARE_P50_MAX}x bare p50 | {ratio:.2f}x "
        f"| {_verdict(ratio <= FULL_TO_BARE_P50_MAX)} |",
        f"| full p99 ≤ {FULL_P99_MAX_MS:.0f} ms | {full.p99_ms:.1f} ms "
        f"| {_verdict(full.p99_ms <= FULL_P99_MAX_MS)} |",
    ]
    if rss_mb:
        lines += ["", "| process | RSS MB |", "|---|---:|"]
        lines += [f"| {name} | {value:.0f} |" for name, value in rss_mb.items()]
    return "\n".join(lines)
