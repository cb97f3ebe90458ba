"""The handoff configuration: the shipped file passes the check, the tests' copy loads with its
rules, and every mistake names its line and field.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, time
from pathlib import Path

import pytest

from bot.handoff.config import (
    DEFAULT_CONFIG_PATH,
    Channel,
    HandoffConfig,
    HandoffConfigError,
    load_handoff_config,
)
from bot.settings import PROJECT_ROOT
from tests.handoff import HANDOFF_CONFIG

SECRET = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYX"  # base64 of 24 bytes
ENV = {"CRM_SECRET": SECRET}

# A small valid file; the tests below change one line of it (line numbers on the right).
BASE = """\
slas:
  fast:
    respond_within_minutes: 15
  today:
    by: end_of_business_day
teams:
  sales:
    timezone: Europe/Paris
    hours:
      mon: "09:00-18:00"
      tue: "09:00-18:00"
    reps:
      - name: Ann
    channels: [crm]
channels:
  crm:
    type: webhook
    url: https://crm.example/hooks
    secrets: ["${CRM_SECRET}"]
triggers:
  - name: asked
    when: {event: human_requested}
    sla: fast
    team: sales
  - name: hot
    when:
      stage: hot
    sla: today
    team: sales
"""
# Lines of BASE:  8 timezone, 10 mon, 11 tue, 14 channels, 17 type, 19 secrets,
# 21 first trigger, 22 its when, 25 second trigger, 27 its when, 28 its sla, 29 its team.


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "handoff.yml"
    path.write_text(text, encoding="utf-8")
    return path


def edited(*changes: tuple[str, str]) -> str:
    """BASE with each ``old`` (found exactly once) replaced by ``new``."""
    text = BASE
    for old, new in changes:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def error_of(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> str:
    path = write(tmp_path, text)
    with pytest.raises(HandoffConfigError) as caught:
        load_handoff_config(path, environ=ENV if environ is None else environ)
    return str(caught.value)


# --- valid files ------------------------------------------------------------------------------


def test_shipped_config_passes_the_check() -> None:
    # What `make run` and `make test` run: the shipped file, whatever its rules, is valid.
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HANDOFF_")}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "handoffs", "check"],
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
    config = load_handoff_config(HANDOFF_CONFIG, environ={})
    assert isinstance(config, HandoffConfig)
    assert config.source == HANDOFF_CONFIG
    assert list(config.slas) == ["immediate", "within_1h", "same_business_day"]
    assert config.slas["immediate"].respond_within_minutes == 15
    assert config.slas["same_business_day"].by_end_of_business_day
    # Strength: the most urgent SLA first, then file order.
    assert [(t.name, t.rank, t.sla.name) for t in config.triggers] == [
        ("checkout_hesitation", 0, "immediate"),
        ("human_requested", 1, "immediate"),
        ("became_hot", 2, "within_1h"),
        ("big_budget", 3, "within_1h"),
        ("cart_add", 4, "same_business_day"),
        ("returning_lead", 5, "same_business_day"),
    ]
    hesitation = config.trigger("checkout_hesitation")
    assert (hesitation.event, hesitation.no_followup, hesitation.after_minutes) == (
        "checkout_start",
        "purchase",
        30,
    )
    assert config.trigger("big_budget").budget_at_least == 1000
    assert config.trigger("cart_add").min_stage == "warm"
    assert config.trigger("returning_lead").returning_after_hours == 24
    sales = config.teams["sales"]
    assert sales.timezone.key == "Europe/Paris"
    assert sorted(sales.hours) == [0, 1, 2, 3, 4, 5]  # Sunday closed
    assert (sales.hours[4].opens, sales.hours[4].closes) == (time(9), time(17))
    assert (sales.hours[5].opens, sales.hours[5].closes) == (time(10), time(13))
    assert date(2026, 12, 25) in sales.holidays
    assert [rep.name for rep in sales.reps] == ["Camille Martin", "Hugo Bernard"]
    assert sales.channels == () and sales.escalate_to == ()
    assert config.channels == {}
    assert config.delivery.retry_schedule[:3] == (0.0, 5.0, 300.0)
    assert config.smtp.sender == "leads@shop.example"


def test_small_file_loads_with_env_secret(tmp_path: Path) -> None:
    config = load_handoff_config(write(tmp_path, BASE), environ=ENV)
    assert config.channels["crm"] == Channel(
        "crm", "webhook", url="https://crm.example/hooks", secrets=(SECRET,)
    )
    # escalate_to defaults to the team's channels.
    assert config.teams["sales"].channels == ("crm",)
    assert config.teams["sales"].escalate_to == ("crm",)
    assert [t.name for t in config.triggers] == ["asked", "hot"]


def test_with_channel_adds_to_every_team(tmp_path: Path) -> None:
    config = load_handoff_config(write(tmp_path, BASE), environ=ENV)
    more = config.with_channel(Channel("ops", "email", to=("ops@shop.example",)))
    assert more.teams["sales"].channels == ("crm", "ops")
    assert more.teams["sales"].escalate_to == ("crm", "ops")
    assert set(more.channels) == {"crm", "ops"}
    assert config.teams["sales"].channels == ("crm",)  # the original is unchanged


# --- one test per kind of mistake: message and line ------------------------------------------


def test_unknown_sla_reference(tmp_path: Path) -> None:
    path = tmp_path / "handoff.yml"
    message = error_of(tmp_path, edited(("    sla: today\n", "    sla: tomorrow\n")))
    assert message == (
        f"{path}:28: triggers[1].sla: unknown SLA 'tomorrow': expected one of fast, today"
    )


def test_unknown_team(tmp_path: Path) -> None:
    path = tmp_path / "handoff.yml"
    text = edited(("    sla: today\n    team: sales\n", "    sla: today\n    team: support\n"))
    assert error_of(tmp_path, text) == (
        f"{path}:29: triggers[1].team: unknown team 'support': expected one of sales"
    )


def test_unknown_channel_in_team(tmp_path: Path) -> None:
    path = tmp_path / "handoff.yml"
    text = edited(("    channels: [crm]\n", "    channels: [crm, slack]\n"))
    assert error_of(tmp_path, text) == (
        f"{path}:14: teams.sales.channels[1]: unknown channel 'slack' (channels: crm)"
    )


def test_unknown_escalation_channel(tmp_path: Path) -> None:
    path = tmp_path / "handoff.yml"
    text = edited(("    channels: [crm]\n", "    channels: [crm]\n    escalate_to: [pager]\n"))
    assert error_of(tmp_path, text) == (
        f"{path}:15: teams.sales.escalate_to[0]: unknown channel 'pager' (channels: crm)"
    )


def test_bad_hours_format(tmp_path: Path) -> None:
    path = tmp_path / "handoff.yml"
    text = edited(('      tue: "09:00-18:00"\n', '      tue: "9-18"\n'))
    # The line of the bad day (11), not of the first day of the block.
    assert error_of(tmp_path, text) == (
        f"{path}:11: teams.sales.hours.tue: expected opening hours like 09:00-18:00, got '9-18'"
    )


def test_closing_before_opening(tmp_path: Path) -> None:
    path = tmp_path / "handoff.yml"
    text = edited(('      tue: "09:00-18:00"\n', '      tue: "18:00-09:00"\n'))
    assert error_of(tmp_path, text) == (
        f"{path}:11: teams.sales.hours.tue: closing time must be after opening time in "
        "'18:00-09:00'"
    )


def test_not_a_time_of_day(tmp_path: Path) -> None:
    path = tmp_path / "handoff.yml"
    text = edited(('      mon: "09:00-18:00"\n', '      mon: "09:00-25:00"\n'))
    assert error_of(tmp_path, text) == (
        f"{path}:10: teams.sales.hours.mon: '09:00-25:00' is not a time of day"
    )


def test_unknown_weekday(tmp_path: Path) -> None:
    path = tmp_path / "handoff.yml"
    text = edited(('      tue: "09:00-18:00"\n', '      tuesday: "09:00-18:00"\n'))
    assert error_of(tmp_path, text) == (
        f"{path}:11: teams.sales.hours.tuesday: unknown day 'tuesday': "
        "expected one of mon, tue, wed, thu, fri, sat, sun"
    )


def test_every_bad_day_is_reported_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "handoff.yml"
    text = edited(
        ('      mon: "09:00-18:00"\n', '      mon: "9-18"\n'),
        ('      tue: "09:00-18:00"\n', '      tue: "18:00-09:00"\n'),
    )
    assert error_of(tmp_path, text).splitlines() == [
        "invalid handoff configuration:",
        f"{path}:10: teams.sales.hours.mon: expected opening hours like 09:00-18:00, got '9-18'",
        f"{path}:11: teams.sales.hours.tue: closing time must be after opening time in "
        "'18:00-09:00'",
    ]


def test_unknown_timezone(tmp_path: Path) -> None:
    path = tmp_path / "handoff.yml"
    text = edited(("Europe/Paris", "Europe/Pariss"))
    assert error_of(tmp_path, text) == (
        f"{path}:8: teams.sales.timezone: unknown time zone 'Europe/Pariss': "
        "use an IANA name such as Europe/Paris"
    )


def test_duplicate_trigger_name(tmp_path: Path) -> None:
    path = tmp_path / "handoff.yml"
    text = edited(("  - name: hot\n", "  - name: asked\n"))
    assert error_of(tmp_path, text) == (
        f"{path}:25: triggers[1].name: trigger 'asked' is defined twice"
    )


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    path = tmp_path / "handoff.yml"
    text = edited(
        ('      tue: "09:00-18:00"\n', '      tue: "09:00-18:00"\n      mon: "10:00-12:00"\n')
    )
    assert error_of(tmp_path, text) == (
        f"{path}:12: invalid YAML: 'mon' is given twice (first on line 10)"
    )


def test_trigger_with_two_conditions(tmp_path: Path) -> None:
    path = tmp_path / "handoff.yml"
    text = edited(("      stage: hot\n", "      stage: hot\n      event: add_to_cart\n"))
    assert error_of(tmp_path, text) == (
        f"{path}:27: triggers[1].when: give exactly one of stage, event, budget_at_least or "
        "returning_after_hours (got stage, event)"
    )


def test_trigger_without_condition(tmp_path: Path) -> None:
    path = tmp_path / "handoff.yml"
    text = edited(("      stage: hot\n", "      min_stage: warm\n"))
    assert error_of(tmp_path, text) == (
        f"{path}:27: triggers[1].when: give exactly one of stage, event, budget_at_least or "
        "returning_after_hours"
    )


def test_no_followup_without_after_minutes(tmp_path: Path) -> None:
    path = tmp_path / "handoff.yml"
    text = edited(
        (
            "    when: {event: human_requested}",
            "    when: {event: checkout_start, no_followup: purchase}",
        )
    )
    assert error_of(tmp_path, text) == (
        f"{path}:22: triggers[0].when: no_followup and after_minutes go together"
    )


def test_bad_whsec_secret(tmp_path: Path) -> None:
    path = tmp_path / "handoff.yml"
    message = error_of(tmp_path, BASE, environ={"CRM_SECRET": "whsec_short"})
    assert message == (
        f"{path}:19: channels.crm.secrets[0]: expected a Standard Webhooks secret: 'whsec_' "
        "followed by base64 of 24 to 64 random bytes (make one with: python -m bot handoffs "
        "secret)"
    )


def test_unset_environment_variable(tmp_path: Path) -> None:
    path = tmp_path / "handoff.yml"
    assert error_of(tmp_path, BASE, environ={}) == (
        f"{path}:19: channels.crm.secrets[0]: environment variable CRM_SECRET is not set"
    )


def test_unknown_field(tmp_path: Path) -> None:
    path = tmp_path / "handoff.yml"
    text = edited(("    timezone:", "    timezon:"))
    # The typo is an unknown field, and the real one is missing.
    assert error_of(tmp_path, text).splitlines() == [
        "invalid handoff configuration:",
        f"{path}:8: teams.sales.timezone: field required",
        f"{path}:8: teams.sales.timezon: extra fields not permitted",
    ]


def test_channel_with_unknown_type(tmp_path: Path) -> None:
    path = tmp_path / "handoff.yml"
    text = edited(("    type: webhook\n", "    type: teams\n"))
    assert error_of(tmp_path, text) == (
        f"{path}:17: channels.crm.type: expected type webhook, slack or email"
    )


def test_empty_teams(tmp_path: Path) -> None:
    path = tmp_path / "handoff.yml"
    text = (
        "slas:\n"
        "  fast:\n"
        "    respond_within_minutes: 15\n"
        "teams: {}\n"
        "triggers:\n"
        "  - name: asked\n"
        "    when: {event: human_requested}\n"
        "    sla: fast\n"
        "    team: sales\n"
    )
    assert error_of(tmp_path, text) == f"{path}:4: teams: define at least one"
