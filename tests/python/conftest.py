"""Shared fixtures: real PostgreSQL servers, fresh databases, and dbt runs against them.

`pg_server` is parametrised: the embedded PostgreSQL 18 (always, started in a temporary data
dir for this test session and stopped after) and the system PostgreSQL on 127.0.0.1:5432
(when reachable; skipped otherwise, or with YTEMPIRE_TEST_SYSTEM_PG=0). Tests that take a
`warehouse` therefore run on both servers.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from orchestrator import dbt_invoke, embedded
from orchestrator.connection import Connection, connect

# The helper modules the tests import assert too: rewrite their asserts (pytest's detailed
# failure messages), and before any test module imports them.
pytest.register_assert_rewrite(
    "marts_oracle", "marts_oracle_core", "marts_oracle_finance", "notify_fixtures",
    "notify_servers", "simulated_day",
)  # fmt: skip

# pytest-xdist's workers run as `python -c ...`: their __main__ has neither __file__ nor
# __spec__, which pyspark 4 (the `spark` extra) takes for a doctest run. Imported by
# great-expectations inside `ytempire morning` / `quality`, pyspark.sql.connect then calls
# sys.exit(0) when pyarrow is missing ("Skipping doctests"): the command stops silently with
# exit code 0 under CliRunner. The `ytempire` script's __main__ has a file; so does a worker's.
_main = sys.modules["__main__"]
if getattr(_main, "__spec__", None) is None and not hasattr(_main, "__file__"):
    _main.__file__ = "<pytest-xdist worker>"

PROJECT_DIR = Path(__file__).resolve().parents[2]
SYSTEM_PG = {
    "host": os.environ.get("YTEMPIRE_TEST_SYSTEM_PGHOST", "127.0.0.1"),
    "port": int(os.environ.get("YTEMPIRE_TEST_SYSTEM_PGPORT", "5432")),
    "user": os.environ.get("YTEMPIRE_TEST_SYSTEM_PGUSER", "postgres"),
}


class DatabaseNames:
    """Test databases are named by slot, `ytempire_test_<pid>_<server>_<n>`, the lowest free slot
    first, and a dropped database frees its slot. A module's databases therefore have the names
    the previous module's had, and the dbt parse this process keeps per connection settings
    (orchestrator.dbt_inprocess) serves it too: one parse per slot, not one per database."""

    def __init__(self) -> None:
        self.taken: dict[str, set[int]] = {}

    def take(self, server: str) -> str:
        taken = self.taken.setdefault(server, set())
        slot = next(n for n in itertools.count(1) if n not in taken)
        taken.add(slot)
        return f"ytempire_test_{os.getpid()}_{server}_{slot}"

    def free(self, server: str, name: str) -> None:
        self.taken[server].discard(int(name.rsplit("_", 1)[1]))


_database_names = DatabaseNames()


@dataclass
class Warehouse:
    """One fresh database on one server, with dbt pointed at it (own target path)."""

    conn: Connection
    target_path: Path
    server: str

    def dbt(self, *args: str, dbt_vars: dict[str, Any] | None = None) -> dbt_invoke.DbtInvocation:
        return dbt_invoke.run(
            list(args),
            self.conn,
            dbt_vars=dbt_vars,
            target_path=self.target_path,
            project_dir=PROJECT_DIR,
        )

    def query(self, statement: str, params: Any = None) -> list[tuple]:
        with connect(self.conn) as db:
            return db.execute(statement, params).fetchall()

    def query_dicts(self, statement: str, params: Any = None) -> list[dict[str, Any]]:
        with connect(self.conn) as db, db.cursor(row_factory=psycopg.rows.dict_row) as cur:
            return cur.execute(statement, params).fetchall()

    def execute(self, statement: str, params: Any = None) -> None:
        with connect(self.conn) as db:
            db.execute(statement, params)

    def artifact(self, name: str) -> dict[str, Any]:
        return json.loads((self.target_path / name).read_text())


def _system_pg_reachable() -> bool:
    if os.environ.get("YTEMPIRE_TEST_SYSTEM_PG", "1") == "0":
        return False
    try:
        with psycopg.connect(
            host=SYSTEM_PG["host"],
            port=SYSTEM_PG["port"],
            user=SYSTEM_PG["user"],
            dbname="postgres",
            connect_timeout=3,
        ):
            return True
    except psycopg.Error:
        return False


@pytest.fixture(scope="session")
def embedded_server() -> Iterator[Connection]:
    """A private embedded PostgreSQL for this test session (stopped and removed afterwards)."""
    workdir = Path(tempfile.mkdtemp(prefix="ytempire-test-"))
    pgdata = workdir / "pgdata"
    conn = embedded.up(pgdata=pgdata, dbname="postgres")
    try:
        yield conn
    finally:
        try:
            embedded.down(pgdata=pgdata)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(
    scope="session",
    params=["embedded", pytest.param("system", marks=pytest.mark.system_pg)],
)
def pg_server(request: pytest.FixtureRequest) -> Connection:
    """A server connection (database `postgres`): the embedded one, then the system one."""
    if request.param == "embedded":
        return request.getfixturevalue("embedded_server")
    return system_server()


@contextlib.contextmanager
def warehouse_factory(
    server: Connection, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[str], Warehouse]]:
    """Factory of new empty databases (with the extensions the project uses) on `server`,
    dropped when the context ends."""
    created: list[Connection] = []
    server_name = "embedded" if server.embedded else "system"

    def make(label: str = "db") -> Warehouse:
        name = _database_names.take(server_name)
        with connect(server) as db:
            db.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
            )
            db.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        conn = server.with_database(name)
        created.append(conn)
        with connect(conn) as db:
            for extension in ("pg_stat_statements", "pgstattuple"):
                # the system server may lack contrib; the diagnostics tests check for it
                with contextlib.suppress(psycopg.Error):
                    db.execute(f"create extension if not exists {extension}")
        target = tmp_path_factory.mktemp(f"target-{label}-{name}")
        return Warehouse(conn=conn, target_path=target, server=server_name)

    try:
        yield make
    finally:
        with connect(server) as db:
            for conn in created:
                db.execute(
                    sql.SQL("drop database if exists {} with (force)").format(
                        sql.Identifier(conn.dbname)
                    )
                )
                _database_names.free(server_name, conn.dbname)


def system_server() -> Connection:
    """The system PostgreSQL (database `postgres`), or a skip when it is not reachable."""
    if not _system_pg_reachable():
        pytest.skip("system PostgreSQL on 127.0.0.1:5432 is not reachable")
    return Connection(dbname="postgres", embedded=False, password=None, **SYSTEM_PG)


@pytest.fixture(scope="module")
def new_warehouse(
    pg_server: Connection, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[str], Warehouse]]:
    """Factory: a new empty database (with the extensions the project uses) on `pg_server`,
    dropped when the module's tests on that server are done."""
    with warehouse_factory(pg_server, tmp_path_factory) as make:
        yield make


@pytest.fixture
def warehouse(new_warehouse: Callable[[str], Warehouse]) -> Warehouse:
    """A fresh, empty database for one test."""
    return new_warehouse("t")
