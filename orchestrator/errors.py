"""Errors a user can act on. Each carries one sentence: what is wrong and what to do."""

from __future__ import annotations

# Exit codes made for cron (README "Exit codes").
EXIT_OK = 0
EXIT_WARNINGS = 1
EXIT_FAILURES = 2
EXIT_COULD_NOT_RUN = 3


class YtempireError(Exception):
    """A problem the user can fix; the CLI prints the message alone and exits with `exit_code`."""

    exit_code = EXIT_COULD_NOT_RUN


class ConfigError(YtempireError):
    """A setting or configuration file is wrong; the message names the key and the fix."""


class DatabaseUnavailable(YtempireError):
    """The configured PostgreSQL server cannot be reached."""


class DbtFailed(YtempireError):
    """dbt itself could not run (parse error, missing profile...), as opposed to tests failing."""


class NothingSelected(YtempireError):
    """A selection that matches no dbt node: nothing was built and no alert was touched."""


class RawSchemaMismatch(YtempireError):
    """A raw table lacks a column of orchestrator/sql/raw_schema.sql or has another type."""


def first_line(exc: BaseException) -> str:
    """The first line of an error's message (psycopg and dbt add context lines)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
