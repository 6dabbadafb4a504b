"""`ytempire demo`: the whole job end to end on synthetic data (what `make demo` runs)."""

from __future__ import annotations

import os
import shutil
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import click

from orchestrator import connection, database, paths, playbooks
from orchestrator.artifacts import NodeResult
from orchestrator.commands import tables
from orchestrator.commands.generate import parse_as_of, parse_scale, report_table
from orchestrator.commands.playbooks import progress_line, render_sections
from orchestrator.context import RunContext, RunRequest
from orchestrator.generate import generate


def summary(results: list[NodeResult]) -> str:
    """Models built, tests passed / warned / failed, and source freshness per source."""
    by_type: dict[str, Counter[str]] = {}
    for result in results:
        if result.origin == "build":
            by_type.setdefault(result.resource_type, Counter())[str(result.kind)] += 1
    rows = [
        [
            resource_type,
            *(counted.get(kind, 0) for kind in ("pass", "warn", "fail", "error", "skipped")),
        ]
        for resource_type, counted in sorted(by_type.items())
    ]
    parts = [
        "dbt build",
        tables.render(["NODE TYPE", "PASS", "WARN", "FAIL", "ERROR", "SKIPPED"], rows),
        "",
        "source freshness",
    ]
    freshness = [r for r in results if r.origin == "freshness"]
    parts.append(
        tables.render(
            ["SOURCE", "STATUS", "MINUTES SINCE LAST LOAD", "WARN AFTER", "ERROR AFTER"],
            [
                [
                    r.name,
                    r.status,
                    "" if r.minutes_stale is None else f"{r.minutes_stale:.1f}",
                    "" if r.warn_after_minutes is None else f"{r.warn_after_minutes:g} min",
                    "" if r.error_after_minutes is None else f"{r.error_after_minutes:g} min",
                ]
                for r in sorted(freshness, key=lambda r: r.name)
            ],
        )
    )
    return "\n".join(parts)


def ensure_profiles(project_dir: Path) -> None:
    """The demo is a set-up command: it copies profiles.yml.example when profiles.yml is
    missing, and says so."""
    profiles = project_dir / "profiles.yml"
    if not profiles.exists() and not os.environ.get("DBT_PROFILES_DIR"):
        shutil.copyfile(project_dir / "profiles.yml.example", profiles)
        click.echo(f"set-up: wrote {profiles} (a copy of profiles.yml.example)")


@click.command("demo")
@click.option(
    "--scale",
    "scale_text",
    default="1",
    show_default=True,
    help="Synthetic data scale (1 = 100 users, 400 channels, 10,000 videos).",
)
@click.option("--days", default=35, show_default=True, help="Days of history ending at --as-of.")
@click.option("--as-of", "as_of_text", default=None, help="End of the data (default: now).")
@click.option("--seed", default=42, show_default=True, help="Random seed of the generator.")
def demo_command(scale_text: str, days: int, as_of_text: str | None, seed: int) -> None:
    """Start the database, generate data, then the morning playbook on it: freshness, build,
    data quality, alerting, the checklist and its report file.

    Exits with the playbook's exit code (0 on the clean synthetic data).
    """
    started = time.monotonic()
    scale = parse_scale(scale_text)
    as_of = parse_as_of(as_of_text)
    conn = database.resolve()
    if not conn.embedded:
        connection.ensure_database(conn)
    click.echo(f"database: {conn.describe()}")
    generated = generate(conn, scale=scale, days=days, as_of=as_of, seed=seed)
    click.echo(report_table(generated, conn.describe()))
    click.echo("")
    ensure_profiles(paths.project_root())
    morning = playbooks.run_playbook(
        playbooks.PLAYBOOKS["morning"],
        RunContext.build(RunRequest(command="morning", as_of=as_of)),
        progress=progress_line,
    )
    report = morning.build
    click.echo(summary(report.results))
    click.echo("")
    if report.alerts:
        click.echo(f"alerts: {len(report.alerts)} (see `ytempire alerts list`)")
        click.echo(
            tables.render(
                ["LEVEL", "SEVERITY", "TYPE", "OWNER", "FIGURE", "NODE"],
                [
                    [a.level, a.severity, a.alert_type, a.owner, a.figure, a.node_name]
                    for a in report.alerts
                ],
            )
        )
    else:
        click.echo("alerts: none")
    click.echo(f"\n{morning.playbook.title}")
    click.echo(render_sections(morning))
    for problem in [report.error, *morning.section_errors, *morning.problems]:
        if problem:
            click.echo(f"ytempire: {problem}", err=True)
    click.echo(
        f"\ndemo finished in {time.monotonic() - started:.0f} s at "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, exit code {morning.exit_code}. "
        "Next: `ytempire docs --serve`, `ytempire alerts list`, `ytempire cron --install`."
    )
    raise SystemExit(morning.exit_code)
