"""Scoring configuration: the shipped file passes the check, the tests' copy loads with its
numbers, and every problem names file, line and field.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from bot.scoring import (
    DEFAULT_CONFIG_PATH,
    ScoringConfig,
    ScoringConfigError,
    load_scoring_config,
)
from bot.scoring.config import SCORABLE_SIGNALS
from bot.settings import PROJECT_ROOT
from tests.scoring import SCORING_CONFIG

DEFAULT_TEXT = SCORING_CONFIG.read_text(encoding="utf-8")


def edited(tmp_path: Path, old: str, new: str) -> Path:
    """The tests' scoring.yml with the one occurrence of ``old`` replaced by ``new``."""
    assert DEFAULT_TEXT.count(old) == 1, f"{old!r} must occur exactly once in scoring.yml"
    path = tmp_path / "scoring.yml"
    path.write_text(DEFAULT_TEXT.replace(old, new), encoding="utf-8")
    return path


def line_with(path: Path, needle: str) -> int:
    """1-based number of the only line of ``path`` containing ``needle``."""
    found = [
        number
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if needle in line
    ]
    assert len(found) == 1, f"{needle!r} is on lines {found}"
    return found[0]


def load_error(path: Path) -> str:
    with pytest.raises(ScoringConfigError) as caught:
        load_scoring_config(path)
    return str(caught.value)


# --- the shipped default and the tests' copy ------------------------------------------------


def test_shipped_config_passes_the_check() -> None:
    # What `make run` and `make test` run: the shipped file, whatever its numbers, is valid.
    environ = {k: v for k, v in os.environ.items() if k != "SCORING_CONFIG"}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "scoring", "check"],
        cwd=PROJECT_ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{DEFAULT_CONFIG_PATH}: "), done.stdout


def test_default_config_loads() -> None:
    config = load_scoring_config(SCORING_CONFIG)
    assert isinstance(config, ScoringConfig)
    assert config.source == SCORING_CONFIG
    assert set(config.signals) == set(SCORABLE_SIGNALS)
    assert config.signals["add_to_cart"].points == 12
    assert config.signals["add_to_cart"].half_life_days == 5
    assert config.signals["add_to_cart"].cap == 24
    assert config.return_visits.gap_minutes == 30
    assert config.return_visits.window_days == 14
    assert [(band.within_days, band.points) for band in config.timeline_bands] == [
        (7, 20),
        (30, 12),
        (90, 4),
    ]
    assert (config.hot_min_intent, config.hot_min_fit) == (45, 10)
    assert (config.warm_min_intent, config.warm_min_fit) == (15, 0)
    assert config.report_label("hot") == "SQL"
    assert config.report_label("warm") == "MQL"
    assert config.report_label("cold") is None


def test_default_config_copy_loads(tmp_path: Path) -> None:
    # The helper's unedited copy is valid: every error below comes from the one edited line.
    path = edited(tmp_path, "reporting:", "reporting:")
    assert load_scoring_config(path).signals == load_scoring_config(SCORING_CONFIG).signals


# --- one test per kind of problem ----------------------------------------------------------


def test_unknown_signal_names_its_line_and_the_known_signals(tmp_path: Path) -> None:
    path = edited(
        tmp_path,
        "    compare: {points: 5, half_life_days: 5, cap: 10}\n",
        "    compare: {points: 5, half_life_days: 5, cap: 10}\n"
        "    wishlist_add: {points: 2, half_life_days: 5, cap: 4}\n",
    )
    message = load_error(path)
    # The line is the one of the unknown signal, so the shop owner sees what to fix.
    where = f"{path}:{line_with(path, 'wishlist_add')}: intent.signals.wishlist_add: "
    assert message.startswith(where)
    assert "unknown signal 'wishlist_add'" in message
    for name in SCORABLE_SIGNALS:
        assert name in message


def test_negative_points(tmp_path: Path) -> None:
    path = edited(tmp_path, "page_view: {points: 1,", "page_view: {points: -1,")
    assert load_error(path) == (
        f"{path}:{line_with(path, 'page_view: {')}: intent.signals.page_view.points: "
        "ensure this value is greater than or equal to 0"
    )


def test_fractional_points(tmp_path: Path) -> None:
    path = edited(tmp_path, "add_to_cart: {points: 12,", "add_to_cart: {points: 12.5,")
    assert load_error(path) == (
        f"{path}:{line_with(path, 'add_to_cart: {')}: intent.signals.add_to_cart.points: "
        "value is not a valid integer"
    )


