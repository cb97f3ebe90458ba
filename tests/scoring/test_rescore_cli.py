"""`python -m bot rescore`: worker processes share the id space; decay runs skip dormant leads."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.cli import main
from bot.leads import LeadService
from bot.leads.commands import RecordEvent
from bot.leads.rescore import id_ranges
from bot.scoring import scorer_for
from bot.settings import Settings
from bot.store.db import create_db_engine
from bot.store.migrate import upgrade
from bot.store.models import Lead
from tests.scoring import SCORING_CONFIG


@pytest.mark.parametrize("workers", [1, 2, 3, 7])
def test_id_ranges_cover_every_id_once(workers: int) -> None:
    ranges = id_ranges(workers)
    assert ranges[0][0] == "" and ranges[-1][1] is None
    for (_, high), (low, _) in itertools.pairwise(ranges):
        assert high == low  # contiguous, no gap, no overlap
    for lead_id in ("0" * 32, "7fff" + "f" * 28, "8000" + "0" * 28, "f" * 32):
        owners = [r for r in ranges if lead_id > r[0] and (r[1] is None or lead_id < r[1])]
        assert len(owners) == 1


def test_rescore_command_decays_every_lead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'leads.db'}"
    upgrade(url)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("SCORING_CONFIG", str(SCORING_CONFIG))
    engine = create_db_engine(url)
    repository = LeadService(engine, scorer_for(Settings.from_env()))
    week_ago = datetime.now(timezone.utc) - timedelta(days=7)
    for index in range(40):
        repository.apply(
            [
                RecordEvent(
                    session_id=f"s{index}",
                    event_id=f"e{index}",
                    type="checkout_start",
                    ts=week_ago,
                    source="storefront",
                )
            ],
            now=week_ago,
        )
    assert main(["rescore", "--quiet", "--workers", "2"]) == 0
    assert (
        "rescored 40 lead(s) (leads whose score changes with time) with 2 worker(s): 40 changed"
        in (capsys.readouterr().out)
    )
    with engine.connect() as connection:
        scores = connection.execute(select(Lead.intent_score)).scalars().all()
    # 30 points a week ago, halving every 2 days: about 2.7 now.
    assert sorted(set(scores)) == [3]
    assert main(["rescore", "--quiet", "--all", "--workers", "2"]) == 0
    assert "rescored 40 lead(s) (every lead) with 2 worker(s): 0 changed" in capsys.readouterr().out
    engine.dispose()
