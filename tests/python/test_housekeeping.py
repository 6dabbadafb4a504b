"""The end-of-day and weekly file steps (orchestrator.housekeeping) and `ytempire restore`, for
real: pg_dump and pg_restore against both servers, gzip and tar on real files.

One source database per server (module scope) holds the critical tables, made by plain SQL
with rows generated here; the expectations (row counts, an md5 of each table's rows in order)
are computed from the source with SQL, independently of the dump. The backup is restored into a
fresh database through the CLI and compared table by table. Log and archive retention run on
files whose mtimes and dated names the tests set.
"""

from __future__ import annotations

import gzip
import json
import os
import tarfile
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import PROJECT_DIR, Warehouse, system_server, warehouse_factory
from psycopg import sql

from orchestrator import alerts_store, housekeeping
from orchestrator.cli import main
from orchestrator.connection import Connection, connect
from orchestrator.errors import ConfigError, DatabaseUnavailable
from orchestrator.housekeeping import HousekeepingError, HousekeepingSettings

DAY = date(2026, 11, 15)
NOW = datetime(2026, 11, 15, 12, 0, tzinfo=UTC)
DAY_S = 86_400
ROWS = {  # table -> rows generated below
    "analytics.fct_video_performance": 240,
    "analytics.fct_revenue": 60,
    "analytics.fct_costs": 90,
    "ops.alerts_log": 3,
}
SOURCE_SQL = """
create schema analytics;
create table analytics.fct_video_performance (
    video_id text not null, hour_at timestamptz not null, views bigint, views_delta bigint,
    engagement_rate numeric(10, 4), title text, primary key (video_id, hour_at)
);
insert into analytics.fct_video_performance
select 'v' || (g % 12), timestamptz '2026-11-01 00:00+00' + g * interval '1 hour', g * 37,
       case when g % 7 = 0 then null else g % 50 end, round((g % 97) / 13.0, 4),
       case when g % 5 = 0 then 'vidéo ' || g || E' \t"quoted"' else null end
from generate_series(1, 240) g;
create table analytics.fct_revenue (
    video_id text, revenue_date date, estimated_cents bigint, actual_cents bigint
);
insert into analytics.fct_revenue
select 'v' || (g % 12), date '2026-10-01' + g, g * 113,
       case when g % 4 = 0 then null else g * 97 end
from generate_series(1, 60) g;
create table analytics.fct_costs (
    cost_id bigint primary key, video_id text, category text, amount_cents bigint,
    incurred_at timestamptz
);
insert into analytics.fct_costs
select g, 'v' || (g % 12), (array['llm', 'voice', 'render'])[1 + g % 3], 100 + g * 3,
       timestamptz '2026-11-01 00:00+00' + g * interval '37 minutes'
from generate_series(1, 90) g;
"""
ALERTS_SQL = """
insert into ops.alerts_log (dedup_key, alert_type, escalation, severity, level, owner, action,
    sla_minutes, message, extra, notified_channels, opened_at, level_since, last_seen_at)
select 'key-' || g, 'COST_PER_VIDEO', 'cost_overruns', 'warning', 1 + g % 3, 'analyst',
       'look', 30 * g, 'cost ' || g, jsonb_build_object('n', g), array['slack_warning'],
       now(), now(), now()
from generate_series(1, 3) g;
"""


# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def source(new_warehouse) -> Warehouse:
    """The critical tables with known rows (ops.alerts_log from the wrapper's own DDL)."""
    warehouse = new_warehouse("housekeeping")
    warehouse.execute(SOURCE_SQL)
    warehouse.execute(alerts_store.DDL)
    warehouse.execute(ALERTS_SQL)
    return warehouse


def dated(dbname: str, yyyymmdd: str) -> str:
    return f"ytempire_{dbname}_{yyyymmdd}.dump"