def test_cap_below_points(tmp_path: Path) -> None:
    path = edited(
        tmp_path,
        "email_click: {points: 4, half_life_days: 10, cap: 8}",
        "email_click: {points: 4, half_life_days: 10, cap: 3}",
    )
    assert load_error(path) == (
        f"{path}:{line_with(path, 'email_click: {')}: intent.signals.email_click.cap: "
        "cap (3) must be at least points (4)"
    )


def test_zero_half_life(tmp_path: Path) -> None:
    path = edited(
        tmp_path,
        "asked_price: {points: 6, half_life_days: 7, cap: 6}",
        "asked_price: {points: 6, half_life_days: 0, cap: 6}",
    )
    message = load_error(path)
    assert message.startswith(
        f"{path}:{line_with(path, 'asked_price: {')}: intent.signals.asked_price.half_life_days: "
    )
    assert "greater than 0" in message


def test_journey_must_climb(tmp_path: Path) -> None:
    # A cart add worth less than picking a variant (5) breaks the buying journey.
    path = edited(tmp_path, "add_to_cart: {points: 12,", "add_to_cart: {points: 4,")
    assert load_error(path) == (
        f"{path}:{line_with(path, 'add_to_cart: {')}: intent.signals.add_to_cart.points: "
        "add_to_cart (4) must be worth more than variant_select (5): the buying journey must climb"
    )


def test_journey_equal_points_are_not_a_climb(tmp_path: Path) -> None:
    path = edited(tmp_path, "checkout_start: {points: 30,", "checkout_start: {points: 15,")
    message = load_error(path)
    assert message.startswith(
        f"{path}:{line_with(path, 'checkout_start: {')}: intent.signals.checkout_start.points: "
    )
    assert "checkout_start (15) must be worth more than shipping_check (15)" in message


def test_browsing_caps_must_stay_below_hot(tmp_path: Path) -> None:
    # page_view 3 + product_view 9 + return_visits 33 = 45 = hot.min_intent.
    path = edited(
        tmp_path,
        "return_visits: {gap_minutes: 30, window_days: 14, points: 3, cap: 9}",
        "return_visits: {gap_minutes: 30, window_days: 14, points: 3, cap: 33}",
    )
    message = load_error(path)
    assert message.startswith(
        f"{path}:{line_with(path, 'return_visits: {')}: intent.return_visits.cap: "
    )
    assert "add up to 45" in message
    assert "stages.hot.min_intent (45)" in message


def test_browsing_caps_one_below_hot_are_fine(tmp_path: Path) -> None:
    # 3 + 9 + 32 = 44 < 45: allowed.
    path = edited(
        tmp_path,
        "return_visits: {gap_minutes: 30, window_days: 14, points: 3, cap: 9}",
        "return_visits: {gap_minutes: 30, window_days: 14, points: 3, cap: 32}",
    )
    assert load_scoring_config(path).return_visits.cap == 32


def test_a_near_date_must_be_worth_at_least_a_later_one(tmp_path: Path) -> None:
    path = edited(
        tmp_path,
        "answered_within_month: {points: 6, half_life_days: 7, cap: 6}",
        "answered_within_month: {points: 13, half_life_days: 7, cap: 13}",
    )
    assert load_error(path) == (
        f"{path}:{line_with(path, 'answered_within_week: {')}: "
        "intent.signals.answered_within_week.points: answered_within_week (12) must be worth "
        "at least answered_within_month (13): a nearer purchase is the stronger sign"
    )


def test_far_ratio_must_be_below_near_ratio(tmp_path: Path) -> None:
    path = edited(tmp_path, "    far_ratio: 0.5", "    far_ratio: 0.8")
    assert load_error(path) == (
        f"{path}:{line_with(path, 'far_ratio: 0.8')}: fit.budget.far_ratio: "
        "far_ratio (0.8) must be below near_ratio (0.8)"
    )


def test_timeline_bands_must_increase(tmp_path: Path) -> None:
    path = edited(tmp_path, "- {within_days: 30, points: 12}", "- {within_days: 5, points: 12}")
    # The line of the bands list (its first band).
    assert load_error(path) == (
        f"{path}:{line_with(path, 'within_days: 7,')}: fit.timeline.bands: "
        "within_days must strictly increase from band to band, got [7, 5, 90]"
    )


def test_warm_thresholds_above_hot(tmp_path: Path) -> None:
    path = edited(
        tmp_path,
        "warm: {min_intent: 15, min_fit: 0}",
        "warm: {min_intent: 50, min_fit: 0}",
    )
    assert load_error(path) == (
        f"{path}:{line_with(path, 'warm: {min_intent: 50')}: stages.warm: "
        "warm thresholds must not be above the hot thresholds"
    )


