"""`ytempire morning|hourly|eod|weekly|monthly`: each playbook as one command for cron."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import click

from orchestrator import playbooks, runner
from orchestrator.commands import tables
from orchestrator.commands.build import EXIT_CODES_HELP, now_option, parse_now, render_report
from orchestrator.commands.options import as_of_option, json_option


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
        if section.note:
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
        context_settings={"ignore_unknown_options": True},
        epilog=EXIT_CODES_HELP,
        help=(
            f"{playbook.title}: "
            + ("maintenance operations, then " if playbook.maintenance is not None else "")
            + "dbt source freshness and dbt build "
            + (" ".join(playbook.selection) or "(everything)")
            + ", alerts on the escalation matrix, then the playbook's report. Extra dbt "
            "selection arguments are appended."
        ),
    )
    @click.argument("selection", nargs=-1, type=click.UNPROCESSED)
    @as_of_option
    @click.option("--dry-run", is_flag=True, help="Show what would be sent; send nothing.")
    @json_option
    @now_option
    def command(
        selection: tuple[str, ...],
        as_of: str | None,
        dry_run: bool,
        as_json: bool,
        now: str | None,
    ) -> None:
        options = runner.BuildOptions(
            selection=list(selection), as_of=as_of, dry_run=dry_run, now=parse_now(now)
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
        if run.build.error:
            click.echo(f"ytempire: {run.build.error}", err=True)
        raise SystemExit(run.exit_code)

    return command


PLAYBOOK_COMMANDS = [make_command(playbook) for playbook in playbooks.PLAYBOOKS.values()]
