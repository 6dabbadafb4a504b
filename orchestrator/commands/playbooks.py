"""`ytempire morning|hourly|eod|weekly|monthly`: each playbook as one command for cron."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import click

from orchestrator import playbooks, runner
from orchestrator.commands import tables
from orchestrator.commands.build import EXIT_CODES_HELP, render_report
from orchestrator.commands.options import (
    DbtArgsCommand,
    as_of_timestamp_option,
    dbt_selection,
    dbt_selection_options,
    dry_run_option,
    json_option,
    now_option,
)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def render_sections(run: playbooks.PlaybookRun) -> str:
    parts: list[str] = []
    for step in run.steps:
        state = "ok" if step.ok else f"FAILED: {step.error}"
        parts.append(f"maintenance {step.operation}: {state} ({step.seconds:.1f} s)")
    for section in run.sections:
        parts.append(f"\n== {section.title}")
        if section.error:
            parts.append(f"FAILED: {section.error}")
        elif section.note:
            parts.append(section.note)
        elif not section.rows:
            parts.append("(no rows)")
        elif len(section.rows) == 1 and len(section.columns) > 6:
            width = max(len(column) for column in section.columns)
            parts += [
                f"{column:<{width}}  {value}"
                for column, value in zip(section.columns, section.rows[0], strict=True)
            ]
        else:
            parts.append(tables.render(section.columns, section.rows))
    return "\n".join(parts)


def run_as_json(run: playbooks.PlaybookRun) -> str:
    document = run.build.to_dict()
    document["command"] = run.playbook.name
    document["exit_code"] = run.exit_code
    document["maintenance"] = [
        {"operation": s.operation, "ok": s.ok, "error": s.error, "seconds": s.seconds}
        for s in run.steps
    ]
    document["reports"] = [
        {
            "title": section.title,
            "note": section.note,
            "error": section.error,
            "rows": [
                {c: _plain(v) for c, v in zip(section.columns, row, strict=True)}
                for row in section.rows
            ],
        }
        for section in run.sections
    ]
    return json.dumps(document, indent=2, default=str)


def make_command(playbook: playbooks.Playbook) -> click.Command:
    @click.command(
        playbook.name,
        cls=DbtArgsCommand,
        epilog=EXIT_CODES_HELP,
        help=(
            f"{playbook.title}: "
            + ("maintenance operations, then " if playbook.maintenance is not None else "")
            + "dbt source freshness and dbt build "
            + (" ".join(playbook.selection) or "(everything)")
            + ", alerts on the escalation matrix, then the playbook's report. -s/--select, "
            "--exclude and --full-refresh are appended to the build; other dbt arguments go "
            "after `--`."
        ),
    )
    @dbt_selection_options
    @as_of_timestamp_option
    @dry_run_option
    @json_option
    @now_option
    def command(
        dbt_args: tuple[str, ...],
        select: tuple[str, ...],
        exclude: tuple[str, ...],
        full_refresh: bool,
        as_of: datetime | None,
        dry_run: bool,
        as_json: bool,
        now: datetime | None,
    ) -> None:
        options = runner.BuildOptions(
            selection=dbt_selection(select, exclude, full_refresh, dbt_args),
            as_of=as_of.isoformat() if as_of else None,
            dry_run=dry_run,
            now=now,
        )
        run = playbooks.run_playbook(playbook.name, options)
        for line in run.build.skipped_channels:
            click.echo(line, err=True)
        if as_json:
            click.echo(run_as_json(run))
        else:
            click.echo(f"{playbook.title}\n")
            click.echo(render_report(run.build))
            click.echo(render_sections(run))
        for problem in [run.build.error, *run.section_errors]:
            if problem:
                click.echo(f"ytempire: {problem}", err=True)
        raise SystemExit(run.exit_code)

    return command


PLAYBOOK_COMMANDS = [make_command(playbook) for playbook in playbooks.PLAYBOOKS.values()]