def test_unknown_top_level_key(tmp_path: Path) -> None:
    path = edited(
        tmp_path, "# How stages are reported", "weights: {intent: 1}\n# How stages are reported"
    )
    assert load_error(path) == (
        f"{path}:{line_with(path, 'weights:')}: weights: extra fields not permitted"
    )


def test_unknown_nested_key(tmp_path: Path) -> None:
    path = edited(tmp_path, "    serviceable: 10", "    serviceable: 10\n    servicable: 5")
    assert load_error(path) == (
        f"{path}:{line_with(path, 'servicable: 5')}: fit.location.servicable: "
        "extra fields not permitted"
    )


def test_missing_section(tmp_path: Path) -> None:
    path = edited(
        tmp_path,
        "stages:\n  hot: {min_intent: 45, min_fit: 10}\n  warm: {min_intent: 15, min_fit: 0}\n",
        "",
    )
    message = load_error(path)
    # No node for a missing key: the line of the top-level mapping (its first key).
    assert message.startswith(f"{path}:{line_with(path, 'intent:')}: stages: ")
    assert "field required" in message


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = edited(
        tmp_path,
        "email_click: {points: 4, half_life_days: 10, cap: 8}",
        "email_click: {points: 4, half_life_days: 10, cap: 8}}",
    )
    message = load_error(path)
    assert message.startswith(f"{path}:{line_with(path, 'email_click: {')}: invalid YAML: ")
    assert "'}'" in message


def test_unknown_reporting_stage_names_its_line(tmp_path: Path) -> None:
    path = edited(tmp_path, "  cold: none", "  cold: none\n  lukewarm: MQL")
    message = load_error(path)
    # The line is the one of the unknown stage.
    assert message.startswith(f"{path}:{line_with(path, 'lukewarm')}: reporting.lukewarm: ")
    assert "unknown stage 'lukewarm'; expected one of cold, warm, hot" in message


def test_a_key_given_twice_names_both_lines(tmp_path: Path) -> None:
    path = edited(tmp_path, "  cold: none", "  cold: none\n  hot: MQL")
    message = load_error(path)
    second = line_with(path, "  hot: MQL")
    first = line_with(path, "  hot: SQL")
    # YAML would silently keep the last value; the owner must pick one.
    assert message.startswith(f"{path}:{second}: invalid YAML: ")
    assert f"'hot' is given twice (first on line {first})" in message


def test_several_problems_one_line_each(tmp_path: Path) -> None:
    path = edited(tmp_path, "page_view: {points: 1,", "page_view: {points: -1, weight: 2,")
    line = line_with(path, "page_view: {")
    assert load_error(path).splitlines() == [
        "invalid scoring configuration:",
        f"{path}:{line}: intent.signals.page_view.points: "
        "ensure this value is greater than or equal to 0",
        f"{path}:{line}: intent.signals.page_view.weight: extra fields not permitted",
    ]


def test_not_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "scoring.yml"
    path.write_text("- just\n- a list\n", encoding="utf-8")
    assert load_error(path) == f"{path}:1: expected a mapping with intent, fit and stages"


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yml"
    message = load_error(path)
    assert message.startswith(f"{path}: cannot read scoring configuration: ")


def test_norway_style_words_stay_text(tmp_path: Path) -> None:
    # YAML 1.1 would read `no` as false; the strict loader keeps it as the label "no".
    path = edited(tmp_path, "  cold: none", "  cold: no")
    assert load_scoring_config(path).report_label("cold") == "no"


# --- python -m bot scoring check -------------------------------------------------------------


def test_cli_check_ok(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scoring", "check", str(SCORING_CONFIG)]) == 0
    out = capsys.readouterr().out
    assert f"{SCORING_CONFIG}: {len(SCORABLE_SIGNALS)} intent signals" in out
    assert "hot at intent >= 45 and fit >= 10" in out
    assert "warm at intent >= 15 and fit >= 0" in out


def test_cli_check_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = edited(tmp_path, "    far_ratio: 0.5", "    far_ratio: 0.9")
    assert main(["scoring", "check", str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    line = line_with(path, "far_ratio: 0.9")
    assert captured.err.startswith(
        f"scoring configuration error: {path}:{line}: fit.budget.far_ratio: "
    )


def test_cli_check_default_path_from_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = edited(tmp_path, "page_view: {points: 1,", "page_view: {points: -1,")
    monkeypatch.setenv("SCORING_CONFIG", str(path))
    assert main(["scoring", "check"]) == 1
    assert f"{path}:{line_with(path, 'page_view: {')}:" in capsys.readouterr().err
