"""`ytempire quality`: the great-expectations suites, with their alerts on the escalation matrix."""

from __future__ import annotations

from datetime import datetime

import click

from orchestrator import runner
from orchestrator.commands import output
from orchestrator.commands.build import EXIT_CODES_HELP, render_report
from orchestrator.commands.params import (
    as_of_timestamp_option,
    dry_run_option,
    json_option,
    now_option,
)
from orchestrator.context import RunContext, RunRequest

# orchestrator.quality.suites' names, kept here so `--help` does not import great_expectations
# (tests/python/test_quality.py checks they agree)
SUITE_NAMES = ("distribution", "volume", "completeness", "consistency")


@click.command("quality", epilog=EXIT_CODES_HELP)
@click.option(
    "--suite",
    "suites",
    multiple=True,
    type=click.Choice(SUITE_NAMES),
    help="Run only this suite (repeatable; default: every suite).",
)
@as_of_timestamp_option
@dry_run_option
@json_option
@now_option
def quality_command(
    suites: tuple[str, ...],
    as_of: datetime | None,
    dry_run: bool,
    as_json: bool,
    now: datetime | None,
) -> None:
    """Run the great-expectations suites against the marts (no dbt run).

    Each expectation's outcome, observed value and severity go to ops.data_quality_checks; a
    failing one raises an alert of category `quality` (a warning at level 1, a critical one at
    level 2 of the matrix), resolved when it passes again. `ytempire morning` runs the same
    suites after its dbt build.
    """
    request = RunRequest(
        command="quality",
        as_of=as_of,
        now=now,
        dry_run=dry_run,
        run_dbt=False,
        run_quality=True,
        quality_suites=suites,
    )
    report = runner.run_build(RunContext.build(request))
    output.finish(
        report.to_dict,
        lambda: render_report(report),
        as_json=as_json,
        exit_code=report.exit_code,
        notes=report.skipped_channels,
        problems=[report.error],
    )
