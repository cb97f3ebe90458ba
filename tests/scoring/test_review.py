"""``evaluate`` and ``backtest`` of the score against outcomes, and their CLI commands."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from bot.catalog import DEMO_CATALOG, Catalog, load_catalog
from bot.cli import main
from bot.leads import LeadService
from bot.leads.commands import RecordEvent
from bot.leads.review import DecileRow, backtest, evaluate, judged_leads, score_deciles
from bot.leads.reviewreport import render_backtest, render_evaluation, write_chart
from bot.leads.synthetic import generate, set_statuses, write_history
from bot.scoring import Scorer, load_scoring_config
from bot.store.db import create_db_engine
from bot.store.migrate import upgrade
from bot.store.models import Lead
from tests.scoring import SCORING_CONFIG

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
BLUE_M = "hoodie-classic-blue-m"  # 59 EUR, in stock
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FULL_FUNNEL = (
    "product_view",
    "variant_select",
    "add_to_cart",
    "shipping_check",
    "checkout_start",
    "payment_info",
)
CART_AND_SHIPPING = ("product_view", "variant_select", "add_to_cart", "shipping_check")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(DEMO_CATALOG)


@pytest.fixture(scope="module")
def scorer(catalog: Catalog) -> Scorer:
    return Scorer(load_scoring_config(SCORING_CONFIG), catalog)


def proposed_config(tmp_path: Path, min_intent: int) -> Path:
    text = SCORING_CONFIG.read_text(encoding="utf-8")
    old = "hot: {min_intent: 45, min_fit: 10}"
    assert old in text
    path = tmp_path / "proposed.yml"
    path.write_text(text.replace(old, f"hot: {{min_intent: {min_intent}, min_fit: 10}}"))
    return path


def journey(session: str, start: datetime, steps: tuple[str, ...]) -> list[RecordEvent]:
    """Storefront events of ``steps`` for the blue M hoodie, a minute apart, from FR."""
    events = []
    for index, kind in enumerate(steps):
        events.append(
            RecordEvent(
                session_id=session,
                event_id=f"{session}-{index}",
                type=kind,
                ts=start + timedelta(minutes=index),
                source="storefront",
                product_id=None if kind == "page_view" else "hoodie-classic",
                variant_id=BLUE_M if kind not in ("product_view", "page_view") else None,
                properties={"country": "FR"} if kind == "shipping_check" else {},
            )
        )
    return events


class Known:
    """A tiny store whose right answers are known.

    - b1, b2 bought after the full funnel: hot just before buying (b2 three weeks
      ago, so it is cold by now and must still count as hot);
    - h1 went through checkout two hours ago and did not buy: hot, a false positive;
    - c1 is Won (sales closed it) after one page view: cold, a false negative;
    - w1 added to cart and checked shipping an hour ago: warm (intent 35, fit 20);
    - n1, n2 only browsed.

    So 3 hot leads of which 2 converted and 3 converted leads of which 2 were hot:
    precision 2/3, recall 2/3.
    """

    def __init__(self, engine: Engine, scorer: Scorer) -> None:
        self.engine = engine
        self.repository = LeadService(engine, scorer)
        b2_start = NOW - timedelta(days=21)
        self.repository.apply(
            [
                *journey("b1", NOW - timedelta(hours=3), (*FULL_FUNNEL, "purchase")),
                *journey("b2", b2_start, (*FULL_FUNNEL, "purchase")),
                # An order-status visit after buying is not intent to buy.
                RecordEvent("b2", "b2-after", "page_view", NOW - timedelta(days=1), "storefront"),
                *journey("h1", NOW - timedelta(hours=2), FULL_FUNNEL),
                *journey("c1", NOW - timedelta(days=5), ("page_view",)),
                *journey("w1", NOW - timedelta(hours=1), CART_AND_SHIPPING),
                *journey("n1", NOW - timedelta(days=1), ("page_view", "product_view")),
                *journey("n2", NOW - timedelta(days=9), ("product_view",)),
            ],
            now=NOW,
        )
        set_statuses(engine, {"b1": "Won", "b2": "Won", "c1": "Won", "h1": "Negotiation"})

    def id(self, session: str) -> str:
        lead = self.repository.get_lead_by_session(session)
        assert lead is not None
        return str(lead["id"])

    def stored_stage(self, session: str) -> str:
        lead = self.repository.get_lead_by_session(session)
        assert lead is not None
        return str(lead["stage"])


@pytest.fixture
def known(migrated_sqlite_url: str, scorer: Scorer) -> Iterator[Known]:
    """The known store on SQLite (the exact-numbers test also runs on PostgreSQL)."""
    engine = create_db_engine(migrated_sqlite_url)
    yield Known(engine, scorer)
    engine.dispose()


def test_exact_precision_recall_and_mistakes(engine: Engine, scorer: Scorer) -> None:
    known = Known(engine, scorer)
    report = evaluate(known.engine, scorer, NOW)
    accuracy = report.accuracy
    assert (accuracy.leads, accuracy.converted, accuracy.hot, accuracy.true_positives) == (
        7,
        3,
        3,
        2,
    )
    assert accuracy.precision == pytest.approx(2 / 3)
    assert accuracy.recall == pytest.approx(2 / 3)
    assert [e.lead_id for e in report.false_positive_examples] == [known.id("h1")]
    assert [e.lead_id for e in report.false_negative_examples] == [known.id("c1")]
    false_positive = report.false_positive_examples[0]
    assert false_positive.stage == "hot"
    # Judged one minute after its last event, when it was at its most engaged.
    assert false_positive.reasons[0].startswith("+40 entered payment details")
    assert len(false_positive.reasons) == 3
    assert [(row.stage, row.leads, row.converted) for row in report.by_stage] == [
        ("cold", 3, 1),
        ("warm", 1, 0),
        ("hot", 3, 2),
    ]
    assert sum(row.leads for row in report.by_decile) == 7
    assert sum(row.converted for row in report.by_decile) == 3
    text = render_evaluation(report)
    assert "precision 66.7% (2 of 3 hot converted)" in text
    assert known.id("h1") in text and known.id("c1") in text


def test_buyers_are_judged_just_before_their_purchase(known: Known, scorer: Scorer) -> None:
    # Three weeks on, b2's stored score has faded, yet it was hot when it bought.
    assert known.stored_stage("b2") == "cold"
    judged = {lead.lead_id: lead for lead in judged_leads(known.engine, NOW)}
    b2 = judged[known.id("b2")]
    assert b2.converted and b2.at == NOW - timedelta(days=21) + timedelta(minutes=6)
    assert b2.facts.count("purchase") == 0 and b2.facts.count("page_view") == 0
    assert scorer.score(b2.facts, b2.at).stage == "hot"
    # A lead that did not buy is judged one minute after its last active minute
    # (h1's last step, payment details, was at 10:05), not at NOW when it has faded.
    h1 = judged[known.id("h1")]
    assert h1.at == NOW - timedelta(hours=2) + timedelta(minutes=6) and not h1.converted


def test_backtest_lists_leads_that_change_stage(
    known: Known, scorer: Scorer, catalog: Catalog, tmp_path: Path
) -> None:
    # w2 checked shipping, then bought without a tracked checkout: warm when it bought.
    start = NOW - timedelta(days=2)
    known.repository.apply(
        [
            *journey("w2", start, CART_AND_SHIPPING),
            RecordEvent("w2", "w2-buy", "purchase", start + timedelta(minutes=30), "storefront"),
        ],
        now=NOW,
    )
    proposed = Scorer(load_scoring_config(proposed_config(tmp_path, 30)), catalog)
    report = backtest(known.engine, scorer, proposed, NOW)
    assert {(c.lead_id, c.from_stage, c.to_stage) for c in report.changes} == {
        (known.id("w1"), "warm", "hot"),
        (known.id("w2"), "warm", "hot"),
    }
    assert [(m.from_stage, m.to_stage, m.leads, m.converted) for m in report.moves] == [
        ("warm", "hot", 2, 1)
    ]
    w1 = next(c for c in report.changes if c.lead_id == known.id("w1"))
    assert w1.score_before == w1.score_after == 55 and not w1.converted
    assert w1.reasons[0] == "+15 checked shipping, last 2026-11-23 11:03 UTC"
    assert report.score_changed == 0
    assert (report.current.precision, report.current.recall) == (2 / 3, 2 / 4)
    assert (report.proposed.precision, report.proposed.recall) == (3 / 5, 3 / 4)
    text = render_backtest(report)
    assert "warm \u2192 hot: 2 leads, 1 converted" in text
    assert "66.7%" in text and "60.0%" in text and "75.0%" in text
    data = json.loads(json.dumps(report.as_dict()))
    assert data["stage_changed"] == 2 and data["proposed"]["hot"] == 5
    assert {change["lead_id"] for change in data["changes"]} == {known.id("w1"), known.id("w2")}


def test_backtest_of_the_same_config_changes_nothing(known: Known, scorer: Scorer) -> None:
    report = backtest(known.engine, scorer, scorer, NOW)
    assert report.changes == () and report.moves == () and report.score_changed == 0
    assert report.current == report.proposed


def test_score_deciles_keep_ties_together() -> None:
    # 10 leads: four score 0, then one lead per score 1..6.
    histogram = {0: (4, 0), **{score: (1, 1 if score >= 5 else 0) for score in range(1, 7)}}
    rows = score_deciles(histogram)
    assert rows[0] == DecileRow(1, 4, 0, 0, 4, 0)
    assert [row.label for row in rows] == ["1-4", "5", "6", "7", "8", "9", "10"]
    assert rows[-1].rate == 1.0
    assert score_deciles({}) == ()


@pytest.fixture(scope="module")
def synthetic_url(tmp_path_factory: pytest.TempPathFactory, scorer: Scorer) -> Iterator[str]:
    """2,000 synthetic leads on a migrated SQLite file, shared by the tests below."""
    url = f"sqlite:///{tmp_path_factory.mktemp('synthetic') / 'leads.db'}"
    upgrade(url)
    engine = create_db_engine(url)
    leads = generate(2000, seed=3, now=NOW, catalog=scorer.catalog)
    write_history(LeadService(engine, scorer), leads, now=NOW)
    engine.dispose()
    yield url


def test_evaluate_synthetic_history(synthetic_url: str, scorer: Scorer, tmp_path: Path) -> None:
    engine = create_db_engine(synthetic_url)
    try:
        report = evaluate(engine, scorer, NOW, batch_size=300)
    finally:
        engine.dispose()
    accuracy = report.accuracy
    assert accuracy.leads == 2000
    assert accuracy.precision is not None and 0 < accuracy.precision <= 1
    assert accuracy.recall is not None and 0 < accuracy.recall <= 1
    # Noise: some hot leads never bought and some buyers never looked hot.
    assert accuracy.false_positives > 0 and accuracy.false_negatives > 0
    rates = {row.stage: row.rate for row in report.by_stage}
    assert rates["cold"] is not None and rates["warm"] is not None and rates["hot"] is not None
    assert rates["cold"] < rates["warm"] < rates["hot"]
    assert sum(row.leads for row in report.by_decile) == 2000
    top, bottom = report.by_decile[-1], report.by_decile[0]
    assert top.rate is not None and bottom.rate is not None and top.rate > bottom.rate
    chart = write_chart(report, tmp_path / "reports" / "chart.png")
    assert chart.read_bytes().startswith(PNG_MAGIC)


def test_cli_evaluate_and_backtest(
    synthetic_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", synthetic_url)
    monkeypatch.setenv("SCORING_CONFIG", str(SCORING_CONFIG))
    chart = tmp_path / "chart.png"
    assert main(["evaluate", "--chart", str(chart)]) == 0
    out = capsys.readouterr().out
    assert "Score evaluation: 2,000 leads" in out and "Conversion by stage" in out
    assert f"chart: {chart}" in out and chart.read_bytes().startswith(PNG_MAGIC)
    assert main(["evaluate", "--chart", str(chart), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["leads"] == 2000 and data["chart"] == str(chart)
    assert [row["stage"] for row in data["by_stage"]] == ["cold", "warm", "hot"]

    proposed = proposed_config(tmp_path, 30)
    assert main(["backtest", "--config", str(proposed), "--limit", "2"]) == 0
    out = capsys.readouterr().out
    assert f"Backtest: {proposed}" in out and "precision (hot)" in out
    assert "warm \u2192 hot" in out and "Leads changing stage (2 of" in out


def test_cli_backtest_rejects_an_invalid_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'unused.db'}")
    monkeypatch.setenv("SCORING_CONFIG", str(SCORING_CONFIG))
    text = SCORING_CONFIG.read_text(encoding="utf-8")
    bad = tmp_path / "bad.yml"
    bad.write_text(text.replace("warm: {min_intent: 15, min_fit: 0}", "warm: {min_intent: x}"))
    line = next(
        number
        for number, content in enumerate(bad.read_text().splitlines(), 1)
        if "min_intent: x" in content
    )
    assert main(["backtest", "--config", str(bad)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"{bad}:{line}:" in captured.err and "stages.warm" in captured.err


def test_cli_synthetic_writes_a_migrated_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    assert main(["synthetic", "--leads", "120", "--seed", "9", "--quiet"]) == 0
    assert "wrote 120 synthetic lead(s) (seed 9)" in capsys.readouterr().out
    engine = create_db_engine(url)
    try:
        with engine.connect() as connection:
            stored = connection.execute(select(func.count()).select_from(Lead)).scalar_one()
    finally:
        engine.dispose()
    assert stored == 120