@pytest.fixture(scope="module")
def backup(source: Warehouse, tmp_path_factory: pytest.TempPathFactory):
    """The backup of DAY, into a folder that already holds older backups and other files."""
    folder = tmp_path_factory.mktemp("backups")
    db = source.conn.dbname
    expired = [dated(db, "20261031"), dated(db, "20260101")]  # 15 and 318 days before DAY
    others = [
        dated(db, "20261101"),  # 14 days: kept
        dated(db, "20261114"),
        dated(db, "20261301"),  # not a date
        "ytempire_otherdb_20260101.dump",  # another database's
        dated(db, "20260101") + ".bak",
        "notes.txt",
    ]
    for name in [*expired, *others]:
        (folder / name).write_bytes(b"old")
    (folder / dated(db, "20261115")).write_bytes(b"an earlier run of the same day")
    result = housekeeping.backup_critical_tables(source.conn, folder, DAY, 14)
    return {"result": result, "folder": folder, "expired": expired, "others": others}


def checksums(conn: Connection, tables: list[str]) -> dict[str, tuple[int, str]]:
    """(rows, md5 of the rows' text in order) per table."""
    found = {}
    with connect(conn) as db:
        for name in tables:
            schema, table = name.split(".")
            ident = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table))
            found[name] = db.execute(
                sql.SQL(
                    "select count(*), md5(coalesce(string_agg(t::text, E'\\n' order by t::text),"
                    " '')) from {} t"
                ).format(ident)
            ).fetchone()
    return found


def cli_env(conn: Connection) -> dict[str, str | None]:
    env: dict[str, str | None] = {
        name: None for name in os.environ if name.startswith(("PG", "YTEMPIRE_"))
    }
    return env | conn.env()


def restore_cli(conn: Connection, *args: str) -> Result:
    result = CliRunner().invoke(main, ["restore", *args], env=cli_env(conn))
    assert "Traceback" not in result.output, result.output
    return result


def drop(server: Connection, name: str) -> None:
    with connect(server) as db:
        db.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


@pytest.fixture(scope="module")
def restored(source: Warehouse, backup, pg_server: Connection) -> Iterator[dict]:
    """The backup restored by `ytempire restore --json` into a new database."""
    name = f"{source.conn.dbname}_restored"
    drop(pg_server, name)
    result = restore_cli(source.conn, str(backup["result"].path), "--database", name, "--json")
    try:
        yield {"name": name, "cli": result, "conn": source.conn.with_database(name)}
    finally:
        drop(pg_server, name)


# -- backup ----------------------------------------------------------------------------------


def test_backup_holds_every_critical_table_with_its_rows(source: Warehouse, backup) -> None:
    result = backup["result"]
    assert result.path == backup["folder"] / dated(source.conn.dbname, "20261115")
    assert result.tables == ROWS
    assert {name: rows for name, (rows, _) in checksums(source.conn, list(ROWS)).items()} == ROWS
    assert result.missing == ()
    assert result.bytes == result.path.stat().st_size > 1000
    assert result.path.read_bytes()[:5] == b"PGDMP"  # custom format, not the earlier file
    assert json.loads(json.dumps(result.summary()))["tables"] == ROWS
    assert not [p for p in backup["folder"].iterdir() if p.name.endswith(".tmp")]


def test_backup_uses_the_pg_dump_of_the_server_major(source: Warehouse, backup) -> None:
    [(version_num,)] = source.query("select current_setting('server_version_num')::int")
    assert backup["result"].pg_dump.startswith(f"pg_dump {version_num // 10_000}.")


def test_retention_deletes_exactly_the_older_dated_backups(source: Warehouse, backup) -> None:
    folder = backup["folder"]
    assert sorted(p.name for p in backup["result"].deleted) == sorted(backup["expired"])
    left = sorted(p.name for p in folder.iterdir())
    assert left == sorted([*backup["others"], dated(source.conn.dbname, "20261115")])
    assert all((folder / name).read_bytes() == b"old" for name in backup["others"])


