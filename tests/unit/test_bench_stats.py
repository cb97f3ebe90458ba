"""Latency statistics and the Markdown report of ``python -m bench``."""

from __future__ import annotations

import pytest

from bench.stats import LatencySummary, p50_ratio, percentile, render_markdown, summarize


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        # one value is every percentile
        ([7.0], 50, 7.0),
        ([7.0], 99, 7.0),
        # odd count: the median is the middle value, whatever the input order
        ([3.0, 1.0, 2.0], 50, 2.0),
        # even count: halfway between the two middle values
        ([1.0, 2.0, 3.0, 4.0], 50, 2.5),
        # the ends are the minimum and the maximum
        ([5.0, 1.0, 9.0], 0, 1.0),
        ([5.0, 1.0, 9.0], 100, 9.0),
        # linear interpolation, as numpy.percentile: rank (5 - 1) * 0.95 = 3.8
        ([10.0, 20.0, 30.0, 40.0, 50.0], 95, 48.0),
        # p99 of 1..100 sits just below the maximum: rank 99 * 0.99 = 98.01
        ([float(v) for v in range(1, 101)], 99, 99.01),
    ],
)
def test_percentile(values: list[float], q: float, expected: float) -> None:
    assert percentile(values, q) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("values", "q"),
    [
        # no data
        ([], 50),
        # out of range
        ([1.0], -1),
        ([1.0], 101),
    ],
)
def test_percentile_rejects(values: list[float], q: float) -> None:
    with pytest.raises(ValueError):
        percentile(values, q)


def test_summarize_converts_to_milliseconds_and_counts_throughput() -> None:
    summary = summarize([0.010, 0.020, 0.030, 0.040], wall_seconds=2.0, errors=1)
    assert summary.turns == 4
    assert summary.errors == 1
    assert summary.p50_ms == pytest.approx(25.0)
    assert summary.mean_ms == pytest.approx(25.0)
    assert summary.max_ms == pytest.approx(40.0)
    assert summary.turns_per_second == pytest.approx(2.0)


def test_summarize_needs_a_positive_wall_time() -> None:
    with pytest.raises(ValueError):
        summarize([0.1], wall_seconds=0)


def summary(p50: float, p99: float) -> LatencySummary:
    return LatencySummary(
        turns=80,
        errors=0,
        p50_ms=p50,
        p95_ms=p99,
        p99_ms=p99,
        mean_ms=p50,
        max_ms=p99,
        turns_per_second=12.5,
    )


def test_report_lists_both_kinds_of_turn_targets_and_memory() -> None:
    bare, full = summary(40.0, 90.0), summary(48.0, 200.0)
    table = render_markdown(
        bare,
        full,
        {"rasa": 812.4, "actions": 230.0, "web": 45.2},
        concurrency=10,
        machine="2 cores, AMD EPYC",
    )
    lines = table.splitlines()
    assert "10 concurrent conversations, no pause between turns (2 cores, AMD EPYC)" in lines[0]
    assert "| bare (rule, no custom action) | 80 | 0 | 40.0 | 90.0 | 90.0 | 90.0 | 12.5 |" in lines
    assert "| full qualification | 80 | 0 | 48.0 | 200.0 | 200.0 | 200.0 | 12.5 |" in lines
    assert "| full p50 ≤ 1.3x bare p50 | 1.20x | met |" in lines
    assert "| full p99 ≤ 250 ms | 200.0 ms | met |" in lines
    assert "| rasa | 812 |" in lines
    assert p50_ratio(full, bare) == pytest.approx(1.2)


def test_report_flags_missed_targets() -> None:
    table = render_markdown(
        summary(40.0, 90.0), summary(120.0, 900.0), {}, concurrency=10, machine="test"
    )
    assert "| full p50 ≤ 1.3x bare p50 | 3.00x | **missed** |" in table.splitlines()
    assert "| full p99 ≤ 250 ms | 900.0 ms | **missed** |" in table.splitlines()


def test_cpu_seconds_counts_the_work_a_process_did() -> None:
    import os

    from bot.devstack import cpu_seconds

    before = cpu_seconds(os.getpid())
    total = 0
    for number in range(3_000_000):
        total += number * number
    assert total > 0
    assert cpu_seconds(os.getpid()) > before
    assert cpu_seconds(2**22 + 12345) == 0.0  # no such process
