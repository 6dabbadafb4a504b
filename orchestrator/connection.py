"""The one PostgreSQL connection every command uses.

With `PGHOST` set, the standard libpq variables (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE,
PGSSLMODE) name the server; without it the project's embedded PostgreSQL is used
(`orchestrator.database` decides, this module only connects). dbt reads the same values through
profiles.yml `env_var()`s, so the wrapper and a hand-run `dbt build` hit the same database.
PGSSLMODE goes into every psycopg connection and dbt's environment (libpq's default, prefer, when
unset; the other PGSSL* variables, such as PGSSLROOTCERT, libpq reads itself). A leaf module:
it imports nothing of the wrapper but its errors.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from orchestrator.errors import ConfigError, DatabaseUnavailable

DEFAULT_DATABASE = "ytempire"
DEFAULT_USER = "postgres"
# libpq's sslmode values; unset means libpq's default, prefer (profiles.yml says so explicitly).
SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
# The session setting that pins as_of() for one run (macros/as_of.sql): set on every connection
# of the run (dbt's through PGOPTIONS, the wrapper's with set_config), never stored anywhere.
AS_OF_SETTING = "ytempire.as_of"


def pgoptions_with_as_of(as_of: str | None, existing: str | None = None) -> str | None:
    """PGOPTIONS for a dbt process of a run pinned at `as_of` (an ISO timestamp, no spaces)."""
    if not as_of:
        return existing
    pinned = f"-c {AS_OF_SETTING}={as_of}"
    return f"{existing} {pinned}" if existing else pinned


@dataclass(frozen=True)
class Connection:
    """Where the database is. `password` is never printed: see `describe()`."""

    host: str
    port: int
    user: str
    dbname: str
    password: str | None = None
    embedded: bool = False
    sslmode: str | None = None  # PGSSLMODE; None: libpq's default (ignored on a Unix socket)

    def conninfo(self, dbname: str | None = None) -> str:
        return make_conninfo(
            host=self.host,
            port=str(self.port),
            user=self.user,
            dbname=dbname or self.dbname,
            password=self.password or None,
            sslmode=self.sslmode or None,
            connect_timeout="10",
        )

    def env(self) -> dict[str, str]:
        """libpq / profiles.yml variables for a dbt subprocess (PGTZ pins sessions to UTC)."""
        values = {
            "PGHOST": self.host,
            "PGPORT": str(self.port),
            "PGUSER": self.user,
            "PGDATABASE": self.dbname,
            "PGTZ": "UTC",
        }
        if self.password:
            values["PGPASSWORD"] = self.password
        if self.sslmode:
            values["PGSSLMODE"] = self.sslmode
        return values

    def url(self) -> str:
        """A connection URL without the password (safe to print and log)."""
        if self.host.startswith("/"):
            return f"postgresql://{self.user}@/{self.dbname}?host={self.host}&port={self.port}"
        ssl = f"?sslmode={self.sslmode}" if self.sslmode else ""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.dbname}{ssl}"

    def describe(self) -> str:
        kind = "embedded PostgreSQL" if self.embedded else "PostgreSQL"
        return f"{kind} at {self.url()}"

    def with_database(self, dbname: str) -> Connection:
        return replace(self, dbname=dbname)


def configured_from_env(environ: Mapping[str, str] | None = None) -> Connection | None:
    """The server the PG* variables name, or None when PGHOST is unset (embedded default)."""
    env = os.environ if environ is None else environ
    host = env.get("PGHOST", "").strip()
    if not host:
        return None
    raw_port = env.get("PGPORT", "5432").strip() or "5432"
    try:
        port = int(raw_port)
    except ValueError:
        raise ConfigError(
            f"PGPORT={raw_port!r} is not a port number: set PGPORT to an integer such as 5432."
        ) from None
    sslmode = env.get("PGSSLMODE", "").strip() or None
    if sslmode is not None and sslmode not in SSLMODES:
        raise ConfigError(
            f"PGSSLMODE is not an sslmode: use one of {', '.join(SSLMODES)} "
            "(verify-full for a server across a network)."
        )
    return Connection(
        host=host,
        port=port,
        user=env.get("PGUSER", "").strip() or DEFAULT_USER,
        dbname=env.get("PGDATABASE", "").strip() or DEFAULT_DATABASE,
        password=env.get("PGPASSWORD") or None,
        embedded=False,
        sslmode=sslmode,
    )


@contextmanager
def connect(
    conn: Connection, autocommit: bool = True, as_of: str | None = None
) -> Iterator[psycopg.Connection]:
    """A psycopg connection; an unreachable server becomes one clear DatabaseUnavailable.
    With `as_of`, the session's as_of() is pinned to it (views read it when queried)."""
    try:
        db = psycopg.connect(conn.conninfo(), autocommit=autocommit)
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise DatabaseUnavailable(
            f"Cannot reach {conn.describe()} ({reason}): start the server or fix "
            "PGHOST/PGPORT/PGUSER/PGDATABASE (unset PGHOST to use the embedded server)."
        ) from None
    try:
        if as_of:
            db.execute("select set_config(%s, %s, false)", (AS_OF_SETTING, as_of))
            if not autocommit:
                db.commit()
        yield db
    finally:
        db.close()


def ensure_database(conn: Connection) -> None:
    """Create `conn.dbname` on the server if it does not exist yet (connects to `postgres`)."""
    admin = conn.with_database("postgres")
    with connect(admin) as db:
        exists = db.execute(
            "select 1 from pg_database where datname = %s", (conn.dbname,)
        ).fetchone()
        if not exists:
            db.execute(sql.SQL("create database {}").format(sql.Identifier(conn.dbname)))
