"""`ytempire build [SELECTION] [-- DBT ARGS]`: freshness, build, alerts on the escalation matrix."""

from __future__ import annotations

import logging

import click

from orchestrator import runner
from orchestrator.commands import output, tables
from orchestrator.commands.params import (
    DbtArgsCommand,
    dbt_run_options,
    now_option,
    parse_now,
    skip_freshness_option,
)
from orchestrator.commands.requires import run_context
from orchestrator.context import RunContext
from orchestrator.report import BuildReport

__all__ = ["EXIT_CODES_HELP", "build_command", "now_option", "parse_now", "render_report"]

EXIT_CODES_HELP = (
    "Exit codes: 0 all passed, 1 warnings only, 2 failures, 3 could not run (bad arguments, dbt "
    "error, database unreachable, bad configuration, or another `ytempire build` already running)."
)


@click.command("build", cls=DbtArgsCommand, epilog=EXIT_CODES_HELP)
@dbt_run_options
@skip_freshness_option
@run_context("build")
def build_command(run: RunContext, as_json: bool) -> None:
    """Run `dbt source freshness` and `dbt build`, alert on every non-passing result.

    The selection goes to `dbt build` (e.g. `-s tag:hourly --exclude diagnostics`); any other
    dbt argument goes after `--` (e.g. `-- --threads 1`). Freshness is checked for every source.
    Warnings go to the warning Slack channel; failures to PagerDuty, the critical Slack channel
    and the on-call email; an alert still open when its level's SLA runs out is escalated.
    Alert state: `ytempire alerts list`.
    """
    report = runner.run_build(run)
    output.finish(
        report.to_dict,
        lambda: render_report(report),
        as_json=as_json,
        exit_code=report.exit_code,
        notes=report.skipped_channels,
        problems=[report.error],
    )


def render_report(report: BuildReport) -> str:
    show_all = logging.getLogger().isEnabledFor(logging.INFO)
    results = [r for r in report.results if show_all or r.alerts]
    counts = ", ".join(f"{count} {kind}" for kind, count in report.counts().items() if count)
    parts = [f"dbt results: {counts or 'none'}"]
    if results:
        parts.append(
            tables.render(
                ["STATUS", "TYPE", "NODE", "DETAIL"],
                [[r.status, r.resource_type, r.name, r.message or ""] for r in results],
            )
        )
    events = {change.alert.dedup_key: str(change.event) for change in report.changes}
    if report.alerts:
        parts.append(f"\nalerts ({len(report.alerts)}):")
        parts.append(
            tables.render(
                [
                    "ID",
                    "EVENT",
                    "LEVEL",
                    "SEVERITY",
                    "TYPE",
                    "CATEGORY",
                    "OWNER",
                    "FIGURE",
                    "SLA",
                    "ACTION",
                    "NODE",
                ],
                [
                    [
                        a.alert_id or "-",
                        events.get(a.dedup_key, "-"),
                        a.level,
                        a.severity,
                        a.alert_type,
                        a.escalation,
                        a.owner,
                        a.figure or "",
                        f"{a.sla_minutes} min",
                        a.action,
                        a.node_name or a.dedup_key,
                    ]
                    for a in report.alerts
                ],
            )
        )
    else:
        parts.append("alerts: none")
    other = [
        c for c in report.changes if c.alert.dedup_key not in {a.dedup_key for a in report.alerts}
    ]
    if other:
        parts.append("\nother alert events (SLA clock, resolved):")
        parts.append(
            tables.render(
                ["ID", "EVENT", "LEVEL", "OWNER", "NODE"],
                [
                    [
                        c.alert.alert_id or "-",
                        c.event,
                        c.alert.level,
                        c.alert.owner,
                        c.alert.node_name or c.alert.dedup_key,
                    ]
                    for c in other
                ],
            )
        )
    verb = "would send" if report.dry_run else "notifications"
    if report.planned:
        parts.append(f"\n{verb} ({len(report.planned)}):")
        parts.append(
            tables.render(
                ["ALERT", "EVENT", "LEVEL", "CHANNEL"],
                [[n.alert_id or n.dedup_key, n.event, n.level, n.channel] for n in report.planned],
            )
        )
    if not report.dry_run:
        parts.append(
            f"delivery: {report.delivered} sent, {report.pending} pending, {report.dead} dead"
        )
    parts.append(f"exit code {report.exit_code}")
    return "\n".join(parts)