def test_missing_tables_are_reported_not_fatal(source: Warehouse, tmp_path: Path) -> None:
    tables = ("analytics.fct_revenue", "analytics.no_such_table")
    result = housekeeping.backup_critical_tables(source.conn, tmp_path, DAY, 14, tables)
    assert result.tables == {"analytics.fct_revenue": ROWS["analytics.fct_revenue"]}
    assert result.missing == ("analytics.no_such_table",)


def test_no_existing_table_is_an_error_and_no_file(source: Warehouse, tmp_path: Path) -> None:
    with pytest.raises(HousekeepingError, match=r"analytics\.nope"):
        housekeeping.backup_critical_tables(source.conn, tmp_path, DAY, 14, ["analytics.nope"])
    assert list(tmp_path.iterdir()) == []


def test_a_failed_pg_dump_leaves_no_file(source: Warehouse, tmp_path: Path) -> None:
    """pg_dump itself fails: a table held in ACCESS EXCLUSIVE mode past the lock wait."""
    with connect(source.conn, autocommit=False) as holder:
        holder.execute("lock table analytics.fct_costs in access exclusive mode")
        with pytest.raises(
            HousekeepingError, match=r"pg_dump failed .*canceling statement due to .* timeout"
        ) as caught:
            housekeeping.backup_critical_tables(
                source.conn, tmp_path, DAY, 14, lock_wait_seconds=0.3
            )
        holder.rollback()
    assert "\n" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_an_unreachable_database_leaves_no_file(source: Warehouse, tmp_path: Path) -> None:
    absent = source.conn.with_database(f"{source.conn.dbname}_absent")
    with pytest.raises(DatabaseUnavailable):
        housekeeping.backup_critical_tables(absent, tmp_path, DAY, 14)
    assert list(tmp_path.iterdir()) == []


def test_no_client_of_a_far_future_major() -> None:
    with pytest.raises(HousekeepingError, match="No pg_dump of PostgreSQL 99 or later"):
        housekeeping.pick_tool("pg_dump", 99, 99)


# -- restore ---------------------------------------------------------------------------------


def test_restore_cli_reproduces_every_table(source: Warehouse, restored) -> None:
    cli = restored["cli"]
    assert cli.exit_code == 0, cli.output
    document = json.loads(cli.stdout)
    assert (document["command"], document["database"], document["created"]) == (
        "restore",
        restored["name"],
        True,
    )
    assert document["tables"] == ROWS
    assert checksums(restored["conn"], list(ROWS)) == checksums(source.conn, list(ROWS))


def test_restored_sequence_continues_after_the_restored_rows(restored) -> None:
    with connect(restored["conn"]) as db:
        nextval = db.execute("select nextval('ops.alerts_log_alert_id_seq')").fetchone()[0]
    assert nextval == ROWS["ops.alerts_log"] + 1


def test_restore_refuses_a_database_that_holds_tables(source: Warehouse, backup, restored):
    before = checksums(restored["conn"], list(ROWS))
    result = restore_cli(source.conn, str(backup["result"].path), "--database", restored["name"])
    assert result.exit_code == 3
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(f"ytempire: Database {restored['name']} already holds 4 table(s)")
    assert checksums(restored["conn"], list(ROWS)) == before


@pytest.mark.parametrize(
    ("database", "mention"),
    [
        ("bad-name; drop", "is not a plain database name"),
        ("template1", "template database"),
    ],
)
def test_restore_refuses_bad_names(source: Warehouse, backup, database: str, mention: str):
    result = restore_cli(source.conn, str(backup["result"].path), "--database", database)
    assert result.exit_code == 3
    assert result.stderr.startswith("ytempire: ") and mention in result.stderr


def test_restore_refuses_the_database_in_use(source: Warehouse, backup) -> None:
    with pytest.raises(HousekeepingError, match="is the database this connection uses"):
        housekeeping.restore_backup(source.conn, backup["result"].path, source.conn.dbname)
    assert (
        checksums(source.conn, list(ROWS))["analytics.fct_costs"][0] == ROWS["analytics.fct_costs"]
    )


