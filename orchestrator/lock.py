"""The advisory lock a command holds for its whole run: a second copy exits at once, saying who
runs. Every command that runs dbt shares one lock (`DBT_LOCK`): two dbt builds on one database
and target folder would trip over each other."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC

import psycopg

from orchestrator import connection
from orchestrator.errors import YtempireError


class AlreadyRunning(YtempireError):
    """Another copy of the same command holds its advisory lock."""


DBT_LOCK = "dbt"  # every command that runs dbt (build and the playbooks) shares one lock


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory lock key."""
    digest = hashlib.sha256(f"ytempire:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def command_lock(
    conn: connection.Connection, command: str, lock: str | None = None
) -> Iterator[None]:
    """Hold `pg_try_advisory_lock` on a dedicated connection for the whole run.

    `lock` defaults to the command's own name; the commands that run dbt share DBT_LOCK (two
    dbt builds on one database and target folder would trip over each other). The holder's
    connection is named "ytempire <command> (pid N)", which the refusal message quotes.
    """
    key = lock_key(lock or command)
    tagged = f"ytempire {command} (pid {os.getpid()})"
    try:
        holder = psycopg.connect(conn.conninfo(), autocommit=True, application_name=tagged)
    except psycopg.OperationalError:
        with connection.connect(conn):  # raises the one-sentence DatabaseUnavailable
            pass
        raise
    acquired = False
    try:
        acquired = holder.execute("select pg_try_advisory_lock(%s)", (key,)).fetchone()[0]
        if not acquired:
            raise AlreadyRunning(who_holds(holder, key, command))
        yield
    finally:
        if acquired and not holder.closed:
            # Unlock before closing: the server ends a closed connection's backend, and frees
            # its locks, only some time after the client has gone, so a command started right
            # after this one could still find the lock held and refuse to run.
            # If the connection is gone, the server frees the lock with the backend.
            with suppress(psycopg.Error):
                holder.execute("select pg_advisory_unlock(%s)", (key,))
        holder.close()


def who_holds(db: psycopg.Connection, key: int, command: str) -> str:
    unsigned = key & 0xFFFFFFFFFFFFFFFF
    row = db.execute(
        """
        select activity.application_name, activity.pid, activity.backend_start
        from pg_locks as locks
        inner join pg_stat_activity as activity on activity.pid = locks.pid
        where locks.locktype = 'advisory' and locks.granted
          and locks.database = (select oid from pg_database where datname = current_database())
          and locks.classid = %s and locks.objid = %s and locks.objsubid = 1
        limit 1
        """,
        ((unsigned >> 32) & 0xFFFFFFFF, unsigned & 0xFFFFFFFF),
    ).fetchone()
    if row is None:
        return f"another `ytempire {command}` is running: try again when it has finished."
    name, backend_pid, since = row
    holder, pid = command, f"backend {backend_pid}"
    if (name or "").startswith("ytempire ") and " (pid " in name:
        holder, _, rest = name.removeprefix("ytempire ").partition(" (pid ")
        pid = rest.rstrip(")")
    return (
        f"another `ytempire {holder}` is running (pid {pid}, since "
        f"{since.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC): not starting a second one."
    )
