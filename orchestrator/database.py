"""Which database a command uses: the server the PG* variables name, else the project's embedded
PostgreSQL (started on demand). The one place that knows both `connection` and `embedded`."""

from __future__ import annotations

from pathlib import Path

from orchestrator import embedded
from orchestrator.connection import Connection, configured_from_env
from orchestrator.errors import DatabaseUnavailable


def resolve(start_embedded: bool = True, root: Path | None = None) -> Connection:
    """The connection to use: PG* variables if set, else the embedded server (started if asked)."""
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
