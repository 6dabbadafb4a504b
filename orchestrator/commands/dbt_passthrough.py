"""`ytempire dbt -- ARGS`: run dbt by hand against the same database the wrapper uses."""

from __future__ import annotations

import click

from orchestrator import database, dbt_invoke


@click.command(
    "dbt", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False}
)
@click.argument("dbt_args", nargs=-1, type=click.UNPROCESSED)
def dbt_command(dbt_args: tuple[str, ...]) -> None:
    """Run dbt with the connection settings filled in, e.g. `ytempire dbt -- build -s staging`."""
    conn = database.resolve()
    invocation = dbt_invoke.run(list(dbt_args), conn, capture=False)
    raise SystemExit(invocation.returncode)
