"""Least privilege on both servers: `ytempire db roles`, then the writer loads raw and runs the
wrapper's build, and each role is connected as itself (LOGIN roles with random passwords).

Per server, built once: a database whose raw schema the superuser loaded (as before the roles
existed), `db roles` (run 1), `ytempire generate` and `ytempire build` as the writer; then the
reader's default privileges are taken away for a moment, a table created by hand and `dim_date`
rebuilt by dbt (so what the reader can read then comes from dbt's `+grants` alone), and
`db roles` repairs exactly that (run 2) and then has nothing to do (run 3 and a dry run).
Roles are cluster-wide: they may exist from an earlier run, and are never dropped here.
Also: the embedded server opens no TCP port and asks for SCRAM on pg_hba's host lines, and
PGSSLMODE reaches psycopg and dbt.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import psutil
import psycopg
import pytest
from click.testing import CliRunner, Result
from conftest import PROJECT_DIR, Warehouse, system_server
from psycopg import sql

from orchestrator import connection, dbt_invoke, embedded, roles
from orchestrator.cli import main
from orchestrator.connection import Connection, connect
from orchestrator.errors import ConfigError, DatabaseUnavailable
from orchestrator.generate import generate

AS_OF = datetime(2026, 11, 15, 12, 7, tzinfo=UTC)
SCALE, DAYS = 0.02, 7
WRITER, READER = roles.DEFAULT_WRITER_ROLE, roles.DEFAULT_READER_ROLE
# one relation of each schema the reader must not read
CLOSED = {
    "raw": "videos",
    "staging": "stg_raw__videos",
    "ops": "run_log",
    "diagnostics": "pg_slow_queries",
}
RAW_TABLES = 10  # orchestrator/sql/raw_schema.sql
# run 1's lines about roles (cluster-wide: they depend on earlier runs on the server)
ROLE_LINE = re.compile(
    r"^(created role|set the password of role|enabled LOGIN and set the password of role"
    r"|granted pg_monitor to) "
)
NOTHING_CHANGED = (
    f"roles {WRITER} and {READER} and their privileges on database {{}} are already in place: "
    "nothing changed."
)


@dataclass
class RolesRun:
    server: str
    admin: Warehouse  # the superuser, on the database of this module
    writer: Connection
    reader: Connection
    passwords: tuple[str, str]
    first: Result
    build: Result
    rebuild: Result
    second: Result
    third: Result
    dry_run: Result
    reader_select_after_rebuild: dict[str, bool]
    writer_env: dict[str, str | None]

    @property
    def dbname(self) -> str:
        return self.admin.conn.dbname

    def outputs(self) -> list[str]:
        results = (self.first, self.build, self.rebuild, self.second, self.third, self.dry_run)
        return [text for result in results for text in (result.stdout, result.stderr)]


def cli_env(**values: str) -> dict[str, str | None]:
    """Nothing of this process' PG*/YTEMPIRE_*/DBT_* variables, only `values`."""
    env: dict[str, str | None] = {
        name: None for name in os.environ if name.startswith(("PG", "YTEMPIRE_", "DBT_"))
    }
    return env | values


def invoke(args: list[str], env: dict[str, str | None]) -> Result:
    result = CliRunner().invoke(main, args, env=env)
    assert "Traceback" not in result.output, result.output
    return result


def change_lines(result: Result) -> list[str]:
    return [line.strip() for line in result.stdout.splitlines() if line.startswith("  ")]


def reader_may_select(admin: Warehouse, relation: str) -> bool:
    return admin.query("select has_table_privilege(%s, %s, 'SELECT')", (READER, relation))[0][0]


