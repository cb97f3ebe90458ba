from datetime import datetime, timedelta, timezone

import pytest

from bot import clock

PARIS_NOON = datetime(2026, 12, 7, 12, 0, tzinfo=timezone(timedelta(hours=1)))


def test_now_is_aware_utc():
    moment = clock.now()
    assert moment.utcoffset() == timedelta(0)


def test_frozen_holds_the_moment_in_utc_and_lets_go_after_the_block():
    with clock.frozen(PARIS_NOON):
        assert clock.now() == PARIS_NOON
        assert clock.now().tzinfo == timezone.utc
        assert clock.now() == clock.now()
    assert clock.now() != PARIS_NOON
    assert abs(clock.now() - datetime.now(timezone.utc)) < timedelta(minutes=1)


def test_ticking_moves_one_step_per_call():
    with clock.ticking(PARIS_NOON, timedelta(seconds=5)):
        assert [clock.now() for _ in range(3)] == [
            PARIS_NOON,
            PARIS_NOON + timedelta(seconds=5),
            PARIS_NOON + timedelta(seconds=10),
        ]


def test_blocks_nest_and_unwind():
    later = PARIS_NOON + timedelta(days=1)
    with clock.frozen(PARIS_NOON):
        with clock.frozen(later):
            assert clock.now() == later
        assert clock.now() == PARIS_NOON


def test_a_naive_time_is_refused():
    with pytest.raises(ValueError, match="aware"), clock.frozen(datetime(2026, 12, 7, 12, 0)):
        pass