def test_restore_without_create_refuses_an_absent_database(source: Warehouse, backup) -> None:
    name = f"{source.conn.dbname}_never"
    with pytest.raises(HousekeepingError, match="does not exist"):
        housekeeping.restore_backup(source.conn, backup["result"].path, name, create=False)


def test_restore_refuses_a_file_that_is_no_archive(source: Warehouse, tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.dump"
    bogus.write_text("not a dump")
    result = restore_cli(source.conn, str(bogus), "--database", f"{source.conn.dbname}_bogus")
    assert result.exit_code == 3
    assert result.stderr.startswith("ytempire: pg_restore failed to read ")
    with connect(source.conn) as db:  # refused before any database was created
        exists = db.execute(
            "select 1 from pg_database where datname = %s", (f"{source.conn.dbname}_bogus",)
        ).fetchone()
    assert exists is None


def test_a_failed_restore_drops_the_database_it_created(
    source: Warehouse, pg_server: Connection, tmp_path: Path
) -> None:
    """A --table dump has no types of its own: a column of a domain cannot be restored."""
    source.execute(
        "create domain analytics.cents as bigint check (value >= 0);"
        "create table analytics.priced (amount analytics.cents);"
        "insert into analytics.priced values (5)"
    )
    try:
        archive = housekeeping.backup_critical_tables(
            source.conn, tmp_path, DAY, 14, ["analytics.priced"]
        ).path
    finally:
        source.execute("drop table analytics.priced; drop domain analytics.cents")
    name = f"{source.conn.dbname}_failed"
    with pytest.raises(HousekeepingError, match=r"failed on .*cents.* does not exist"):
        housekeeping.restore_backup(source.conn, archive, name)
    with connect(pg_server) as db:
        left = db.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
    assert left is None


@pytest.mark.system_pg
def test_a_pg18_backup_restores_into_pg15_with_the_cli(
    embedded_server: Connection, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    """pg_restore 18 sets transaction_timeout, which PostgreSQL 15 does not know: the archive
    goes through the filtered script. The text output lists every table and its rows."""
    system = system_server()
    with connect(system) as db:
        if db.info.server_version >= 170_000:
            pytest.skip("the system server is not older than PostgreSQL 17")
    with warehouse_factory(embedded_server, tmp_path_factory) as make:
        origin = make("cross")
        origin.execute(SOURCE_SQL)
        origin.execute(alerts_store.DDL)
        origin.execute(ALERTS_SQL)
        archive = housekeeping.backup_critical_tables(origin.conn, tmp_path, DAY, 14).path
        expected = checksums(origin.conn, list(ROWS))
    name = f"ytempire_test_{os.getpid()}_hk_cross"
    drop(system, name)
    try:
        result = restore_cli(system, str(archive), "--database", name)
        assert result.exit_code == 0, result.output
        lines = result.stdout.splitlines()
        assert lines[0].startswith(f"restored {archive} into PostgreSQL at ")
        assert "pg_restore 18." in lines[0]
        assert {tuple(line.split()) for line in lines[3:]} == {
            (table, str(rows)) for table, rows in ROWS.items()
        }
        assert checksums(system.with_database(name), list(ROWS)) == expected
    finally:
        drop(system, name)


# -- log rotation ----------------------------------------------------------------------------


def put(path: Path, content: bytes, age_days: float) -> Path:
    path.write_bytes(content)
    stamp = NOW.timestamp() - age_days * DAY_S
    os.utime(path, (stamp, stamp))
    return path


def gz_name(log: Path) -> str:
    return f"{log.name}.{datetime.fromtimestamp(log.stat().st_mtime):%Y%m%d}"


def test_rotation_compresses_and_deletes_exactly_the_old_files(tmp_path: Path) -> None:
    content = {name: os.urandom(50_000) + name.encode() * 1000 for name in ("old", "ancient")}
    old = put(tmp_path / "eod.log", content["old"], 10)
    ancient = put(tmp_path / "weekly.log", content["ancient"], 40)
    taken = put(tmp_path / "hourly.log", b"hourly lines\n" * 100, 12)
    previous = put(tmp_path / f"{gz_name(taken)}.gz", b"previous archive", 1)
    fresh = put(tmp_path / "morning.log", b"today\n", 2)
    expired = put(tmp_path / "eod.log.20261001.gz", b"x", 31)
    recent = put(tmp_path / "monthly.log.20261020.gz", b"y", 29)
    other = put(tmp_path / "notes.txt", b"keep me", 100)
    (tmp_path / "sub").mkdir()
    nested = put(tmp_path / "sub" / "deep.log", b"nested", 50)
    names = {log: gz_name(log) for log in (old, ancient, taken)}
    mtimes = {log: log.stat().st_mtime_ns for log in (old, ancient, taken)}
    original = {old: content["old"], ancient: content["ancient"], taken: taken.read_bytes()}

    result = housekeeping.rotate_logs(tmp_path, NOW, 7, 30)

    expected_gz = {
        old: tmp_path / f"{names[old]}.gz",
        ancient: tmp_path / f"{names[ancient]}.gz",
        taken: tmp_path / f"{names[taken]}-2.gz",  # the .gz of that name is not overwritten
    }
    assert dict(result.compressed) == expected_gz
    assert result.deleted == (expired,)
    assert previous.read_bytes() == b"previous archive"
    for log, gz in expected_gz.items():
        assert not log.exists()
        assert gzip.decompress(gz.read_bytes()) == original[log]
        assert gz.stat().st_mtime_ns == mtimes[log]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [p.name for p in (*expected_gz.values(), previous, fresh, recent, other)] + ["sub"]
    )
    assert set(result.kept) == {*expected_gz.values(), previous, fresh, recent}
    assert nested.read_bytes() == b"nested" and other.read_bytes() == b"keep me"
    assert json.loads(json.dumps(result.summary()))["compressed"] == 3

    again = housekeeping.rotate_logs(tmp_path, NOW, 7, 30)  # the 40-day-old log's .gz goes now
    assert (again.compressed, again.deleted) == ((), (expected_gz[ancient],))


def test_rotation_of_a_missing_folder_does_nothing(tmp_path: Path) -> None:
    result = housekeeping.rotate_logs(tmp_path / "none", NOW, 7, 30)
    assert (result.compressed, result.deleted, result.kept) == ((), (), ())
    assert not (tmp_path / "none").exists()


# -- configuration archive -------------------------------------------------------------------


def test_config_archive_holds_the_configuration_and_keeps_its_retention(tmp_path: Path):
    for name, keep in [
        ("config_20260801.tar.gz", False),  # 106 days before DAY
        ("config_20260817.tar.gz", True),  # 90 days: kept
        ("config_latest.tar.gz", True),
        ("other_20200101.tar.gz", True),
    ]:
        (tmp_path / name).write_bytes(b"keep" if keep else b"old")
    result = housekeeping.archive_config(PROJECT_DIR, tmp_path, DAY, 90)

    assert result.path == tmp_path / "config_20261115.tar.gz"
    assert result.deleted == (tmp_path / "config_20260801.tar.gz",)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "config_20260817.tar.gz",
        "config_20261115.tar.gz",
        "config_latest.tar.gz",
        "other_20200101.tar.gz",
    ]
    config_files = {
        Path(root, f).relative_to(PROJECT_DIR).as_posix()
        for root, _, files in os.walk(PROJECT_DIR / "config")
        for f in files
    }
    with tarfile.open(result.path) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert set(members) == config_files | {"dbt_project.yml", "profiles.yml.example"}
        assert "profiles.yml" not in members
        for name in ("config/escalation.yml", "dbt_project.yml"):
            extracted = tar.extractfile(members[name])
            assert extracted is not None
            assert extracted.read() == (PROJECT_DIR / name).read_bytes()
    assert result.bytes == result.path.stat().st_size
    assert result.path.stat().st_mode & 0o077 == 0  # not readable by others


