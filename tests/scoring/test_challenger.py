"""The challenger score: training from the store, the time split, the switch, and its limits.

Two synthetic stores with known ground truths (``bot/leads/synthetic.py``): under the
planted truth some facts matter in ways the rules get wrong, so the challenger must
rank the leads after the cutoff better than the rules; under the rules-as-truth
control it must not beat them by more than noise.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot import clock
from bot.catalog import DEMO_CATALOG, Catalog, load_catalog
from bot.cli import main
from bot.leads import LeadService
from bot.leads.challenger import (
    Comparison,
    auc,
    calibration,
    compare,
    train,
    train_in_parallel,
    training_examples,
)
from bot.leads.commands import RecordAnswer, RecordEvent
from bot.leads.synthetic import generate, set_statuses, write_history
from bot.scoring import LeadFacts, Scorer, ScoringConfigError, load_scoring_config
from bot.scoring.challenger import (
    MIN_LABELLED,
    MIN_PER_CLASS,
    ChallengerModel,
    ChallengerModelError,
    NotEnoughOutcomes,
    Trainer,
    features,
    latest_model,
    save_model,
)
from bot.scoring.config import ChallengerSettings
from bot.settings import Settings
from bot.store.db import create_db_engine
from bot.store.models import Lead
from tests.scoring import SCORING_CONFIG

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
CUTOFF = NOW - timedelta(days=10)
LEADS = 5000
BLUE_M = "hoodie-classic-blue-m"  # 59 EUR, in stock
TEXT = SCORING_CONFIG.read_text(encoding="utf-8")
FIT = ("budget:", "location:", "variant:", "timeline:", "flow.")


def config_file(tmp_path: Path, extra: str = "", name: str = "scoring.yml") -> Path:
    """The tests' scoring file with ``extra`` appended (models kept under ``tmp_path``)."""
    path = tmp_path / name
    path.write_text(TEXT + extra, encoding="utf-8")
    return path


def challenger_section(models: Path, source: str = "rules") -> str:
    return f"\nscore_source: {source}\nchallenger:\n  model_dir: {models}\n"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(DEMO_CATALOG)


@pytest.fixture(scope="module")
def scorer(catalog: Catalog) -> Scorer:
    return Scorer(load_scoring_config(SCORING_CONFIG), catalog)


def _store(
    factory: pytest.TempPathFactory, template: Path, scorer: Scorer, outcomes: str, seed: int
) -> Iterator[Engine]:
    path = factory.mktemp(f"challenger-{outcomes}") / "leads.db"
    shutil.copyfile(template, path)
    engine = create_db_engine(f"sqlite:///{path}")
    leads = generate(
        LEADS, seed=seed, now=NOW, catalog=scorer.catalog, outcomes=outcomes, scorer=scorer
    )
    write_history(LeadService(engine, scorer), leads, batch_size=1000, now=NOW)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def planted(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path, scorer: Scorer
) -> Iterator[Engine]:
    """A store whose outcomes follow the planted truth."""
    yield from _store(tmp_path_factory, sqlite_template, scorer, "planted", seed=21)


@pytest.fixture(scope="module")
def control(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path, scorer: Scorer
) -> Iterator[Engine]:
    """A store whose outcomes follow the rule score itself."""
    yield from _store(tmp_path_factory, sqlite_template, scorer, "rules", seed=22)


@pytest.fixture(scope="module")
def planted_split(planted: Engine, scorer: Scorer) -> Comparison:
    return compare(planted, scorer, cutoff=CUTOFF, now=NOW, batch_size=700)


# --- the time split on known truths -------------------------------------------------------


def test_planted_truth_challenger_beats_the_rules_after_the_cutoff(
    planted_split: Comparison,
) -> None:
    report = planted_split
    assert report.rules_auc is not None and report.challenger_auc is not None
    # The planted truth rewards comparing, returns questions and coming back, and gives
    # a started checkout nothing: the rules rank the later leads clearly worse.
    assert report.challenger_auc > report.rules_auc + 0.04, (
        report.rules_auc,
        report.challenger_auc,
    )
    assert report.rules.leads == report.challenger.leads > 1000
    assert report.rules.converted == report.challenger.converted > 50
    weights = dict(report.model.weights)
    assert weights["compare:recent"] > 0.5
    assert weights["asked_discount:recent"] < 0
    assert weights["location:not_serviceable"] < -1
    # Trained only on leads judged before the cutoff.
    assert report.model.cutoff == CUTOFF and report.model.leads >= MIN_LABELLED


