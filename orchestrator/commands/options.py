"""Options shared by several commands, as decorators."""

from __future__ import annotations

import click

json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON document on stdout instead of tables."
)

as_of_option = click.option(
    "--as-of",
    "as_of",
    default=None,
    envvar="YTEMPIRE_AS_OF",
    help="Pin 'now' (ISO timestamp, UTC if no zone) for dbt's as_of() [env YTEMPIRE_AS_OF].",
)