def test_config_archive_refuses_a_folder_without_a_project(tmp_path: Path) -> None:
    with pytest.raises(HousekeepingError, match=r"no dbt_project\.yml"):
        housekeeping.archive_config(tmp_path, tmp_path / "out", DAY, 90)
    assert not (tmp_path / "out").exists()


def test_an_unwritable_archive_folder_is_one_sentence(tmp_path: Path) -> None:
    in_the_way = tmp_path / "archives"
    in_the_way.write_text("a file where the folder should be")
    with pytest.raises(HousekeepingError, match=r"^Could not write .*config_20261115\.tar\.gz"):
        housekeeping.archive_config(PROJECT_DIR, in_the_way, DAY, 90)
    assert in_the_way.read_text() == "a file where the folder should be"


# -- settings --------------------------------------------------------------------------------


def test_settings_defaults(tmp_path: Path) -> None:
    settings = HousekeepingSettings.from_env(tmp_path, environ={})
    assert settings == HousekeepingSettings(
        backup_dir=tmp_path / ".ytempire" / "backups",
        log_dir=tmp_path / ".ytempire" / "logs",
        config_archive_dir=tmp_path / ".ytempire" / "backups" / "config",
        backup_retention_days=14,
        log_compress_days=7,
        log_delete_days=30,
        config_archive_retention_days=90,
    )


