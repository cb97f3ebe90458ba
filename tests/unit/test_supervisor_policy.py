"""The supervisor's restart policy, on a fake clock: backoff, liveness, reasons, status."""

from __future__ import annotations

import signal
from datetime import datetime, timezone

import pytest

from bot.supervisor import Action, ChildPolicy, Timing, describe_exit

TIMING = Timing(
    backoff_first=1.0,
    backoff_max=30.0,
    stable_after=60.0,
    liveness_interval=3.0,
    liveness_timeout=3.0,
    liveness_failures=3,
    startup_grace=100.0,
)
WALL = datetime(2026, 1, 5, 9, 30, tzinfo=timezone.utc)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def policy(clock: FakeClock) -> ChildPolicy:
    child = ChildPolicy("actions", TIMING, clock, lambda: WALL)
    child.started(pid=100)
    return child


def _become_healthy(policy: ChildPolicy) -> None:
    assert policy.next_action() is Action.CHECK
    assert policy.checked(alive=True) is False
    assert policy.state == "running"


@pytest.mark.parametrize(
    ("returncode", "described"),
    [
        (1, "exited with code 1"),  # a crash: Python's exit status of an uncaught exception
        (0, "exited with code 0"),  # a clean exit is still unexpected while supervised
        (-signal.SIGKILL, "killed by SIGKILL"),  # kill -9, the OOM killer
        (-signal.SIGSEGV, "killed by SIGSEGV"),  # a native crash
        (-99, "killed by signal 99"),  # no such signal name
    ],
)
def test_exit_reasons(returncode: int, described: str) -> None:
    assert describe_exit(returncode) == described


def test_backoff_doubles_up_to_the_cap_while_the_child_keeps_failing(
    policy: ChildPolicy, clock: FakeClock
) -> None:
    delays = []
    for _ in range(7):
        delay = policy.exited(returncode=1)
        delays.append(delay)
        assert policy.next_action() is Action.WAIT
        clock.advance(delay - 0.01)
        assert policy.next_action() is Action.WAIT
        clock.advance(0.01)
        assert policy.next_action() is Action.START
        policy.started(pid=200)
        # Up, answering, but not for long enough to count as stable.
        _become_healthy(policy)
        clock.advance(10)
    assert delays == [1, 2, 4, 8, 16, 30, 30]
    assert policy.restarts == 7


def test_backoff_starts_over_after_a_stable_run(policy: ChildPolicy, clock: FakeClock) -> None:
    assert policy.exited(returncode=1) == 1
    clock.advance(1)
    policy.started(pid=101)
    assert policy.exited(returncode=1) == 2  # died before ever answering
    clock.advance(2)
    policy.started(pid=102)
    _become_healthy(policy)
    clock.advance(TIMING.stable_after)
    assert policy.exited(returncode=1) == 1
    assert policy.attempt == 1


def test_restart_is_reported_with_time_reason_and_count(
    policy: ChildPolicy, clock: FakeClock
) -> None:
    assert policy.status() == {
        "state": "starting",
        "pid": 100,
        "restarts": 0,
        "last_restart_at": None,
        "last_reason": None,
    }
    policy.exited(returncode=-signal.SIGKILL)
    assert policy.status()["state"] == "backoff"
    assert policy.status()["pid"] is None
    clock.advance(1)
    policy.started(pid=101)
    assert policy.status() == {
        "state": "starting",
        "pid": 101,
        "restarts": 1,
        "last_restart_at": WALL.isoformat(),
        "last_reason": "killed by SIGKILL",
    }


def test_liveness_is_checked_every_interval(policy: ChildPolicy, clock: FakeClock) -> None:
    _become_healthy(policy)
    assert policy.next_action() is Action.WAIT
    clock.advance(TIMING.liveness_interval - 0.1)
    assert policy.next_action() is Action.WAIT
    clock.advance(0.1)
    assert policy.next_action() is Action.CHECK


def test_a_wedged_child_is_killed_after_consecutive_failed_checks(
    policy: ChildPolicy, clock: FakeClock
) -> None:
    _become_healthy(policy)
    # Two failures, then an answer: a slow moment, not a wedge.
    for alive in (False, False, True, False, False):
        clock.advance(TIMING.liveness_interval)
        assert policy.checked(alive) is False
    clock.advance(TIMING.liveness_interval)
    assert policy.checked(alive=False) is True
    # The supervisor SIGKILLs it; the reason stays the liveness check, not the signal.
    policy.exited(returncode=-signal.SIGKILL)
    assert policy.last_reason == "wedged: liveness check failed 3 times in a row"


def test_a_starting_child_has_a_grace_period(policy: ChildPolicy, clock: FakeClock) -> None:
    for _ in range(10):
        assert policy.checked(alive=False) is False
        clock.advance(TIMING.startup_grace / 10 - 0.01)
    assert policy.state == "starting"
    clock.advance(0.1)
    assert policy.checked(alive=False) is True
    policy.exited(returncode=-signal.SIGKILL)
    assert policy.last_reason == "not answering 100 s after start (liveness check)"


def test_a_restarted_child_gets_a_new_grace_period(policy: ChildPolicy, clock: FakeClock) -> None:
    _become_healthy(policy)
    policy.exited(returncode=1)
    clock.advance(1)
    policy.started(pid=101)
    assert policy.kill_reason is None
    for _ in range(5):
        assert policy.checked(alive=False) is False
        clock.advance(TIMING.liveness_interval)