def test_the_rules_as_truth_are_not_beaten_beyond_noise(control: Engine, scorer: Scorer) -> None:
    report = compare(control, scorer, cutoff=CUTOFF, now=NOW)
    assert report.rules_auc is not None and report.challenger_auc is not None
    assert report.rules_auc > 0.85
    assert report.challenger_auc <= report.rules_auc + 0.01, (
        report.rules_auc,
        report.challenger_auc,
    )


def test_calibration_by_decile_covers_every_test_lead(planted_split: Comparison) -> None:
    rows = planted_split.calibration
    assert sum(row.leads for row in rows) == planted_split.challenger.leads
    assert sum(row.converted for row in rows) == planted_split.challenger.converted
    assert rows[0].first_decile == 1 and rows[-1].last_decile == 10
    predicted = [row.predicted for row in rows]
    assert predicted == sorted(predicted)
    # The top decile converts far more than the bottom one, near what was predicted.
    top, bottom = rows[-1], rows[0]
    assert top.rate is not None and bottom.rate is not None
    assert top.rate > 5 * bottom.rate
    assert sum(row.leads for row in planted_split.rules_deciles) == planted_split.rules.leads


@pytest.mark.parametrize(
    ("histogram", "expected"),
    [
        # Every converted lead above every other: 1.
        ({1: (3, 0), 5: (2, 2)}, 1.0),
        # All in one tie: a coin toss.
        ({4: (10, 5)}, 0.5),
        # Converted below the rest: 0.
        ({1: (2, 2), 5: (3, 0)}, 0.0),
        # One converted lead above one of two others, tied with the other.
        ({0: (1, 0), 2: (2, 1)}, 0.75),
        # No converted leads: undefined.
        ({0: (4, 0)}, None),
    ],
)
def test_auc_from_a_histogram(histogram: dict[int, tuple[int, int]], expected: float) -> None:
    assert auc(histogram) == expected


def test_calibration_keeps_ties_together() -> None:
    rows = calibration({1: [5, 0, 0.05], 2: [10, 3, 2.0], 9: [5, 4, 4.5]})
    assert [(r.label, r.leads, r.converted) for r in rows] == [
        ("1-3", 5, 0),
        ("3-8", 10, 3),
        ("8-10", 5, 4),
    ]
    assert rows[1].predicted == pytest.approx(0.2)


# --- refusing to learn from too little ----------------------------------------------------


def test_trainer_refuses_below_the_minimum_naming_the_counts() -> None:
    trainer = Trainer()
    for index in range(250):
        trainer.add(("add_to_cart:recent",), index < 10)
    with pytest.raises(NotEnoughOutcomes) as caught:
        trainer.fit(ChallengerSettings(), trained_at=NOW, cutoff=NOW)
    message = str(caught.value)
    assert "250 labelled leads (10 converted, 240 not converted)" in message
    assert f"at least {MIN_LABELLED} labelled leads" in message
    assert f"at least {MIN_PER_CLASS} converted and {MIN_PER_CLASS} not converted" in message