def test_settings_from_variables(tmp_path: Path) -> None:
    settings = HousekeepingSettings.from_env(
        tmp_path,
        environ={
            "YTEMPIRE_BACKUP_DIR": "var/backups",
            "YTEMPIRE_BACKUP_RETENTION_DAYS": "3",
            "YTEMPIRE_LOG_DIR": "/var/log/ytempire",
            "YTEMPIRE_LOG_COMPRESS_DAYS": "2",
            "YTEMPIRE_LOG_DELETE_DAYS": "9",
            "YTEMPIRE_CONFIG_ARCHIVE_RETENTION_DAYS": "365",
        },
    )
    assert settings.backup_dir == tmp_path / "var" / "backups"
    assert settings.config_archive_dir == tmp_path / "var" / "backups" / "config"
    assert settings.log_dir == Path("/var/log/ytempire")
    assert (
        settings.backup_retention_days,
        settings.log_compress_days,
        settings.log_delete_days,
        settings.config_archive_retention_days,
    ) == (3, 2, 9, 365)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("YTEMPIRE_BACKUP_RETENTION_DAYS", "0"),
        ("YTEMPIRE_BACKUP_RETENTION_DAYS", "-3"),
        ("YTEMPIRE_LOG_COMPRESS_DAYS", "seven"),
        ("YTEMPIRE_LOG_DELETE_DAYS", "1.5"),
        ("YTEMPIRE_CONFIG_ARCHIVE_RETENTION_DAYS", "90d"),
    ],
)
def test_bad_settings_name_the_variable(tmp_path: Path, variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"^{variable} is not a positive whole number") as caught:
        HousekeepingSettings.from_env(tmp_path, environ={variable: value})
    assert value not in str(caught.value)


def test_deleting_logs_before_compressing_them_is_refused(tmp_path: Path) -> None:
    environ = {"YTEMPIRE_LOG_COMPRESS_DAYS": "30", "YTEMPIRE_LOG_DELETE_DAYS": "30"}
    with pytest.raises(ConfigError, match=r"YTEMPIRE_LOG_DELETE_DAYS.*YTEMPIRE_LOG_COMPRESS_DAYS"):
        HousekeepingSettings.from_env(tmp_path, environ=environ)