@pytest.fixture(scope="module")
def roles_run(
    pg_server: Connection, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RolesRun]:
    server = "embedded" if pg_server.embedded else "system"
    # its own name (not conftest's slots): dbt's parse kept in this process is keyed on the
    # connection settings, and this module's parse carries the reader's grants
    name = f"ytempire_roles_{os.getpid()}_{server}"
    with connect(pg_server) as db:
        db.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        db.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    su = pg_server.with_database(name)
    with connect(su) as db:
        for extension in ("pg_stat_statements", "pgstattuple"):
            with contextlib.suppress(psycopg.Error):
                db.execute(f"create extension if not exists {extension}")
    state = tmp_path_factory.mktemp(f"roles-{server}")
    admin = Warehouse(conn=su, target_path=state / "target", server=server)
    passwords = (secrets.token_urlsafe(18), secrets.token_urlsafe(18))
    writer = replace(su, user=WRITER, password=passwords[0])
    reader = replace(su, user=READER, password=passwords[1])
    common = {
        "PGHOST": su.host,
        "PGPORT": str(su.port),
        "PGDATABASE": name,
        "YTEMPIRE_TARGET_PATH": str(admin.target_path),
        "YTEMPIRE_OUTAGE_FILE": str(state / "outage.json"),
        "YTEMPIRE_UNDELIVERED_FILE": str(state / "undelivered.jsonl"),
    }
    admin_env = cli_env(
        **common,
        PGUSER=su.user,
        YTEMPIRE_WRITER_PASSWORD=passwords[0],
        YTEMPIRE_READER_PASSWORD=passwords[1],
    )
    writer_env = cli_env(
        **common, PGUSER=WRITER, PGPASSWORD=passwords[0], YTEMPIRE_READER_ROLE=READER
    )
    build_args = ["--as-of", AS_OF.isoformat(), "--json"]
    try:
        generate(su, scale=SCALE, days=DAYS, as_of=AS_OF, seed=42)  # raw owned by postgres

        first = invoke(["db", "roles"], admin_env)

        generate(writer, scale=SCALE, days=DAYS, as_of=AS_OF, seed=42)
        build = invoke(["build", *build_args], writer_env)

        admin.execute(
            sql.SQL(
                "alter default privileges for role {} in schema analytics "
                "revoke select on tables from {}"
            ).format(sql.Identifier(WRITER), sql.Identifier(READER))
        )
        with connect(writer) as db:
            db.execute("create table analytics.roles_probe (id integer)")
        rebuild = invoke(["build", "-s", "dim_date", "--skip-freshness", *build_args], writer_env)
        after_rebuild = {
            relation: reader_may_select(admin, f"analytics.{relation}")
            for relation in ("dim_date", "roles_probe")
        }

        second = invoke(["db", "roles"], admin_env)
        third = invoke(["db", "roles"], admin_env)
        dry_run = invoke(["db", "roles", "--dry-run"], admin_env)
        yield RolesRun(
            server=server,
            admin=admin,
            writer=writer,
            reader=reader,
            passwords=passwords,
            first=first,
            build=build,
            rebuild=rebuild,
            second=second,
            third=third,
            dry_run=dry_run,
            reader_select_after_rebuild=after_rebuild,
            writer_env=writer_env,
        )
    finally:
        with connect(pg_server) as db:
            db.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
            )


# --- `ytempire db roles` ----------------------------------------------------------------------


