"""AtomicRedisLockStore's settings, and what Rasa does with it, with no Redis server needed."""

from __future__ import annotations

import pytest
from rasa.constants import ENV_SANIC_WORKERS
from rasa.core.lock_store import LockError
from rasa.core.utils import number_of_sanic_workers
from rasa.utils.endpoints import EndpointConfig

from rasa_ext.lock_store import AtomicRedisLockStore
from tests.rasa_ext.conftest import LOOPBACK, free_port


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        # a typo would otherwise be ignored
        ({"pol_seconds": 0.02}, "unknown lock_store settings: pol_seconds"),
        # keys would not be where the prefix says
        ({"key_prefix": "shop:eu"}, "alphanumeric"),
        # a busy loop against Redis
        ({"poll_seconds": 0}, "more than 0"),
    ],
)
def test_bad_settings_are_refused(setting: dict, message: str):
    with pytest.raises(ValueError, match=message):
        AtomicRedisLockStore(host=LOOPBACK, **setting)


async def test_no_redis_is_a_lock_error_on_issuing_a_ticket():
    unreachable = AtomicRedisLockStore(host=LOOPBACK, port=free_port(), socket_timeout=1)
    with pytest.raises(LockError, match="Error while acquiring lock"):
        unreachable.issue_ticket("shopper-1")


def test_rasa_runs_several_sanic_workers_on_it(monkeypatch: pytest.MonkeyPatch):
    # Rasa refuses SANIC_WORKERS > 1 with its in-memory lock store only.
    monkeypatch.setenv(ENV_SANIC_WORKERS, "4")
    config = EndpointConfig(type="rasa_ext.lock_store.AtomicRedisLockStore", url=LOOPBACK)
    assert number_of_sanic_workers(config) == 4
