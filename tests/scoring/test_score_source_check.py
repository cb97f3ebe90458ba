"""``python -m bot scoring check`` says which score ranks leads, and whether it can."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from bot.cli import main
from bot.scoring.challenger import ChallengerModel, save_model
from tests.scoring import SCORING_CONFIG

TRAINED_AT = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)


def config_with(tmp_path: Path, source: str, models: Path) -> Path:
    path = tmp_path / "scoring.yml"
    path.write_text(
        SCORING_CONFIG.read_text(encoding="utf-8")
        + f"\nscore_source: {source}\nchallenger:\n  model_dir: {models}\n",
        encoding="utf-8",
    )
    return path


def model() -> ChallengerModel:
    return ChallengerModel(
        intercept=-2.0,
        weights={"add_to_cart:recent": 1.5},
        trained_at=TRAINED_AT,
        cutoff=TRAINED_AT,
        leads=1200,
        converted=90,
        l2=1.0,
        settle_days=7.0,
    )


def test_rules_in_use(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A trained model does not matter while the rules are chosen.
    save_model(model(), tmp_path / "models")
    assert main(["scoring", "check", str(config_with(tmp_path, "rules", tmp_path / "models"))]) == 0
    captured = capsys.readouterr()
    assert "score_source: rules" in captured.out
    assert "challenger" not in captured.out
    assert captured.err == ""


def test_challenger_in_use_names_its_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    models = tmp_path / "models"
    save_model(model(), models)
    saved = save_model(model(), models)
    assert main(["scoring", "check", str(config_with(tmp_path, "challenger", models))]) == 0
    out = capsys.readouterr().out
    # The newest of the two versions scores.
    assert "score_source: challenger (challenger v2, trained 2026-11-23 12:00 UTC" in out
    assert "1,200 leads, 90 converted" in out
    assert str(saved.source) in out


def test_challenger_chosen_without_a_model_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    models = tmp_path / "never-trained"
    assert main(["scoring", "check", str(config_with(tmp_path, "challenger", models))]) == 1
    err = capsys.readouterr().err
    assert err.startswith(
        f"scoring configuration error: score_source is challenger but no challenger model "
        f"is trained in {models}"
    )
    assert "python -m bot scoring challenger train" in err


def test_challenger_chosen_with_an_unreadable_model_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / "challenger-0001.json").write_text("{not json", encoding="utf-8")
    assert main(["scoring", "check", str(config_with(tmp_path, "challenger", models))]) == 1
    err = capsys.readouterr().err
    assert "score_source is challenger but its newest model cannot be used" in err
    assert "challenger-0001.json" in err
