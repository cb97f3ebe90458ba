"""Planning follow-ups for every consenting lead with several processes.

Evaluating the plays is CPU-bound Python, so, as rescoring does, one process per
core plans its own range of lead ids (:func:`bot.leads.rescore.in_parallel`),
a batch per short transaction. Each play is planned once per lead (a unique
key), so the ranges never plan anything twice.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from bot.followups import followup_planner_for
from bot.followups.planner import PLAN_BATCH, PlanStats
from bot.leads.rescore import in_parallel, worker_engine
from bot.settings import Settings
from bot.store.db import create_db_engine


def _plan_range(
    settings: Settings,
    id_range: tuple[str, str | None],
    now: datetime,
    batch: int,
    progress: Any,
) -> PlanStats:
    planner = followup_planner_for(settings)
    with worker_engine(settings) as engine:
        return planner.plan_all(engine, now, batch=batch, id_range=id_range, progress=progress.put)


def plan_in_parallel(
    settings: Settings,
    *,
    workers: int,
    now: datetime,
    batch: int = PLAN_BATCH,
    progress: Callable[[int], None] | None = None,
) -> PlanStats:
    """Plan every consenting lead as ``FollowupPlanner.plan_all`` does, in ``workers`` processes.

    One worker plans in this process, with no process started.
    """
    if workers <= 1:
        planner = followup_planner_for(settings)
        engine = create_db_engine(settings.database_url)
        try:
            return planner.plan_all(engine, now, batch=batch, progress=progress)
        finally:
            engine.dispose()
    total = PlanStats()
    for part in in_parallel(
        _plan_range, settings, (now, batch), workers=workers, progress=progress
    ):
        total.leads += part.leads
        total.planned += part.planned
        total.held_out += part.held_out
    return total
