"""`ytempire build [SELECTION] [-- DBT ARGS]`: freshness, build, alerts on the escalation matrix."""

from __future__ import annotations

import logging

import click

from orchestrator import runner
from orchestrator.alert import Alert
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


RESULT_COLUMNS = ("STATUS", "TYPE", "NODE", "DETAIL")
ALERT_COLUMNS = (
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
)
OTHER_EVENT_COLUMNS = ("ID", "EVENT", "LEVEL", "OWNER", "NODE")
NOTIFICATION_COLUMNS = ("ALERT", "EVENT", "LEVEL", "CHANNEL")


def render_report(report: BuildReport) -> str:
    """What a build (and every playbook, above its sections) prints for people."""
    return "\n".join(
        [
            *_results_part(report),
            *_quality_part(report),
            *_alerts_part(report),
            *_other_events_part(report),
            *_notifications_part(report),
            *_delivery_part(report),
            f"exit code {report.exit_code}",
        ]
    )


def _results_part(report: BuildReport) -> list[str]:
    """The counts by kind, then the non-passing results (every result with -v)."""
    if not report.dbt_ran:
        return []
    show_all = logging.getLogger().isEnabledFor(logging.INFO)
    results = [r for r in report.results if show_all or r.alerts]
    counts = ", ".join(f"{count} {kind}" for kind, count in report.counts().items() if count)
    part = [f"dbt results: {counts or 'none'}"]
    if results:
        rows = [[r.status, r.resource_type, r.name, r.message or ""] for r in results]
        part.append(tables.render(RESULT_COLUMNS, rows))
    return part


QUALITY_COLUMNS = ("STATUS", "SEVERITY", "CHECK TYPE", "CHECK", "OBSERVED")


def _quality_part(report: BuildReport) -> list[str]:
    """The great-expectations checks: counts by status, then the checks (all of them for
    `ytempire quality` or with -v, else the non-passing ones)."""
    if not report.quality:
        return []
    show_all = report.command == "quality" or logging.getLogger().isEnabledFor(logging.INFO)
    counts = ", ".join(f"{n} {status}" for status, n in report.quality_counts().items() if n)
    part = [f"quality checks: {counts}"]
    rows = [
        [o.status, o.severity, o.check_type, o.check, o.observed]
        for o in report.quality
        if show_all or o.status != "passed"
    ]
    if rows:
        part.append(tables.render(QUALITY_COLUMNS, rows))
    return part


def _alerts_part(report: BuildReport) -> list[str]:
    if not report.alerts:
        return ["alerts: none"]
    events = {change.alert.dedup_key: str(change.event) for change in report.changes}
    rows = [_alert_row(alert, events.get(alert.dedup_key, "-")) for alert in report.alerts]
    return [f"\nalerts ({len(report.alerts)}):", tables.render(ALERT_COLUMNS, rows)]


def _alert_row(alert: Alert, event: str) -> list[object]:
    return [
        alert.alert_id or "-",
        event,
        alert.level,
        alert.severity,
        alert.alert_type,
        alert.escalation,
        alert.owner,
        alert.figure or "",
        f"{alert.sla_minutes} min",
        alert.action,
        _node(alert),
    ]


def _other_events_part(report: BuildReport) -> list[str]:
    """Events of alerts this run did not raise: an escalation by the SLA clock, a resolve."""
    raised = {alert.dedup_key for alert in report.alerts}
    rows = [
        [c.alert.alert_id or "-", c.event, c.alert.level, c.alert.owner, _node(c.alert)]
        for c in report.changes
        if c.alert.dedup_key not in raised
    ]
    if not rows:
        return []
    return ["\nother alert events (SLA clock, resolved):", tables.render(OTHER_EVENT_COLUMNS, rows)]


def _node(alert: Alert) -> str:
    return alert.node_name or alert.dedup_key


def _notifications_part(report: BuildReport) -> list[str]:
    if not report.planned:
        return []
    verb = "would send" if report.dry_run else "notifications"
    rows = [[n.alert_id or n.dedup_key, n.event, n.level, n.channel] for n in report.planned]
    return [f"\n{verb} ({len(report.planned)}):", tables.render(NOTIFICATION_COLUMNS, rows)]


def _delivery_part(report: BuildReport) -> list[str]:
    if report.dry_run:
        return []
    return [f"delivery: {report.delivered} sent, {report.pending} pending, {report.dead} dead"]
