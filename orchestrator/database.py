"""Which database a command uses: the server the PG* variables name, else the project's embedded
PostgreSQL (started on demand). The one place that knows both `connection` and `embedded`."""

from __future__ import annotations

import os
from pathlib import Path

from orchestrator import embedded
from orchestrator.connection import Connection, configured_from_env
from orchestrator.errors import ConfigError, DatabaseUnavailable

MAX_PORT = 65_535


def check_libpq_env(environ: dict[str, str] | None = None) -> None:
    """A malformed PGPORT is refused whether or not PGHOST is set (without PGHOST the embedded
    server is used and PGPORT is not read, but a malformed one says the environment is wrong)."""
    env = os.environ if environ is None else environ
    raw = env.get("PGPORT", "").strip()
    if not raw:
        return
    if not raw.isdigit() or not 0 < int(raw) <= MAX_PORT:
        raise ConfigError(
            f"PGPORT={raw!r} is not a port number: set PGPORT to an integer from 1 to {MAX_PORT} "
            "(such as 5432), or unset it."
        )


def resolve(start_embedded: bool = True, root: Path | None = None) -> Connection:
    """The connection to use: PG* variables if set, else the embedded server (started if asked)."""
    check_libpq_env()
    configured = configured_from_env()
    if configured is not None:
        return configured
    if start_embedded:
        return embedded.up(root=root)
    running = embedded.running_connection(root=root)
    if running is None:
        raise DatabaseUnavailable(
            "The embedded PostgreSQL is not running: start it with `ytempire db up` "
            "(or set PGHOST to use another server)."
        )
    return running
