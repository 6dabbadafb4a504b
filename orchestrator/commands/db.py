"""`ytempire db up|down|url|status|env|roles`: the database every command uses."""

from __future__ import annotations

import shlex

import click

from orchestrator import connection, database, embedded, roles


@click.group("db")
def db_group() -> None:
    """Start, stop and locate the database (embedded PostgreSQL unless PGHOST is set)."""


@db_group.command("up")
def db_up() -> None:
    """Start the embedded PostgreSQL (no-op with PGHOST set: checks that server instead)."""
    conn = connection.configured_from_env()
    if conn is None:
        conn = embedded.up()
        click.echo(f"running: {conn.describe()}")
    else:
        connection.ensure_database(conn)
        click.echo(f"PGHOST is set; using {conn.describe()} (reachable, database ready)")


@db_group.command("down")
def db_down() -> None:
    """Stop the embedded PostgreSQL (pg_ctl stop -m fast)."""
    if connection.configured_from_env() is not None:
        click.echo("PGHOST is set: the configured server is not ours to stop; nothing done.")
        return
    stopped = embedded.down()
    click.echo(
        "stopped the embedded PostgreSQL" if stopped else "the embedded PostgreSQL was not running"
    )


@db_group.command("url")
def db_url() -> None:
    """Print the connection URL (never the password)."""
    click.echo(database.resolve(start_embedded=False).url())


@db_group.command("env")
def db_env() -> None:
    """Print `export PG...` lines for running dbt or psql by hand: eval "$(ytempire db env)"."""
    conn = database.resolve(start_embedded=False)
    for name, value in conn.env().items():
        if name != "PGPASSWORD":
            click.echo(f"export {name}={shlex.quote(value)}")


@db_group.command("status")
def db_status() -> None:
    """Say what runs where."""
    configured = connection.configured_from_env()
    if configured is not None:
        try:
            with connection.connect(configured.with_database("postgres")) as db:
                version = db.execute("show server_version").fetchone()[0]
            click.echo(
                f"configured by PGHOST: {configured.describe()}, PostgreSQL {version}, reachable"
            )
        except Exception as exc:  # status reports, it does not fail
            click.echo(f"configured by PGHOST: {configured.describe()}, NOT reachable: {exc}")
        return
    state = embedded.status()
    if not state.initialised:
        click.echo(f"embedded PostgreSQL: not initialised ({state.pgdata}); run `ytempire db up`")
    elif not state.running:
        click.echo(f"embedded PostgreSQL: stopped ({state.pgdata}); run `ytempire db up`")
    else:
        conn = embedded.running_connection()
        assert conn is not None
        click.echo(
            f"embedded PostgreSQL: running, pid {state.pid}, data {state.pgdata}, "
            f"socket {state.socket_dir}, url {conn.url()}"
        )


@db_group.command("roles")
@click.option("--dry-run", is_flag=True, help="Say what would change; change nothing.")
def db_roles(dry_run: bool) -> None:
    """Create the writer role (dbt, the wrapper) and the reader role (dashboards: schema
    analytics only) with their privileges; idempotent, run as a superuser.

    Names: YTEMPIRE_WRITER_ROLE, YTEMPIRE_READER_ROLE (ytempire_writer, ytempire_reader).
    NOLOGIN group roles unless YTEMPIRE_WRITER_PASSWORD / YTEMPIRE_READER_PASSWORD is set."""
    settings = roles.settings_from_env()
    conn = database.resolve()
    if not conn.embedded:
        connection.ensure_database(conn)
    report = roles.ensure_roles(conn, settings, dry_run=dry_run)
    click.echo(f"roles on {conn.describe()}")
    for line in roles.describe(report):
        click.echo(line)
    if report.changes and report.applied:
        for line in roles.next_steps(settings):
            click.echo(f"next: {line}")