def test_first_run_creates_what_is_missing(roles_run: RolesRun) -> None:
    """Run 1's database-level changes, exactly; the role lines depend on earlier runs."""
    first = roles_run.first
    assert first.exit_code == 0, first.output
    lines = change_lines(first)
    assert first.stdout.splitlines()[1] == f"{len(lines)} changes on database {roles_run.dbname}:"
    db = roles_run.dbname
    assert [line for line in lines if not ROLE_LINE.match(line)] == [
        f"granted CONNECT, TEMPORARY, CREATE on database {db} to {WRITER}",
        f"made {WRITER} the owner of schema raw (was postgres)",
        f"created schema staging owned by {WRITER}",
        f"created schema analytics owned by {WRITER}",
        f"made {WRITER} the owner of schema ops (was postgres)",
        f"created schema diagnostics owned by {WRITER}",
        f"made {WRITER} the owner of {RAW_TABLES + 1} relations (ops 1, raw {RAW_TABLES})",
        f"granted EXECUTE on pg_stat_statements_reset() to {WRITER}",
        f"granted CONNECT on database {db} to {READER}",
        f"granted USAGE on schema analytics to {READER}",
        f"default privileges: {READER} may SELECT every table and view {WRITER} creates in "
        "analytics",
    ]
    for role, variable in (
        (WRITER, roles.ENV_WRITER_PASSWORD),
        (READER, roles.ENV_READER_PASSWORD),
    ):
        # a new random password: the role is created, or its password set (LOGIN if it had not)
        assert (
            sum(
                line
                in (
                    f"created role {role} (LOGIN, password from {variable})",
                    f"set the password of role {role} (from {variable})",
                    f"enabled LOGIN and set the password of role {role} (from {variable})",
                )
                for line in lines
            )
            == 1
        ), lines
    assert any(line.startswith("next: ") for line in first.stdout.splitlines())


def test_repair_then_nothing_to_do(roles_run: RolesRun) -> None:
    """Run 2 restores what was taken away (nothing else); runs 3 and the dry run find nothing."""
    second = roles_run.second
    assert second.exit_code == 0, second.output
    assert second.stdout.splitlines()[1:4] == [
        f"2 changes on database {roles_run.dbname}:",
        f"  granted SELECT on 1 relations in analytics to {READER}",
        f"  default privileges: {READER} may SELECT every table and view {WRITER} creates in "
        "analytics",
    ]
    for result in (roles_run.third, roles_run.dry_run):
        assert result.exit_code == 0, result.output
        assert result.stdout.splitlines()[1:] == [NOTHING_CHANGED.format(roles_run.dbname)]
    assert reader_may_select(roles_run.admin, "analytics.roles_probe")


def test_db_roles_needs_a_superuser(roles_run: RolesRun) -> None:
    result = invoke(["db", "roles"], roles_run.writer_env)
    assert result.exit_code == 3
    assert result.stderr.strip() == (
        f"ytempire: {WRITER} is not a superuser: `ytempire db roles` creates roles, grants "
        "privileges and hands over ownership; run it with PGUSER set to a superuser (the "
        "embedded server's postgres is one)."
    )
    assert roles_run.passwords[0] not in result.output


def test_no_password_in_any_output(roles_run: RolesRun) -> None:
    text = "\n".join(roles_run.outputs())
    assert "changes on database" in text  # the outputs were captured
    for password in roles_run.passwords:
        assert password not in text


def test_password_reaches_the_server_as_a_scram_verifier(roles_run: RolesRun) -> None:
    stored = dict(
        roles_run.admin.query(
            "select rolname, rolpassword from pg_authid where rolname = any(%s)",
            ([WRITER, READER],),
        )
    )
    for role, password in zip((WRITER, READER), roles_run.passwords, strict=True):
        assert stored[role].startswith("SCRAM-SHA-256$4096:")
        assert roles.scram_matches(stored[role], password)
        assert not roles.scram_matches(stored[role], password + "x")
    # what a run sends for a password it has to set: a verifier, never the password itself
    fresh = roles.settings_from_env(
        {
            roles.ENV_WRITER_PASSWORD: secrets.token_urlsafe(18),
            roles.ENV_READER_PASSWORD: secrets.token_urlsafe(18),
        }
    )
    with connect(roles_run.admin.conn) as db:
        sent = [
            statement.as_string(db)
            for change in roles.plan(db, fresh)
            for statement in change.statements
        ]
    assert len(sent) == 2 and all(" with login password 'SCRAM-SHA-256$4096:" in s for s in sent)
    for role in (fresh.writer, fresh.reader):
        assert role.password and not any(role.password in statement for statement in sent)


