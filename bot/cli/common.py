"""What the commands share: the engine, configurations that may fail to load, argument types.

Store and library modules are imported inside the functions: building the
parser must stay cheap, and importing the store costs every command (``run``,
``web``) over a second.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from bot.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from bot.followups import FollowupPlanner
    from bot.handoff import HandoffConfig
    from bot.scoring import Scorer

Loaded = TypeVar("Loaded")


@contextmanager
def open_engine(settings: Settings) -> Iterator[Engine]:
    """An engine on the lead store of ``settings``, disposed when the block ends."""
    from bot.store.db import create_db_engine

    engine = create_db_engine(settings.database_url)
    try:
        yield engine
    finally:
        engine.dispose()


def load_config(
    load: Callable[[], Loaded],
    errors: type[Exception] | tuple[type[Exception], ...],
    label: str,
    *,
    each_line: bool = False,
) -> Loaded | None:
    """``load()``, or ``None`` once the error (which names file and line) is on stderr.

    The message is printed as ``label: error``; ``each_line`` repeats the label on
    every line of a message that lists several problems.
    """
    try:
        return load()
    except errors as exc:
        lines = str(exc).splitlines() if each_line else [str(exc)]
        for line in lines:
            print(f"{label}: {line}", file=sys.stderr)
        return None


def configured_scorer(settings: Settings, which: str = "") -> Scorer | None:
    """The scorer ``settings`` configure, or ``None`` after printing why there is none."""
    from bot.scoring import ScoringConfigError, scorer_for

    label = f" ({which})" if which else ""
    return load_config(
        lambda: scorer_for(settings),
        (ScoringConfigError, ValueError),
        f"scoring configuration error{label}",
    )


def configured_planner(settings: Settings) -> FollowupPlanner | None:
    """The follow-up planner ``settings`` configure, or ``None`` after printing why not."""
    from bot.catalog import CatalogError
    from bot.catalog.rates import RatesError
    from bot.followups import FollowupConfigError, followup_planner_for

    return load_config(
        lambda: followup_planner_for(settings),
        (FollowupConfigError, CatalogError, RatesError),
        "follow-up configuration error",
        each_line=True,
    )


def handoff_config(settings: Settings) -> HandoffConfig | None:
    """The handoff configuration of ``settings``, or ``None`` after printing why there is none."""
    from bot.handoff import HandoffConfigError, handoff_config_for

    return load_config(
        lambda: handoff_config_for(settings), HandoffConfigError, "handoff configuration error"
    )


def deployment_settings() -> Settings:
    """Settings with the deployment's saved secrets (``var/tokens.json``) filled in.

    Commands that hand leads off sign acknowledge links: they must use the same
    key as the web app that checks them.
    """
    from bot.secrets import ensure_tokens

    environ = dict(os.environ)
    ensure_tokens(environ)
    return Settings.from_env(environ)


def print_table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    """``rows`` as left-aligned columns under a header line."""
    widths = {c: max(len(c), *(len(str(r.get(c) or "")) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(str(row.get(c) or "").ljust(widths[c]) for c in columns))


# The name shows in argparse's errors ("invalid _positive value: 'ten'").
def _positive(text: str) -> int:
    """A whole number of at least 1 (an argument type)."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value
