"""The command lock (`orchestrator.lock`): held for the run, free the moment the run ends."""

from __future__ import annotations

import pytest
from conftest import Warehouse

from orchestrator import connection, lock

ROUNDS = 100


def test_the_lock_is_free_the_moment_a_run_ends(warehouse: Warehouse) -> None:
    """A cron run that starts just after another ended must not be refused: the lock is
    released before the holder's connection closes, not when the server gets round to ending
    its backend (the fault suite's `build` after `build` was refused this way on a busy CI)."""
    key = lock.lock_key(lock.DBT_LOCK)
    with connection.connect(warehouse.conn) as other:
        refused = 0
        for _ in range(ROUNDS):
            with lock.command_lock(warehouse.conn, "build", lock.DBT_LOCK):
                held = other.execute("select pg_try_advisory_lock(%s)", (key,)).fetchone()[0]
                assert held is False  # held for the whole run
            took = other.execute("select pg_try_advisory_lock(%s)", (key,)).fetchone()[0]
            if took:
                other.execute("select pg_advisory_unlock(%s)", (key,))
            else:
                refused += 1
        assert refused == 0, f"{refused} of {ROUNDS} runs found the lock still held after the end"


def test_a_second_holder_is_refused_with_who_holds_it(warehouse: Warehouse) -> None:
    with (
        lock.command_lock(warehouse.conn, "hourly", lock.DBT_LOCK),
        pytest.raises(lock.AlreadyRunning) as refused,
        lock.command_lock(warehouse.conn, "build", lock.DBT_LOCK),
    ):
        pytest.fail("a second holder ran")
    assert str(refused.value).startswith("another `ytempire hourly` is running (pid ")
    assert str(refused.value).endswith("UTC): not starting a second one.")
    with lock.command_lock(warehouse.conn, "build", lock.DBT_LOCK):
        pass  # free again once the first has ended