def test_role_settings_come_from_the_environment() -> None:
    settings = roles.settings_from_env({})
    assert (settings.writer.name, settings.reader.name) == (WRITER, READER)
    assert settings.writer.password is None and settings.reader.password is None
    secret = secrets.token_urlsafe(12)
    custom = roles.settings_from_env(
        {
            "YTEMPIRE_WRITER_ROLE": "etl",
            "YTEMPIRE_READER_ROLE": "bi",
            "YTEMPIRE_READER_PASSWORD": secret,
        }
    )
    assert (custom.writer.name, custom.reader.name, custom.reader.password) == ("etl", "bi", secret)
    assert custom.writer.password is None and secret not in repr(custom)
    for bad in ({"YTEMPIRE_READER_ROLE": "Robert'); drop"}, {"YTEMPIRE_WRITER_ROLE": "pg_x"}):
        with pytest.raises(ConfigError, match="is not a usable role name"):
            roles.settings_from_env(bad)
    with pytest.raises(ConfigError, match="name the same role"):
        roles.settings_from_env({"YTEMPIRE_WRITER_ROLE": "same", "YTEMPIRE_READER_ROLE": "same"})


# --- the roles themselves ---------------------------------------------------------------------


def test_roles_are_unprivileged_login_roles(roles_run: RolesRun) -> None:
    rows = roles_run.admin.query_dicts(
        "select rolname, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, "
        "rolcanlogin from pg_roles where rolname = any(%s)",
        ([WRITER, READER],),
    )
    assert {row["rolname"] for row in rows} == {WRITER, READER}
    for row in rows:
        assert row["rolcanlogin"] is True
        assert not any(row[column] for column, _ in roles.UNPRIVILEGED), row
    member_of = dict(
        roles_run.admin.query(
            "select r.rolname, array(select g.rolname from pg_auth_members m "
            "join pg_roles g on g.oid = m.roleid where m.member = r.oid order by 1) "
            "from pg_roles r where r.rolname = any(%s)",
            ([WRITER, READER],),
        )
    )
    assert member_of[READER] == []
    assert "pg_monitor" in member_of[WRITER]


def test_the_writer_ran_the_whole_build(roles_run: RolesRun) -> None:
    """`ytempire build` as the writer: every node passed, the run was logged in ops."""
    for result in (roles_run.build, roles_run.rebuild):
        document = json.loads(result.stdout)
        assert (result.exit_code, document["exit_code"], document["error"]) == (0, 0, None)
        counts = document["counts"]
        assert counts["pass"] > 0
        assert {key: value for key, value in counts.items() if key != "pass"} == {
            "warn": 0,
            "fail": 0,
            "error": 0,
            "skipped": 0,
            "unknown": 0,
        }
    runs = roles_run.admin.query("select command, exit_code from ops.run_log order by run_id")
    assert runs == [("build", 0), ("build", 0)]
    (videos,) = roles_run.admin.query("select count(*) from analytics.fct_video_performance")[0]
    assert videos > 0


def test_the_writer_owns_every_schema_and_relation(roles_run: RolesRun) -> None:
    owners = dict(
        roles_run.admin.query(
            "select nspname, pg_get_userbyid(nspowner) from pg_namespace where nspname = any(%s)",
            (list(roles.WRITER_SCHEMAS),),
        )
    )
    assert owners == dict.fromkeys(roles.WRITER_SCHEMAS, WRITER)
    relations = roles_run.admin.query(
        "select n.nspname, c.relname, pg_get_userbyid(c.relowner) from pg_class c "
        "join pg_namespace n on n.oid = c.relnamespace where n.nspname = any(%s)",
        (list(roles.WRITER_SCHEMAS),),
    )
    assert {schema for schema, _, _ in relations} == set(roles.WRITER_SCHEMAS)
    assert [row for row in relations if row[2] != WRITER] == []


