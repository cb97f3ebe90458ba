"""The follow-up YAML: the shipped file loads; mistakes are reported at their line."""

from __future__ import annotations

import textwrap
from datetime import time
from pathlib import Path

import pytest

from bot.cli import main
from bot.followups.config import (
    DEFAULT_CONFIG_PATH,
    FollowupConfigError,
    QuietHours,
    load_followup_config,
)
from bot.settings import Settings

VALID = """\
sender: Shop <hello@shop.example>
plays:
  - name: cart_recovery
    when: {left: {event: add_to_cart, for: 4h}}
    delay: 30m
    channel: email
    template: cart_recovery
    priority: 1
frequency_cap: {messages: 2, days: 7}
quiet_hours: {start: "21:00", end: "08:00"}
holdout: {share: 0.1, seed: test}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "followups.yml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_the_shipped_file_loads() -> None:
    config = load_followup_config(DEFAULT_CONFIG_PATH)
    assert [play.name for play in config.plays] == [
        "checkout_recovery",
        "cart_recovery",
        "not_forgotten",
        "budget_alternatives",
        "timeline_reminder",
    ]
    reminder = config.play("timeline_reminder")
    assert reminder.days_before_stated_date == 7
    assert reminder.when.timeline_weeks_away == 3
    assert config.play("cart_recovery").when.left is not None
    assert config.stop_on == {"purchase", "reply", "handoff"}


def test_a_valid_file_is_read_into_values(tmp_path: Path) -> None:
    config = load_followup_config(write(tmp_path, VALID))
    play = config.play("cart_recovery")
    assert play.delay_seconds == 1800
    assert play.when.left is not None and play.when.left.seconds == 4 * 3600
    assert config.quiet_hours == QuietHours(time(21), time(8))
    assert config.holdout.share == 0.1


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        # an unknown event for a left cart, at the line of the play's `when`
        (
            "event: add_to_cart, for: 4h",
            "event: page_view, for: 4h",
            ":4: plays[0].when.left.event: unexpected value",
        ),
        # a delay that is no duration
        ("delay: 30m", "delay: soon", ":5: plays[0].delay: expected a duration"),
        # a channel nobody defined
        ("channel: email", "channel: sms", ":6: plays[0].channel: unknown channel 'sms'"),
        # a template without its files
        ("template: cart_recovery", "template: nothing_here", ":7: plays[0].template: template"),
        # quiet hours that are no time of day
        ('start: "21:00"', 'start: "25:00"', ":10: quiet_hours.start: expected a time of day"),
        # a holdout share over the maximum
        ("share: 0.1", "share: 2", ":11: holdout.share: ensure this value is less than"),
        # a sender that is no email address
        (
            "sender: Shop <hello@shop.example>",
            "sender: the shop",
            ":1: sender: expected an email address",
        ),
        # a typo in a key
        ("priority: 1", "prority: 1", ":8: plays[0].prority: extra fields not permitted"),
    ],
)
def test_mistakes_are_reported_with_their_line(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    assert old in VALID
    path = write(tmp_path, VALID.replace(old, new))
    with pytest.raises(FollowupConfigError) as error:
        load_followup_config(path)
    assert f"{path}{expected}" in str(error.value)


def test_the_reminder_needs_a_stated_date(tmp_path: Path) -> None:
    text = VALID.replace("delay: 30m", "timed_to_stated_date: {days_before: 3}")
    path = write(tmp_path, text)
    with pytest.raises(FollowupConfigError, match=r":3: plays\[0\]: timed_to_stated_date needs"):
        load_followup_config(path)


def test_check_command_prints_a_summary_or_the_lines_to_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["followups", "check", str(write(tmp_path, VALID))]) == 0
    assert "1 plays (cart_recovery); at most 2 per 7 days" in capsys.readouterr().out
    bad = write(
        tmp_path, VALID.replace("delay: 30m", "delay: soon").replace("share: 0.1", "share: 2")
    )
    assert main(["followups", "check", str(bad)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert any(f"{bad}:5: plays[0].delay" in line for line in err)
    assert any(f"{bad}:11: holdout.share" in line for line in err)
    assert all(line.startswith("follow-up configuration error: ") for line in err)


@pytest.mark.parametrize(
    ("environ", "seconds"),
    [
        ({}, 10),  # the default: a round every ten seconds
        ({"FOLLOWUPS_PLAN_EVERY_SECONDS": "1"}, 1),  # a small shop, or a test, plans sooner
        ({"FOLLOWUPS_PLAN_EVERY_SECONDS": ""}, 10),  # set but empty: the default
    ],
)
def test_the_planning_interval_comes_from_the_environment(
    environ: dict[str, str], seconds: int
) -> None:
    assert Settings.from_env(environ).followups_plan_every_seconds == seconds


@pytest.mark.parametrize("value", ["0", "-5", "ten", "1.5"])
def test_a_planning_interval_that_is_no_positive_whole_number_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="FOLLOWUPS_PLAN_EVERY_SECONDS"):
        Settings.from_env({"FOLLOWUPS_PLAN_EVERY_SECONDS": value})