def test_training_refuses_a_small_store_and_the_cli_says_why(
    engine: Engine,
    scorer: Scorer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_history(
        LeadService(engine, scorer),
        generate(150, seed=4, now=NOW, catalog=scorer.catalog),
        now=NOW,
    )
    examples = list(training_examples(engine, NOW, settle_days=7))
    converted = sum(example.converted for example in examples)
    with pytest.raises(NotEnoughOutcomes, match=f"{len(examples)} labelled leads "):
        train(engine, scorer, cutoff=NOW, trained_at=NOW)
    monkeypatch.setenv("DATABASE_URL", str(engine.url))
    monkeypatch.setenv("SCORING_CONFIG", str(config_file(tmp_path, challenger_section(tmp_path))))
    with clock.frozen(NOW):
        assert main(["scoring", "challenger", "train", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert f"{len(examples)} labelled leads ({converted} converted" in err
    assert not list(tmp_path.glob("challenger-*.json"))


# --- what it learns from: no leakage ------------------------------------------------------


ExampleKey = tuple[str, datetime, bool, tuple[str, ...]]


def _example_keys(engine: Engine, scorer: Scorer, cutoff: datetime) -> list[ExampleKey]:
    return [
        (
            example.lead_id,
            example.at,
            example.converted,
            features(example.facts, example.at, scorer.config, scorer.catalog),
        )
        for example in training_examples(engine, cutoff, settle_days=7, batch_size=40)
    ]


def test_facts_after_the_cutoff_do_not_change_the_training_set(
    engine: Engine, scorer: Scorer
) -> None:
    service = LeadService(engine, scorer)
    write_history(service, generate(300, seed=8, now=NOW, catalog=scorer.catalog), now=NOW)
    cutoff = NOW - timedelta(days=12)
    before = _example_keys(engine, scorer, cutoff)
    assert any(key[2] for key in before) and any(not key[2] for key in before)
    # Every lead in the training set does something after the cutoff: views, a cart add,
    # a chat answer, and some buy.
    sessions = _sessions(engine)
    later: list[RecordEvent | RecordAnswer] = []
    for index, (lead_id, *_rest) in enumerate(before):
        session = sessions[lead_id]
        at = cutoff + timedelta(hours=1 + index % 50)
        later.append(
            RecordEvent(
                session,
                f"{session}-late-v",
                "product_view",
                at,
                "storefront",
                product_id="hoodie-classic",
            )
        )
        later.append(
            RecordEvent(
                session,
                f"{session}-late-c",
                "add_to_cart",
                at,
                "storefront",
                product_id="hoodie-classic",
                variant_id=BLUE_M,
            )
        )
        later.append(
            RecordAnswer(
                session, f"{session}-late-t", "timeline", "this week", {"days": 3}, "answered", at
            )
        )
        if index % 3 == 0:
            later.append(
                RecordEvent(
                    session,
                    f"{session}-late-p",
                    "purchase",
                    at + timedelta(minutes=5),
                    "storefront",
                    product_id="hoodie-classic",
                    variant_id=BLUE_M,
                )
            )
    service.apply(later, now=NOW)
    assert _example_keys(engine, scorer, cutoff) == before
    # The same leads judged at a later cutoff do see them.
    assert _example_keys(engine, scorer, NOW) != _example_keys(engine, scorer, cutoff)


def _sessions(engine: Engine) -> dict[str, str]:
    """Every lead's session id, by lead id."""
    with engine.connect() as connection:
        rows = connection.execute(select(Lead.id, Lead.session_id).order_by(Lead.id)).all()
    return {str(row.id): str(row.session_id) for row in rows}


def test_lost_leads_count_as_no_even_when_recent(engine: Engine, scorer: Scorer) -> None:
    service = LeadService(engine, scorer)
    recent = NOW - timedelta(hours=3)
    service.apply(
        [
            RecordEvent(
                s,
                f"{s}-1",
                "add_to_cart",
                recent,
                "storefront",
                product_id="hoodie-classic",
                variant_id=BLUE_M,
            )
            for s in ("lost", "open")
        ],
        now=NOW,
    )
    set_statuses(engine, {"lost": "Lost"})
    examples = list(training_examples(engine, NOW, settle_days=7))
    # The open lead may still buy: left out; the Lost one is a "no".
    assert [(e.converted, e.at) for e in examples] == [(False, recent + timedelta(minutes=1))]


# --- determinism ---------------------------------------------------------------------------


def test_the_same_store_gives_the_same_model_in_any_order(planted: Engine, scorer: Scorer) -> None:
    first = train(planted, scorer, cutoff=CUTOFF, trained_at=NOW, batch_size=500).model
    again = train(planted, scorer, cutoff=CUTOFF, trained_at=NOW, batch_size=1700).model
    assert first.as_dict() == again.as_dict()
    examples = [
        (features(e.facts, e.at, scorer.config, scorer.catalog), e.converted)
        for e in training_examples(planted, CUTOFF, settle_days=7)
    ]
    forward, backward = Trainer(), Trainer()
    for names, converted in examples:
        forward.add(names, converted)
    for names, converted in reversed(examples):
        backward.add(names, converted)
    settings = ChallengerSettings()
    assert (
        forward.fit(settings, trained_at=NOW, cutoff=CUTOFF).as_dict()
        == backward.fit(settings, trained_at=NOW, cutoff=CUTOFF).as_dict()
        == first.as_dict()
    )


def test_processes_sharing_the_leads_learn_the_same_model(planted: Engine, scorer: Scorer) -> None:
    settings = Settings(database_url=str(planted.url), scoring_config_path=SCORING_CONFIG)
    alone = train(planted, scorer, cutoff=CUTOFF, trained_at=NOW).model
    counted: list[int] = []
    shared = train_in_parallel(
        settings, scorer, workers=2, cutoff=CUTOFF, trained_at=NOW, progress=counted.append
    )
    assert shared.model.as_dict() == alone.as_dict()
    assert sum(counted) == alone.leads


# --- reasons -------------------------------------------------------------------------------


def _keen_facts() -> LeadFacts:
    facts = LeadFacts()
    start = NOW - timedelta(hours=2)
    for minute, kind in enumerate(("product_view", "compare", "variant_select", "add_to_cart")):
        facts.fold_event(
            kind,
            start + timedelta(minutes=minute),
            product_id="hoodie-classic",
            variant_id=BLUE_M if kind != "product_view" else None,
        )
    facts.fold_event(
        "shopper_question", start + timedelta(minutes=5), properties={"topic": "returns"}
    )
    facts.fold_answer(
        "budget", {"amount": "20", "currency": "EUR"}, "answered", start + timedelta(minutes=6)
    )
    return facts


def test_reasons_are_readable_ranked_and_sum_to_the_score(
    planted_split: Comparison, scorer: Scorer
) -> None:
    model = planted_split.model
    result = model.score(_keen_facts(), NOW, scorer.config, scorer.catalog)
    *factors, summary = result.reasons
    assert len(factors) >= 4
    assert sum(reason.points for reason in result.reasons) == result.score
    assert result.score == result.intent_score + result.fit_score
    points = [abs(reason.points) for reason in factors]
    assert points == sorted(points, reverse=True)
    details = {reason.rule: reason.detail for reason in factors}
    assert details["challenger.compare:recent"] == "compared products in the last 3 days"
    assert details["challenger.asked_returns:recent"] == (
        "asked about returns in chat in the last 3 days"
    )
    assert details["challenger.budget:far_below"] == "budget is far below the item's price"
    # A budget far below the price is a fit problem that costs points.
    fit = {r.rule: r.points for r in factors if r.rule.split(".")[1].startswith(FIT)}
    assert set(fit) == {"challenger.budget:far_below", "challenger.variant:in_stock"}
    assert fit["challenger.budget:far_below"] < 0
    assert result.fit_score == sum(fit.values())
    assert summary.points == 0 and summary.rule == "challenger"
    chance = model.probability(features(_keen_facts(), NOW, scorer.config, scorer.catalog))
    assert summary.detail.startswith(f"{chance:.0%} chance to buy (challenger unsaved")
    assert result.stage == scorer.config.challenger.stage(chance)
    # Its signals fade from recent to earlier to forgotten: a rescore must revisit it ...
    assert result.changes_with_time
    later = model.score(_keen_facts(), NOW + timedelta(days=40), scorer.config, scorer.catalog)
    # ... until only the fit is left, which time does not change.
    assert {r.rule for r in later.reasons[:-1]} <= set(fit)
    assert not later.changes_with_time and later.intent_score == 0


# --- the switch ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "field", "message"),
    [
        # Only two sources.
        ("\nscore_source: model\n", "score_source", "permitted: 'rules', 'challenger'"),
        # Probabilities are between 0 and 1.
        (
            "\nchallenger:\n  hot_min_probability: 1.5\n",
            "challenger.hot_min_probability",
            "less than 1",
        ),
        # Warm must not need more than hot.
        (
            "\nchallenger:\n  hot_min_probability: 0.2\n  warm_min_probability: 0.4\n",
            "challenger.warm_min_probability",
            "must not be above hot_min_probability (0.2)",
        ),
        # Settling takes no negative time.
        ("\nchallenger:\n  settle_days: -1\n", "challenger.settle_days", "greater than or equal"),
        # The penalty must be positive.
        ("\nchallenger:\n  l2: 0\n", "challenger.l2", "greater than 0"),
        # Unknown keys are typos.
        (
            "\nchallenger:\n  hot_probability: 0.3\n",
            "challenger.hot_probability",
            "extra fields not permitted",
        ),
    ],
)
def test_challenger_settings_are_validated_with_lines(
    tmp_path: Path, extra: str, field: str, message: str
) -> None:
    path = config_file(tmp_path, extra)
    key = field.rsplit(".", 1)[-1]
    lines = path.read_text(encoding="utf-8").splitlines()
    line = max(number for number, text in enumerate(lines, 1) if text.strip().startswith(key))
    with pytest.raises(ScoringConfigError) as caught:
        load_scoring_config(path)
    assert f"{path}:{line}: {field}: " in str(caught.value)
    assert message in str(caught.value)


def test_defaults_score_by_the_rules(tmp_path: Path) -> None:
    config = load_scoring_config(SCORING_CONFIG)
    assert config.score_source == "rules"
    assert config.challenger == replace(ChallengerSettings(), model_dir=config.challenger.model_dir)
    relative = load_scoring_config(config_file(tmp_path, "\nchallenger:\n  model_dir: var/x\n"))
    assert relative.challenger.model_dir.is_absolute()
    assert relative.challenger.model_dir.parts[-2:] == ("var", "x")


def test_the_switch_is_honoured_only_when_set(
    planted_split: Comparison, catalog: Catalog, tmp_path: Path
) -> None:
    saved = save_model(planted_split.model, tmp_path / "models")
    facts = _keen_facts()
    rules_config = load_scoring_config(
        config_file(tmp_path, challenger_section(tmp_path / "models"))
    )
    by_rules = Scorer(rules_config, catalog).score(facts, NOW)
    assert not any(r.rule.startswith("challenger") for r in by_rules.reasons)
    # A model given, but the marketer has not switched: still the rules.
    assert Scorer(rules_config, catalog, challenger=saved).score(facts, NOW) == by_rules
    switched = load_scoring_config(
        config_file(tmp_path, challenger_section(tmp_path / "models", "challenger"), "on.yml")
    )
    scorer = Scorer(switched, catalog)
    assert scorer.challenger == saved
    result = scorer.score(facts, NOW)
    assert result == saved.score(facts, NOW, switched, catalog)
    assert result.reasons[-1].detail.endswith(
        f"(challenger v{saved.version}, trained "
        f"{NOW:%Y-%m-%d %H:%M} UTC on "
        f"{saved.leads:,} leads, {saved.converted:,} "
        "converted)"
    )
    assert scorer.rules(facts, NOW) == by_rules


def test_switched_without_a_model_the_rules_score_visibly(
    catalog: Catalog, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    empty = tmp_path / "none"
    config = load_scoring_config(config_file(tmp_path, challenger_section(empty, "challenger")))
    with caplog.at_level(logging.WARNING, logger="bot.scoring.scorer"):
        scorer = Scorer(config, catalog)
    assert f"no trained challenger model in {empty}" in caplog.text
    facts = _keen_facts()
    result = scorer.score(facts, NOW)
    rules = scorer.rules(facts, NOW)
    assert result.reasons[:-1] == rules.reasons and result.score == rules.score
    assert result.stage == rules.stage
    fallback = result.reasons[-1]
    assert fallback.points == 0 and fallback.rule == "score_source"
    assert fallback.detail.startswith(
        f"scored by the rules: no trained challenger model in {empty}"
    )


def test_model_files_are_versioned_and_damage_is_named(
    planted_split: Comparison, catalog: Catalog, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    assert latest_model(models) is None
    first = save_model(planted_split.model, models)
    second = save_model(planted_split.model, models)
    assert (first.version, second.version) == (1, 2)
    assert second.source == models / "challenger-0002.json"
    loaded = latest_model(models)
    assert loaded == second and loaded is not None and loaded.source == second.source
    data = json.loads(second.source.read_text(encoding="utf-8"))
    assert data["format"] == 1 and data["weights"] == dict(sorted(second.weights.items()))
    (models / "challenger-0003.json").write_text('{"format": 1, "weights": {}}')
    with pytest.raises(ChallengerModelError, match=r"challenger-0003\.json: damaged model"):
        latest_model(models)
    config = load_scoring_config(config_file(tmp_path, challenger_section(models, "challenger")))
    scorer = Scorer(config, catalog)
    assert scorer.challenger is None and scorer.fallback is not None
    assert "challenger-0003.json: damaged model" in scorer.fallback.detail


def test_an_unsaved_model_round_trips_through_json(planted_split: Comparison) -> None:
    model = planted_split.model
    assert ChallengerModel.from_dict(model.as_dict()) == model
    with pytest.raises(ChallengerModelError, match="not a challenger model of format 1"):
        ChallengerModel.from_dict({"format": 99})


# --- the commands ----------------------------------------------------------------------------


def test_cli_train_show_score_evaluate_and_backtest(
    planted: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    models = tmp_path / "models"
    monkeypatch.setenv("DATABASE_URL", str(planted.url))
    monkeypatch.setenv("SCORING_CONFIG", str(config_file(tmp_path, challenger_section(models))))
    with clock.frozen(NOW):
        assert main(["scoring", "challenger", "show"]) == 1
        assert "no trained model in" in capsys.readouterr().err
        assert main(["scoring", "challenger", "train", "--quiet"]) == 0
        out = capsys.readouterr().out
        assert "trained challenger v1 on " in out and str(models / "challenger-0001.json") in out
        assert "the rules still score leads" in out
        assert main(["scoring", "challenger", "show"]) == 0
        out = capsys.readouterr().out
        assert "challenger v1" in out and "not in use" in out
        assert "delivery place outside the item's shipping zones" in out
        lead_id = next(iter(_sessions(planted)))
        assert main(["scoring", "challenger", "score", "--lead", lead_id, "--json"]) == 0
        data = json.loads(capsys.readouterr().out)
        assert data["model_version"] == 1 and data["challenger"]["stage"] in ("cold", "warm", "hot")
        assert data["rules"]["reasons"] is not None
        assert main(["scoring", "challenger", "score", "--lead", "nobody"]) == 1
        assert "no lead with id 'nobody'" in capsys.readouterr().err
        chart = tmp_path / "chart.png"
        cutoff = CUTOFF.isoformat()
        assert main(["evaluate", "--chart", str(chart), "--challenger", "--cutoff", cutoff]) == 0
        out = capsys.readouterr().out
        assert "Score evaluation:" in out and "Challenger beside the rules" in out
        assert "AUC" in out and "Challenger calibration by decile" in out
        assert main(["backtest", "--challenger", "--cutoff", cutoff, "--json"]) == 0
        data = json.loads(capsys.readouterr().out)
        assert data["challenger"]["auc"] > data["rules"]["auc"]
        assert data["cutoff"] == cutoff and len(data["challenger_calibration"]) >= 5
        assert main(["backtest"]) == 2
        assert "either --config proposed.yml or --challenger" in capsys.readouterr().err
        # A cutoff with too little history before it is refused with the counts.
        early = (NOW - timedelta(days=29)).isoformat()
        assert main(["backtest", "--challenger", "--cutoff", early]) == 1
        assert "not enough outcomes to train the challenger" in capsys.readouterr().err
