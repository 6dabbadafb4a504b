"""`ytempire restore FILE --database NAME`: a backup of the end-of-day playbook (a pg_dump
archive of the critical tables, `orchestrator.housekeeping`) restored into a new, empty database
on the server every command uses, to inspect it or copy rows back from it."""

from __future__ import annotations

from pathlib import Path

import click

from orchestrator import housekeeping
from orchestrator.commands import output
from orchestrator.commands.params import json_option
from orchestrator.commands.tables import render
from orchestrator.database import resolve
from orchestrator.errors import EXIT_OK


@click.command("restore")
@click.argument(
    "archive", metavar="FILE", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--database",
    "database",
    required=True,
    help="The database to restore into: created when absent; refused when it holds a table "
    "or is the one the connection uses.",
)
@json_option
def restore_command(archive: Path, database: str, as_json: bool) -> None:
    """Restore a backup (.dump from `ytempire eod`) into a new database on the same server.

    Tables keep their schemas; owners and grants are not restored (the tables belong to the
    user restoring). Prints each restored table and its rows."""
    conn = resolve()
    result = housekeeping.restore_backup(conn, archive, database)
    output.finish(
        lambda: {"command": "restore", **result.summary()},
        lambda: _text(result, conn.with_database(database).describe()),
        as_json=as_json,
        exit_code=EXIT_OK,
    )


def _text(result: housekeeping.RestoreResult, where: str) -> str:
    table = render(["table", "rows"], sorted(result.tables.items()))
    return (
        f"restored {result.archive} into {where} in {result.seconds:.1f} s "
        f"({result.pg_restore})\n{table}"
    )
