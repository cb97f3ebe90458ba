"""What `make run` leaves on disk and prints: owner-only files, masked tokens, child settings."""

from __future__ import annotations

import json
import os
import socket
import stat
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from bot import secrets as secrets_module
from bot.devstack import StackPorts
from bot.handoff import DEFAULT_CONFIG_PATH as DEFAULT_HANDOFF_CONFIG
from bot.handoff import handoff_config_for
from bot.handoff.config import Channel
from bot.secrets import TokenFileError, ensure_tokens, make_data_private
from bot.settings import Settings
from bot.supervisor import child_environment, notification_lines, ports_in_use, token_lines


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def restore_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    os.umask(previous)
    yield
    os.umask(previous)


def test_tokens_are_created_once_and_kept_owner_only(tmp_path: Path) -> None:
    store = tmp_path / "tokens.json"
    first: dict[str, str] = {"STOREFRONT_TOKEN": "from-the-environment"}
    created = ensure_tokens(first, store)
    assert created == {"LEADS_API_TOKEN", "SESSION_SECRET", "ACTIONS_TOKEN"}
    assert first["STOREFRONT_TOKEN"] == "from-the-environment"
    assert _mode(store) == 0o600
    assert "from-the-environment" not in store.read_text()

    again: dict[str, str] = {"STOREFRONT_TOKEN": "from-the-environment"}
    assert ensure_tokens(again, store) == set()
    assert again["LEADS_API_TOKEN"] == first["LEADS_API_TOKEN"]
    assert json.loads(store.read_text())["SESSION_SECRET"] == first["SESSION_SECRET"]


@pytest.mark.parametrize(
    "content",
    [
        '{"LEADS_API_TOKEN": "abc',  # torn by a crash mid-write
        '["LEADS_API_TOKEN"]',  # JSON, but not the saved tokens
        '{"LEADS_API_TOKEN": 42}',
    ],
)
def test_a_damaged_token_file_is_refused_not_replaced(tmp_path: Path, content: str) -> None:
    store = tmp_path / "tokens.json"
    store.write_text(content)
    with pytest.raises(TokenFileError, match="delete it to generate new tokens"):
        ensure_tokens({}, store)
    assert store.read_text() == content


def test_the_token_file_is_replaced_whole(tmp_path: Path) -> None:
    store = tmp_path / "tokens.json"
    ensure_tokens({}, store)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["tokens.json"]
    assert set(json.loads(store.read_text())) == set(secrets_module.TOKEN_VARIABLES)


def test_a_new_token_is_printed_once_then_masked() -> None:
    env = {"LEADS_API_TOKEN": "abcdEFGH-new-token", "STOREFRONT_TOKEN": "wxyzSECRET"}
    first = "".join(token_lines(env, created={"LEADS_API_TOKEN"}, from_env=set()))
    assert "abcdEFGH-new-token  (new: shown this once, kept in var/tokens.json)" in first
    assert "wxyzSECRET" not in first
    assert "wxyz…  (full value in var/tokens.json)" in first

    later = "".join(token_lines(env, created=set(), from_env={"STOREFRONT_TOKEN"}))
    assert "abcdEFGH-new-token" not in later and "wxyzSECRET" not in later
    assert "abcd…  (full value in var/tokens.json)" in later
    assert "wxyz…  (from STOREFRONT_TOKEN)" in later
    # Each value stands apart from its label, however long the label.
    assert "  storefront token: wxyz…" in later and "  API token:        abcd…" in later


def test_data_files_become_owner_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, restore_umask: None
) -> None:
    var = tmp_path / "var"
    var.mkdir(mode=0o755)
    var.chmod(0o755)
    spool = var / "spool"
    spool.mkdir()
    spool.chmod(0o755)
    # What an earlier version left: world-readable stores, WAL files and spooled answers.
    left = [var / "leads.db", var / "leads.db-wal", var / "tracker.db", spool / "pending.jsonl"]
    for path in left:
        path.write_text("x")
        path.chmod(0o644)
    monkeypatch.setattr(secrets_module, "VAR_DIR", var)
    monkeypatch.setattr(secrets_module, "TOKENS_FILE", var / "tokens.json")
    settings = Settings(
        database_url=f"sqlite:///{var / 'leads.db'}",
        tracker_store_url=f"sqlite:///{var / 'tracker.db'}",
        spool_dir=spool,
    )
    make_data_private(settings)
    assert _mode(var) == 0o700
    assert _mode(spool) == 0o700
    assert {path.name: _mode(path) for path in left} == {path.name: 0o600 for path in left}
    created = var / "later.db"
    created.write_text("x")
    assert _mode(created) == 0o600


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        # `make run` as the README shows it: nothing set, the documented defaults.
        ({}, {"RASA_PORT": "5005", "ACTIONS_PORT": "5055", "WEB_PORT": "8000"}),
        # An empty variable (`ACTIONS_PORT= make run`) means the default too.
        ({"ACTIONS_PORT": ""}, {"ACTIONS_PORT": "5055"}),
        # Set ports are kept.
        ({"RASA_PORT": "6005", "WEB_PORT": "9000"}, {"RASA_PORT": "6005", "WEB_PORT": "9000"}),
    ],
)
def test_children_get_every_port(given: dict[str, str], expected: dict[str, str]) -> None:
    env = child_environment(given)
    assert {name: env[name] for name in expected} == expected
    assert env["SUPERVISOR_STATUS_FILE"] == str(Settings().supervisor_status_file)
    assert env["TRACKER_STORE_URL"].startswith("sqlite:///")
    assert env["TRACKER_STORE_DIALECT"] == "sqlite"


def test_a_port_in_use_is_named_before_anything_starts() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        free = StackPorts.free()
        settings = Settings(rasa_port=free.rasa, actions_port=port, web_port=free.web)
        problems = ports_in_use(settings)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"port {port} on 127.0.0.1 (ACTIONS_PORT) is not available")
    assert problems[0].endswith("stop what uses it or set ACTIONS_PORT")
    assert ports_in_use(settings) == []


def test_make_run_says_which_notification_channels_are_on_or_how_to_add_one() -> None:
    quiet = Settings(handoff_config_path=DEFAULT_HANDOFF_CONFIG)
    (line,) = notification_lines(handoff_config_for(quiet), quiet.handoff_config_path)
    assert line == (
        "  notifications:    off: handoffs show on the lead pages only; add a channel with "
        "HANDOFF_WEBHOOK_URL + HANDOFF_WEBHOOK_SECRET, HANDOFF_SLACK_WEBHOOK_URL or "
        "HANDOFF_EMAIL_TO (or channels: in bot/handoff/default.yml)\n"
    )
    loud = replace(
        quiet,
        handoff_webhook_url="https://crm.example/hooks?key=secret-in-url",
        handoff_webhook_secret="whsec_" + "A" * 32,
        handoff_email_to="sales@shop.example",
    )
    (line,) = notification_lines(handoff_config_for(loud), loud.handoff_config_path)
    # Names and types only: webhook URLs and addresses can be secrets.
    assert line == "  notifications:    env-webhook (webhook), env-email (email)\n"
    # A channel no team announces on is not on.
    config = handoff_config_for(quiet)
    idle = replace(
        config,
        channels={"crm": Channel("crm", "webhook", url="https://crm.example", secrets=("s",))},
    )
    assert "off:" in notification_lines(idle, Path("/etc/handoff.yml"))[0]
    assert "channels: in /etc/handoff.yml" in notification_lines(idle, Path("/etc/handoff.yml"))[0]
