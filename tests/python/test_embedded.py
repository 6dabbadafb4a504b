"""The embedded default database and the connection settings."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from orchestrator import connection, database
from orchestrator.cli import main
from orchestrator.connection import Connection, connect
from orchestrator.errors import ConfigError, DatabaseUnavailable


def test_embedded_server_preloads_pg_stat_statements(embedded_server: Connection) -> None:
    with connect(embedded_server) as db:
        preload = db.execute("show shared_preload_libraries").fetchone()[0]
        extensions = {row[0] for row in db.execute("select extname from pg_extension")}
        version = db.execute("show server_version_num").fetchone()[0]
    assert "pg_stat_statements" in preload
    assert {"pg_stat_statements", "pgstattuple"} <= extensions
    assert int(version) >= 180000


def test_pg_variables_win_over_the_embedded_default() -> None:
    env = {
        "PGHOST": "db.internal",
        "PGPORT": "6543",
        "PGUSER": "analyst",
        "PGPASSWORD": "s3cret",
        "PGDATABASE": "warehouse",
    }
    conn = connection.configured_from_env(env)
    assert conn is not None
    assert (conn.host, conn.port, conn.user, conn.dbname) == (
        "db.internal",
        6543,
        "analyst",
        "warehouse",
    )
    assert "s3cret" not in conn.url() and "s3cret" not in conn.describe()
    assert connection.configured_from_env({}) is None


def test_bad_port_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="PGPORT"):
        connection.configured_from_env({"PGHOST": "x", "PGPORT": "five"})


def test_unreachable_configured_server_is_one_clear_sentence(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PGHOST", "127.0.0.1")
    monkeypatch.setenv("PGPORT", "1")  # nothing listens on port 1
    result = CliRunner().invoke(main, ["db", "up"])
    assert result.exit_code == 3
    assert "Cannot reach PostgreSQL at postgresql://" in result.output
    assert "Traceback" not in result.output
    with pytest.raises(DatabaseUnavailable), connect(database.resolve()):
        pass


def test_db_url_and_env_follow_pg_variables(
    monkeypatch: pytest.MonkeyPatch, embedded_server: Connection
) -> None:
    for name, value in embedded_server.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PGPASSWORD", "never-printed")
    runner = CliRunner()
    url = runner.invoke(main, ["db", "url"])
    assert url.exit_code == 0
    assert url.output.strip() == embedded_server.url()
    env = runner.invoke(main, ["db", "env"])
    assert f"export PGHOST={embedded_server.host}" in env.output
    assert "never-printed" not in env.output + url.output