@pytest.mark.parametrize(
    "statement",
    ["create role ytempire_roles_intruder", "create database ytempire_roles_intruder"],
)
def test_the_writer_cannot_administer_the_server(roles_run: RolesRun, statement: str) -> None:
    with connect(roles_run.writer) as db, pytest.raises(psycopg.errors.InsufficientPrivilege):
        db.execute(statement)


# --- what the reader may and may not do ----------------------------------------------------


def test_the_reader_reads_every_mart(roles_run: RolesRun) -> None:
    relations = roles_run.admin.query(
        "select c.relname, c.relkind from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = 'analytics' and c.relkind in ('r', 'p', 'v', 'm') order by 1"
    )
    assert {"fct_video_performance", "dim_date", "data_freshness"} <= {r for r, _ in relations}
    with connect(roles_run.reader) as db:
        (user,) = db.execute("select current_user").fetchone()
        assert user == READER
        for relation, kind in relations:
            query = sql.SQL("select count(*) from {}").format(sql.Identifier("analytics", relation))
            (count,) = db.execute(query).fetchone()
            if kind in ("r", "p"):  # views may read the session (connections, as_of)
                assert count == roles_run.admin.query(query)[0][0], relation
    (videos,) = roles_run.admin.query("select count(*) from analytics.fct_video_performance")[0]
    assert videos > 0


@pytest.mark.parametrize("schema", sorted(CLOSED))
def test_the_reader_is_refused_outside_analytics(roles_run: RolesRun, schema: str) -> None:
    relation = sql.Identifier(schema, CLOSED[schema])
    assert roles_run.admin.query(sql.SQL("select count(*) >= 0 from {}").format(relation))
    with connect(roles_run.reader) as db:
        with pytest.raises(
            psycopg.errors.InsufficientPrivilege, match=f"permission denied for schema {schema}"
        ):
            db.execute(sql.SQL("select * from {} limit 1").format(relation))
        assert db.execute("select has_schema_privilege(%s, 'USAGE')", (schema,)).fetchone() == (
            False,
        )


@pytest.mark.parametrize(
    ("statement", "refusal"),
    [
        (
            "insert into analytics.dim_date select * from analytics.dim_date limit 0",
            "table dim_date",
        ),
        ("delete from analytics.fct_costs", "table fct_costs"),
        ("truncate analytics.dim_date", "table dim_date"),
        ("create table analytics.reader_table (id integer)", "schema analytics"),
        ("create schema reader_schema", "database"),
    ],
)
def test_the_reader_cannot_write(roles_run: RolesRun, statement: str, refusal: str) -> None:
    with (
        connect(roles_run.reader) as db,
        pytest.raises(
            psycopg.errors.InsufficientPrivilege, match=f"permission denied for {refusal}"
        ),
    ):
        db.execute(statement)


def test_dbt_grants_select_on_the_marts(roles_run: RolesRun) -> None:
    """With the default privileges gone, the mart dbt rebuilt is readable (dbt's +grants) and a
    table made by hand is not; staging and diagnostics nodes carry no grants."""
    assert roles_run.reader_select_after_rebuild == {"dim_date": True, "roles_probe": False}
    manifest = json.loads((roles_run.admin.target_path / "manifest.json").read_text())
    grants = {
        node["name"]: node["config"].get("grants")
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model"
    }
    assert grants["dim_date"] == grants["fct_costs"] == {"select": [READER]}
    assert grants["stg_raw__videos"] == grants["pg_slow_queries"] == {}


# --- the embedded server: no TCP, and SCRAM if it ever had it ----------------------------------


def test_embedded_server_opens_no_tcp_port(embedded_server: Connection) -> None:
    with connect(embedded_server) as db:
        assert db.execute("show listen_addresses").fetchone() == ("",)
        (data_directory,) = db.execute("show data_directory").fetchone()
        persisted = db.execute(
            "select setting from pg_file_settings where name = 'listen_addresses' "
            "and sourcefile like '%postgresql.auto.conf'"
        ).fetchall()
    assert persisted == [("",)]  # a hand-run `pg_ctl start` listens on no address either
    state = embedded.status(pgdata=Path(data_directory))
    assert state.running and state.pid
    postmaster = psutil.Process(state.pid)
    assert postmaster.net_connections(kind="inet") == []
    sockets = postmaster.net_connections(kind="unix")
    assert [Path(s.laddr).name for s in sockets] == [".s.PGSQL.5432"]


