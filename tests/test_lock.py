"""One job of a kind at a time, on SQLite (file lock) and PostgreSQL (advisory lock)."""

import pytest

from lapor_bridge.errors import LockHeld
from lapor_bridge.lock import job_lock
from lapor_bridge.store import open_store


def test_second_job_of_a_kind_is_refused_and_the_lock_is_released(engine, store_url):
    other = open_store(store_url)  # another process would have its own engine
    with job_lock(engine, "sync"):
        with pytest.raises(LockHeld) as refused, job_lock(other, "sync"):
            pass
        assert refused.value.exit_code == 75
        with job_lock(other, "push"):  # another kind runs alongside
            pass
    with job_lock(other, "sync"):  # released on exit
        pass
    other.dispose()


def test_lock_is_released_when_the_job_fails(engine):
    with pytest.raises(RuntimeError), job_lock(engine, "backfill"):
        raise RuntimeError("boom")
    with job_lock(engine, "backfill"):
        pass
