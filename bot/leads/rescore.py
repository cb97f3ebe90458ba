"""Rescoring every lead with several processes.

Scoring is CPU-bound Python, so one process per core shares the id space:
lead ids are uniform random hex, so equal hex ranges hold about equal numbers of
leads. Each worker streams its range in batches (memory stays flat) and writes
each batch in its own short transaction, so the servers keep writing meanwhile.
"""

from __future__ import annotations

import gc
import multiprocessing
import queue
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.engine import Engine

from bot import clock
from bot.leads.results import RescoreSummary
from bot.leads.service import LeadService
from bot.settings import Settings
from bot.store.db import create_db_engine

_PROGRESS_POLL_SECONDS = 0.2
_HEX_SPACE = 16**4
_T = TypeVar("_T")


def id_ranges(workers: int) -> list[tuple[str, str | None]]:
    """``workers`` contiguous [low, high) ranges covering every hex lead id."""
    bounds = [format(index * _HEX_SPACE // workers, "04x") for index in range(workers)]
    return [
        ("" if index == 0 else low, bounds[index + 1] if index + 1 < workers else None)
        for index, low in enumerate(bounds)
    ]


@contextmanager
def worker_engine(settings: Settings) -> Iterator[Engine]:
    """The lead store's engine for one worker process of a pass over an id range.

    A pass over leads allocates many short-lived objects and no reference cycles:
    collecting less often saves a third of the time without growing memory.
    """
    gc.set_threshold(50_000, 50, 100)
    engine = create_db_engine(settings.database_url)
    try:
        yield engine
    finally:
        engine.dispose()


def in_parallel(
    task: Callable[..., _T],
    settings: Settings,
    arguments: tuple[Any, ...],
    *,
    workers: int,
    progress: Callable[[int], None] | None,
) -> list[_T]:
    """``task(settings, id_range, *arguments, updates)`` in ``workers`` processes.

    One process per range of :func:`id_ranges`; the results come in range order.
    ``updates`` is a queue the task puts counts of leads done on; each reaches
    ``progress`` as it comes.
    """
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        updates = manager.Queue()
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = [
                pool.submit(task, settings, id_range, *arguments, updates)
                for id_range in id_ranges(workers)
            ]
            while not all(future.done() for future in futures):
                try:
                    done = updates.get(timeout=_PROGRESS_POLL_SECONDS)
                except queue.Empty:
                    continue
                if progress is not None:
                    progress(done)
            results = [future.result() for future in futures]
        while progress is not None and not updates.empty():
            progress(updates.get())
    return results


def _rescore_range(
    settings: Settings,
    id_range: tuple[str, str | None],
    batch_size: int,
    now: datetime,
    everything: bool,
    progress: Any,
) -> RescoreSummary:
    from bot.handoff import planner_for
    from bot.scoring import scorer_for

    with worker_engine(settings) as engine:
        service = LeadService(engine, scorer_for(settings), planner_for(settings))
        return service.rescore_all(
            now,
            batch_size=batch_size,
            id_range=id_range,
            everything=everything,
            progress=progress.put,
        )


def rescore_in_parallel(
    settings: Settings,
    *,
    workers: int,
    batch_size: int = 2000,
    now: datetime | None = None,
    everything: bool = False,
    progress: Callable[[int], None] | None = None,
) -> RescoreSummary:
    """Rescore leads with ``workers`` processes; one ``now`` for all of them.

    By default only leads whose score can still change with time (decay);
    ``everything`` for all leads, after a configuration or catalogue change.
    """
    now = now or clock.now()
    total = RescoreSummary()
    for part in in_parallel(
        _rescore_range,
        settings,
        (batch_size, now, everything),
        workers=workers,
        progress=progress,
    ):
        total.leads += part.leads
        total.changed += part.changed
        total.stage_changes += part.stage_changes
    return total