def test_embedded_host_lines_ask_for_scram(embedded_server: Connection) -> None:
    with connect(embedded_server) as db:
        rules = db.execute("select type, auth_method from pg_hba_file_rules").fetchall()
    host = [method for kind, method in rules if kind.startswith("host")]
    assert host and set(host) == {"scram-sha-256"}
    assert {method for kind, method in rules if kind == "local"} == {"trust"}


def test_auth_method_rewrite_touches_only_the_method() -> None:
    assert (
        embedded._with_auth_method("host  all  trust  127.0.0.1/32  trust  # trust me\n", "trust")
        == "host  all  trust  127.0.0.1/32  scram-sha-256  # trust me\n"
    )
    assert embedded._with_auth_method("# host all all ::1/128 trust\n", "trust") == (
        "# host all all ::1/128 trust\n"
    )


# --- PGSSLMODE ---------------------------------------------------------------------------------


def test_pgsslmode_is_read_and_checked() -> None:
    conn = connection.configured_from_env({"PGHOST": "db.internal", "PGSSLMODE": "verify-full"})
    assert conn is not None and conn.sslmode == "verify-full"
    assert conn.env()["PGSSLMODE"] == "verify-full"
    assert "sslmode=verify-full" in conn.conninfo()
    assert conn.url().endswith("?sslmode=verify-full")
    assert conn.with_database("other").sslmode == "verify-full"
    unset = connection.configured_from_env({"PGHOST": "db.internal"})
    assert unset is not None and unset.sslmode is None and "PGSSLMODE" not in unset.env()
    with pytest.raises(ConfigError, match="PGSSLMODE is not an sslmode") as refused:
        connection.configured_from_env({"PGHOST": "db.internal", "PGSSLMODE": "requir3"})
    assert "requir3" not in str(refused.value)


@pytest.mark.system_pg
def test_pgsslmode_reaches_psycopg_and_dbt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Against the TCP server: `require` on a server without SSL is refused (and used when it
    has SSL), by the wrapper's connection and by dbt with profiles.yml.example's profile."""
    server = system_server()
    with connect(replace(server, sslmode="disable")) as db:
        assert db.execute(
            "select ssl from pg_stat_ssl where pid = pg_backend_pid()"
        ).fetchone() == (False,)
        (ssl_on,) = db.execute("select current_setting('ssl') = 'on'").fetchone()
    required = replace(server, sslmode="require")
    shutil.copy(PROJECT_DIR / "profiles.yml.example", tmp_path / "profiles.yml")
    monkeypatch.setenv("DBT_PROFILES_DIR", str(tmp_path))
    monkeypatch.delenv("PGSSLMODE", raising=False)

    def dbt_debug(conn: Connection) -> dbt_invoke.DbtInvocation:
        return dbt_invoke.run(
            ["debug", "--connection"],
            conn,
            target_path=tmp_path / "target",
            project_dir=PROJECT_DIR,
        )

    default = dbt_debug(server)
    assert default.returncode == 0 and "sslmode: prefer" in default.stdout
    debug = dbt_debug(required)
    assert "sslmode: require" in debug.stdout
    if ssl_on:
        with connect(required) as db:
            assert db.execute(
                "select ssl from pg_stat_ssl where pid = pg_backend_pid()"
            ).fetchone() == (True,)
        assert debug.returncode == 0
    else:
        with pytest.raises(DatabaseUnavailable, match="SSL"), connect(required):
            pass
        assert debug.returncode != 0 and "server does not support SSL" in debug.stdout
