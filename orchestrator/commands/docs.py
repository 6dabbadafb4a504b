"""`ytempire docs`: build (and optionally serve) the dbt docs site, the project's catalogue."""

from __future__ import annotations

import click

from orchestrator import database, dbt_invoke
from orchestrator.errors import DbtFailed


@click.command("docs")
@click.option("--serve", is_flag=True, help="Serve the site after generating it (dbt docs serve).")
@click.option("--port", default=8080, show_default=True, help="Port for --serve.")
def docs_command(serve: bool, port: int) -> None:
    """Generate the dbt docs site into target/ (works offline; the catalogue of every model,
    column, source SLA and owner)."""
    conn = database.resolve()
    generated = dbt_invoke.run(["docs", "generate"], conn)
    if generated.returncode != 0:
        raise DbtFailed(
            "dbt docs generate failed: run `ytempire dbt -- docs generate` to see dbt's message."
        )
    index = generated.target_path / "index.html"
    click.echo(f"docs site: {index}")
    if serve:
        dbt_invoke.run(["docs", "serve", "--port", str(port), "--no-browser"], conn, capture=False)
