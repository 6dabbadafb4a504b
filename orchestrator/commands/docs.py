"""`ytempire docs`: write the dbt docs site (the project's catalogue) as one static file into a
folder and, with --serve, serve that folder on 127.0.0.1 (orchestrator.docs_site)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import click

from orchestrator import database, docs_site, paths


@click.command("docs")
@click.option(
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    help=f"Folder for the site's index.html  [default: <project>/{docs_site.DEFAULT_FOLDER}]",
)
@click.option("--serve", is_flag=True, help="Then serve the folder until Ctrl-C (no browser).")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=docs_site.DEFAULT_PORT,
    show_default=True,
    help="Port for --serve (0: any free port).",
)
@click.option(
    "--host", default=docs_site.DEFAULT_HOST, show_default=True, help="Address for --serve."
)
@click.option(
    "--no-generate",
    is_flag=True,
    help="Do not run dbt: use the target's last static site, or the folder's.",
)
def docs_command(output: Path | None, serve: bool, port: int, host: str, no_generate: bool) -> None:
    """Write the dbt docs site (every model, column, source SLA and owner; works offline) as a
    single index.html via `dbt docs generate --static`, and print its path."""
    project_dir = paths.project_root()
    folder = (output or project_dir / docs_site.DEFAULT_FOLDER).resolve()
    server = docs_site.bind(folder, host, port) if serve else None  # a taken port fails first
    with server or contextlib.nullcontext():  # the socket is closed however this ends
        if no_generate:
            site = docs_site.publish_existing(folder, project_dir)
        else:
            site = docs_site.generate(database.resolve(), folder, project_dir)
        click.echo(f"docs site: {site}")
        if server is not None:
            click.echo(f"serving {folder} at {docs_site.url(server)} (Ctrl-C to stop)")
            docs_site.serve_until_stopped(server)
