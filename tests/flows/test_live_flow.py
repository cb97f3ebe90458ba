"""Flows edits apply while the bot runs; a bad edit keeps the last good flows."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest

from bot.flows import FlowError
from bot.flows.live import LiveFlows
from bot.settings import Settings

DEFAULT = Settings().flows_dir / "default.yml"


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def flows_file(tmp_path: Path) -> Path:
    path = tmp_path / "default.yml"
    shutil.copyfile(DEFAULT, path)
    return path


def _live(path: Path, **kwargs: object) -> LiveFlows:
    return LiveFlows(path.parent, **kwargs)  # type: ignore[arg-type]


def _save(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    # Filesystems with coarse timestamps: make the change visible however fast the test is.
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_an_edit_is_picked_up_after_the_check_interval(flows_file: Path) -> None:
    clock = Clock()
    live = _live(flows_file, check_every=1.0, clock=clock)
    before = live.current()
    assert before.fallback.keys[:2] == ["timeline", "variant"]
    text = flows_file.read_text(encoding="utf-8")
    _save(
        flows_file,
        text.replace("When are you planning to buy?", "When do you want to buy it?"),
    )
    clock.now += 0.5
    assert live.current() is before  # not looked at yet: no file system call per turn
    clock.now += 0.6
    after = live.current()
    assert after is not before
    timeline = after.fallback.question("timeline")
    assert timeline is not None and "When do you want to buy it?" in timeline.prompts


def test_reordering_questions_changes_the_asking_order(flows_file: Path) -> None:
    clock = Clock()
    live = _live(flows_file, clock=clock)
    text = flows_file.read_text(encoding="utf-8")
    start = text.index("  - key: location")
    end = text.index("  - key: budget")
    location = text[start:end]
    reordered = text[:start] + text[end:]
    reordered = reordered.replace("  - key: timeline", location + "  - key: timeline", 1)
    _save(flows_file, reordered)
    clock.now += 2
    assert live.current().fallback.keys[:3] == ["location", "timeline", "variant"]
    assert live.current().fallback.to_ask({})[0] == "location"


def test_a_bad_edit_keeps_the_last_good_flow_and_logs_why(
    flows_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    live = _live(flows_file, clock=clock)
    good = live.current()
    text = flows_file.read_text(encoding="utf-8")
    _save(flows_file, text.replace("answer_type: budget", "answer_type: budgit"))
    clock.now += 2
    with caplog.at_level(logging.ERROR, logger="bot.flows.live"):
        assert live.current() is good
    assert live.error is not None and "budgit" in live.error and "line" in live.error
    assert "last good version stays active" in caplog.text
    # Logged once, not on every turn.
    caplog.clear()
    clock.now += 2
    with caplog.at_level(logging.ERROR, logger="bot.flows.live"):
        assert live.current() is good
    assert caplog.text == ""
    # The fix is picked up and clears the error.
    _save(flows_file, text)
    clock.now += 2
    assert live.current() is not good and live.error is None


def test_a_deleted_file_keeps_the_last_good_flow(flows_file: Path) -> None:
    clock = Clock()
    live = _live(flows_file, clock=clock)
    good = live.current()
    flows_file.unlink()
    clock.now += 2
    assert live.current() is good
    assert live.error is not None and "no flows file" in live.error


def test_a_new_flows_file_is_picked_up(flows_file: Path) -> None:
    clock = Clock()
    live = _live(flows_file, clock=clock)
    text = flows_file.read_text(encoding="utf-8").replace("flow: default", "flow: product_page")
    _save(flows_file.parent / "product_page.yml", "when:\n  page_type: product\n" + text)
    clock.now += 2
    flows = live.current()
    assert [flow.name for flow in flows.flows] == ["default", "product_page"]
    assert flows.select({"page_type": "product"}).name == "product_page"
    assert flows.select({"page_type": "cart"}).name == "default"


def test_reload_reads_the_file_now(flows_file: Path) -> None:
    live = _live(flows_file, clock=Clock())
    text = flows_file.read_text(encoding="utf-8")
    _save(flows_file, text.replace("What's your name?", "Who am I talking to?"))
    name = live.reload().fallback.question("contact_name")
    assert name is not None and name.prompts == ("Who am I talking to?",)


def test_a_broken_file_at_start_is_an_error(tmp_path: Path) -> None:
    broken = tmp_path / "default.yml"
    broken.write_text("questions: []\n", encoding="utf-8")
    with pytest.raises(FlowError):
        LiveFlows(tmp_path)
