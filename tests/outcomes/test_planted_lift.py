"""The report recovers lifts planted in a seeded history (the benchmark's generator)."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from bench.outcomes import NOW, Truth, generate
from bot.catalog import DEMO_CATALOG, load_catalog
from bot.leads.outcomes_report import outcome_report
from bot.store.db import create_db_engine

# 24 plays, six each with a planted lift of 0, 2, 5 and 10 points; 400 leads a play.
LIFTS = {f"play-{n:02d}": (0.0, 0.02, 0.05, 0.1)[n % 4] for n in range(24)}
LEADS = 400 * len(LIFTS)
# Each 95 % interval misses its planted lift one time in 20: 24 intervals miss 5 or
# more with a chance under 1 % (binomial), so at most 4 misses are allowed.
MAX_MISSES = 4


def test_planted_lifts_within_their_intervals(migrated_sqlite_url: str) -> None:
    engine: Engine = create_db_engine(migrated_sqlite_url)
    try:
        generate(engine, LEADS, seed=7, truth=Truth(LIFTS, holdout=0.3))
        report = outcome_report(engine, load_catalog(DEMO_CATALOG), now=NOW)
    finally:
        engine.dispose()
    plays = {row.play: row for row in report.plays}
    assert set(plays) == set(LIFTS)
    # Leads come evenly over 90 days with follow-ups due 4 hours later: the last
    # 9600 x 4 / 2160 (17) are due after now, outside the report's range.
    assert sum(row.sent.leads + row.held_out.leads for row in report.plays) == LEADS - 17
    misses = []
    for play, planted in LIFTS.items():
        interval = plays[play].interval
        assert interval is not None
        if not interval[0] <= planted <= interval[1]:
            misses.append((play, planted, interval))
    assert len(misses) <= MAX_MISSES, misses
    # Pooled over the six plays of each planted lift, the measured lifts are ordered.
    pooled = {
        lift: sum(plays[p].lift or 0.0 for p, planted in LIFTS.items() if planted == lift) / 6
        for lift in (0.0, 0.02, 0.05, 0.1)
    }
    assert pooled[0.0] < pooled[0.05] < pooled[0.1]
