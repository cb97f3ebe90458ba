"""The supervisor's process loop with tiny stand-in children and a scripted liveness check."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.supervisor import Child, Supervisor, Timing

# Quick timings so that a wedge and a restart happen within a second or two.
TIMING = Timing(
    backoff_first=0.05,
    backoff_max=0.2,
    stable_after=60.0,
    liveness_interval=0.05,
    liveness_timeout=0.5,
    liveness_failures=2,
    startup_grace=30.0,
)
WAIT_SECONDS = 20.0
SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]


class ScriptedLiveness:
    """Answers ``alive`` (switchable by the test) and counts the checks."""

    def __init__(self) -> None:
        self.alive = True
        self.checks = 0

    def check(self, timeout: float) -> bool:
        self.checks += 1
        return self.alive


@pytest.fixture
def liveness() -> dict[str, ScriptedLiveness]:
    return {"one": ScriptedLiveness(), "two": ScriptedLiveness()}


@pytest.fixture
def supervisor(tmp_path: Path, liveness: dict[str, ScriptedLiveness]) -> Iterator[Supervisor]:
    children = [Child("one", list(SLEEPER)), Child("two", list(SLEEPER))]
    running = Supervisor(
        children,
        env=dict(os.environ),
        liveness=liveness,
        status_file=tmp_path / "run" / "supervisor.json",
        timings={"one": TIMING, "two": TIMING},
        cwd=tmp_path,
    )
    running.start()
    yield running
    running.stop()


def _step_until(supervisor: Supervisor, condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, supervisor.policies
        supervisor.step()
        time.sleep(0.02)


def _pid(supervisor: Supervisor, name: str) -> int:
    process = next(c.process for c in supervisor.children if c.name == name)
    assert process is not None
    return process.pid


def _status(supervisor: Supervisor) -> dict[str, dict[str, object]]:
    status: dict[str, dict[str, object]] = json.loads(supervisor.status_file.read_text())[
        "processes"
    ]
    return status


def test_a_killed_child_is_restarted_and_the_other_keeps_running(supervisor: Supervisor) -> None:
    killed, other = _pid(supervisor, "one"), _pid(supervisor, "two")
    os.kill(killed, signal.SIGKILL)
    _step_until(supervisor, lambda: supervisor.policies["one"].restarts == 1)
    assert _pid(supervisor, "one") != killed
    assert _pid(supervisor, "two") == other
    status = _status(supervisor)
    assert status["one"]["restarts"] == 1
    assert status["one"]["last_reason"] == "killed by SIGKILL"
    assert status["one"]["pid"] == _pid(supervisor, "one")
    assert status["two"]["restarts"] == 0


def test_a_frozen_child_is_killed_and_restarted(
    supervisor: Supervisor, liveness: dict[str, ScriptedLiveness]
) -> None:
    _step_until(supervisor, lambda: supervisor.policies["two"].state == "running")
    frozen = _pid(supervisor, "two")
    os.kill(frozen, signal.SIGSTOP)
    liveness["two"].alive = False
    _step_until(supervisor, lambda: supervisor.policies["two"].state == "backoff")
    with pytest.raises(ProcessLookupError):
        os.kill(frozen, 0)  # SIGKILL ends even a stopped process
    liveness["two"].alive = True
    _step_until(supervisor, lambda: supervisor.policies["two"].state == "running")
    assert _status(supervisor)["two"]["last_reason"] == (
        "wedged: liveness check failed 2 times in a row"
    )


def test_stop_restarts_nothing_and_removes_the_status_file(supervisor: Supervisor) -> None:
    pids = [_pid(supervisor, "one"), _pid(supervisor, "two")]
    os.kill(pids[1], signal.SIGSTOP)  # a stopped child still stops (SIGCONT follows SIGTERM)
    supervisor.stop()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert all(child.process is None for child in supervisor.children)
    assert not supervisor.status_file.exists()
    assert [p.restarts for p in supervisor.policies.values()] == [0, 0]


def test_a_child_that_cannot_be_started_is_tried_again(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-interpreter"
    supervisor = Supervisor(
        [Child("one", [str(missing)]), Child("two", list(SLEEPER))],
        env=dict(os.environ),
        liveness={"one": ScriptedLiveness(), "two": ScriptedLiveness()},
        status_file=tmp_path / "supervisor.json",
        timings={"one": TIMING, "two": TIMING},
        cwd=tmp_path,
    )
    supervisor.start()
    try:
        policy = supervisor.policies["one"]
        assert policy.state == "backoff"
        assert policy.last_reason is not None and str(missing) in policy.last_reason
        assert policy.last_reason.startswith("could not start: ")
        _step_until(supervisor, lambda: policy.attempt == 3)
        missing.write_text(f"#!/bin/sh\nexec {SLEEPER[0]} -c 'import time; time.sleep(120)'\n")
        missing.chmod(0o755)
        _step_until(supervisor, lambda: policy.state == "running")
        assert _pid(supervisor, "two") == supervisor.policies["two"].pid
    finally:
        supervisor.stop()
