"""The playbooks of the analytics engineer as runs of the wrapper (DESIGN.md, seed 5.1-5.2).

Each playbook is: what must happen before dbt (maintenance for weekly and monthly, the live
cache sample for hourly), then `ytempire build` over its dbt selection (freshness, models, tests,
alerts on the escalation matrix), then its numbered steps in the seed's order, each one section:
a query over the marts it just built (read at the run's instant) or a Python step
(`orchestrator.playbook_steps`: backups, files, email, the machine, reviews). Every run's
sections go to `ops.monitoring_log` as JSON and into a report file (HTML and text). The
schedule is `ytempire cron`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg

from orchestrator import connection, maintenance, playbook_steps, runner, signals
from orchestrator.connection import Connection
from orchestrator.context import RunContext
from orchestrator.errors import (
    EXIT_COULD_NOT_RUN,
    EXIT_FAILURES,
    DatabaseUnavailable,
    YtempireError,
    first_line,
)
from orchestrator.report import BuildReport
from orchestrator.sections import Compute, ReportSection, StepContext

Progress = Callable[[int, int, str], None]


Prepare = Callable[[RunContext], dict[str, Any]]


@dataclass(frozen=True)
class Report:
    """One numbered step of a playbook: a query over the marts (or an `ops` table; it may use
    the names of `StepContext.params`), or a Python step returning its section."""

    title: str
    query: str | None = None
    compute: Compute | None = None

    def __post_init__(self) -> None:
        if (self.query is None) == (self.compute is None):
            raise ValueError(f"report {self.title!r}: give a query or a compute, not both")


@dataclass(frozen=True)
class Playbook:
    name: str
    title: str
    selection: tuple[str, ...]
    reports: tuple[Report, ...]
    maintenance: Callable[..., list[maintenance.OperationResult]] | None = None
    quality: bool = False  # run the great-expectations suites after the build
    prepare: Prepare | None = None  # before dbt: e.g. the live cache sample into raw


@dataclass
class PlaybookRun:
    playbook: Playbook
    build: BuildReport
    instant: datetime
    steps: list[maintenance.OperationResult] = field(default_factory=list)
    sections: list[ReportSection] = field(default_factory=list)
    report_files: dict[str, str] = field(default_factory=dict)  # "html" / "text" -> path
    problems: list[str] = field(default_factory=list)  # the report file or log not written

    @property
    def section_errors(self) -> list[str]:
        """One sentence per step that could not be done."""
        return [f"report section {s.title!r} failed: {s.error}" for s in self.sections if s.error]

    @property
    def exit_code(self) -> int:
        if self.section_errors or self.problems:
            return EXIT_COULD_NOT_RUN
        failed_step = any(not step.ok for step in self.steps)
        found = any(section.finding for section in self.sections)
        return max(self.build.exit_code, EXIT_FAILURES if failed_step or found else 0)


_TODAY = "(select business_date from analytics.monitoring_clock)"

PLAYBOOKS: dict[str, Playbook] = {
    playbook.name: playbook
    for playbook in (
        Playbook(
            name="morning",
            title="Morning checklist (08:00)",
            selection=(),
            reports=(
                Report(
                    "Data freshness",
                    "select dataset_name, last_loaded_at, minutes_since_load, freshness_status"
                    " from analytics.data_freshness order by dataset_name",
                ),
                Report(
                    "Overnight jobs not successful",
                    "select job_name, status, duration_seconds, error_message"
                    " from analytics.job_status where status <> 'success' order by started_at",
                ),
                Report(
                    "Dashboards over the warning threshold today",
                    "select dashboard_name, query_count, avg_duration_ms, p95_duration_ms,"
                    " max_duration_ms, performance_status from analytics.dashboard_performance"
                    f" where query_date = {_TODAY} and performance_status <> 'OK'"
                    " order by p95_duration_ms desc",
                ),
                Report(
                    "API quota today",
                    "select usage_date, quota_status, projected_quota_status, request_count,"
                    " units_used, units_remaining, quota_used_pct, projected_units_end_of_day"
                    f" from analytics.api_quota_usage where usage_date = {_TODAY}",
                ),
                Report(
                    "Yesterday's costs",
                    "select cost_category, video_count, total_cost_cents,"
                    " avg_cost_per_video_cents, total_cost_usd, avg_cost_per_video_usd"
                    f" from analytics.cost_rollup_daily where cost_date = {_TODAY} - 1"
                    " order by is_total_row, cost_category",
                ),
                Report("Data quality checks", compute=playbook_steps.quality_checks),
                Report("System resources", compute=playbook_steps.system_resources),
                Report("Morning summary", "select * from analytics.morning_summary"),
            ),
            quality=True,
        ),
        Playbook(
            name="hourly",
            title="Hourly monitoring",
            selection=(
                "-s",
                "tag:hourly",
                "cost_rollup_hourly",
                "cost_rollup_daily",
                "user_revenue_tracking",
                # rebuilt from the whole history, and nothing the hour reads: the calendar
                # (it covers through tomorrow) and the quarantine listing; the morning build
                # rebuilds both, end of day the calendar (an hourly cost flat in history)
                # with their tests (a test has its model's tags, so tag:hourly selects it)
                "--exclude",
                "dim_date+",
                "dq_quarantined_rows+",
                # unit tests check logic, not data: the morning build and CI run them
                "--exclude-resource-type",
                "unit_test",
            ),
            reports=(
                Report("Real-time (last hour)", "select * from analytics.realtime_metrics"),
                Report(
                    "Cost per video, last 3 hours",
                    "select incurred_hour, cost_status, video_count, total_cost_cents,"
                    " cost_per_video_cents, cost_per_video_usd from analytics.cost_rollup_hourly"
                    " order by incurred_hour desc limit 3",
                ),
                Report(
                    "User goal progress",
                    "select count(*) as users_with_revenue,"
                    " count(*) filter (where current_month_revenue_cents >= %(tier_10k_cents)s)"
                    " as users_at_10k,"
                    " count(*) filter (where current_month_revenue_cents >= %(tier_5k_cents)s)"
                    " as users_at_5k,"
                    " round(avg(goal_progress_pct), 2) as avg_goal_progress_pct"
                    " from analytics.user_revenue_tracking where lifetime_revenue_cents > 0",
                ),
                Report(
                    "Trending videos",
                    "select trending_rank, video_title, channel_title, views_gained_24h,"
                    " trending_score from analytics.trending_videos"
                    " order by trending_rank limit 5",
                ),
                Report("Cache", compute=playbook_steps.cache_section),
            ),
            prepare=playbook_steps.sample_cache,
        ),
        Playbook(
            name="eod",
            title="End of day (18:00)",
            # the finance marts, and the dashboard marts rebuilt (content, monitoring)
            selection=(
                "-s",
                "+tag:finance",
                "tag:content",
                "tag:monitoring",
                "fct_api_usage",
                "fct_revenue_daily",
            ),
            reports=(
                Report(
                    "Daily summary",
                    "select cost_category, video_count, total_cost_cents,"
                    " avg_cost_per_video_cents, total_cost_usd, avg_cost_per_video_usd"
                    f" from analytics.cost_rollup_daily where cost_date = {_TODAY}"
                    " order by is_total_row, cost_category",
                ),
                Report("Backup of critical data", compute=playbook_steps.backup),
                Report("Old logs archived", compute=playbook_steps.rotate_logs),
                Report("Dashboard marts rebuilt", compute=playbook_steps.models_rebuilt),
                Report(
                    "User daily reports (today)",
                    "select count(*) as users, sum(revenue_cents) as revenue_cents,"
                    " sum(videos_published) as videos_published,"
                    " count(*) filter (where goal_progress_pct >= 100) as users_at_goal"
                    f" from analytics.user_daily_reports where report_date = {_TODAY}",
                ),
                Report("Daily summary email", compute=playbook_steps.daily_email),
            ),
        ),
        Playbook(
            name="weekly",
            title="Weekly maintenance (Sunday 02:00)",
            selection=("-s", "tag:diagnostics"),
            reports=(
                Report("VACUUM ANALYZE", compute=playbook_steps.maintenance_step("vacuum_analyze")),
                Report("REINDEX", compute=playbook_steps.maintenance_step("reindex")),
                Report("ANALYZE", compute=playbook_steps.maintenance_step("analyze_all")),
                Report(
                    "Old data cleaned", compute=playbook_steps.maintenance_step("retention_cleanup")
                ),
                Report("Weekly performance report", playbook_steps.WEEKLY_PERFORMANCE_SQL),
                Report("Slow queries", "select * from diagnostics.pg_slow_queries limit 10"),
                Report(
                    "Performance recommendations",
                    "select * from diagnostics.performance_recommendations limit 20",
                ),
                Report("Configuration backup", compute=playbook_steps.archive_config),
            ),
            maintenance=maintenance.weekly,
        ),
        Playbook(
            name="monthly",
            title="Monthly tasks (the 1st)",
            # and the dashboard views over the tables it rebuilds: dbt swaps a rebuilt table
            # in by dropping the old one with cascade, which drops the views that read it
            selection=(
                "-s",
                "+monthly_report",
                "+growth_trends",
                "+cost_baselines",
                # the day's revenue the content views read, with the fct_revenue rebuilt above
                "fct_revenue_daily",
                "tag:monitoring,config.materialized:view",
                "tag:content,config.materialized:view",
            ),
            reports=(
                Report(
                    "Monthly report",
                    "select * from analytics.monthly_report order by month_start_date desc limit 2",
                ),
                Report("Growth trends", playbook_steps.GROWTH_TRENDS_SQL),
                Report("Database optimization", compute=playbook_steps.database_optimization),
                Report("Cost baselines and thresholds", playbook_steps.COST_BASELINES_SQL),
                Report("Archive of old data", compute=playbook_steps.archive_old_data),
                Report("Threshold review", compute=playbook_steps.threshold_review),
                Report(
                    "Data quality checks last month",
                    "select checks.check_type, checks.check_name,"
                    " count(*) filter (where checks.status = 'passed') as passed,"
                    " count(*) filter (where checks.status = 'warning') as warnings,"
                    " count(*) filter (where checks.status in ('failed', 'error')) as failed"
                    " from ops.data_quality_checks as checks"
                    " cross join analytics.monitoring_clock as clock"
                    " where checks.checked_at >= date_trunc('month', clock.checked_at)"
                    " - interval '1 month'"
                    " and checks.checked_at < date_trunc('month', clock.checked_at)"
                    " group by checks.check_type, checks.check_name"
                    " order by checks.check_type, checks.check_name",
                ),
            ),
            maintenance=maintenance.monthly,
        ),
    )
}


def query_section(
    db: psycopg.Connection, report: Report, params: Mapping[str, Any] | None = None
) -> ReportSection:
    """Run one report query; a query that fails is the section's error (the run exits 3)."""
    section = ReportSection(report.title)
    assert report.query is not None
    try:
        with db.transaction():
            cursor = db.execute(report.query, dict(params or {}) if "%(" in report.query else None)
            section.columns = [column.name for column in cursor.description or []]
            section.rows = cursor.fetchall()
    except psycopg.Error as exc:
        section.error = first_line(exc)
    return section


def compute_section(report: Report, step: StepContext) -> ReportSection:
    """A Python step; an error it cannot get past becomes the section's error (exit 3)."""
    assert report.compute is not None
    try:
        with step.db.transaction():
            section = report.compute(step)
    except (YtempireError, psycopg.Error, OSError) as exc:
        return ReportSection(report.title, error=first_line(exc))
    section.title = report.title
    return section


def run_playbook(
    playbook: Playbook,
    ctx: RunContext,
    progress: Progress | None = None,
    vacuum_full_confirm: bool = False,
) -> PlaybookRun:
    """Before dbt (maintenance, the cache sample), the build over the playbook's selection, then
    its steps read through a connection pinned to the run's instant, then the monitoring log and
    the report file."""
    ctx.request.selection = [*playbook.selection, *ctx.request.selection]
    ctx.request.command = playbook.name
    ctx.request.run_quality = ctx.request.run_quality or playbook.quality
    instant = (ctx.request.as_of or ctx.started_at).astimezone(UTC)
    with signals.interruptible():  # a signal during maintenance stops the playbook too
        steps = _maintenance(playbook, ctx, vacuum_full_confirm)
        state = _prepare(playbook, ctx)
        signals.check()
        build = runner.run_build(ctx)
    run = PlaybookRun(playbook=playbook, build=build, instant=instant, steps=steps)
    if build.error is not None or build.dry_run:
        return run
    with connection.connect(ctx.connection(), as_of=ctx.request.as_of_text) as db:
        step = StepContext(run=ctx, build=build, db=db, instant=instant, steps=steps, state=state)
        total = len(playbook.reports)
        for number, report in enumerate(playbook.reports, start=1):
            if progress is not None:
                progress(number, total, report.title)
            if report.query is not None:
                section = query_section(db, report, step.params())
            else:
                section = compute_section(report, step)
            step.sections.append(section)
        run.sections = step.sections
        playbook_steps.finish_run(run, step)
    return run


def _prepare(playbook: Playbook, ctx: RunContext) -> dict[str, Any]:
    if playbook.prepare is None or ctx.request.dry_run:
        return {}
    return playbook.prepare(ctx)


def _maintenance(
    playbook: Playbook, ctx: RunContext, vacuum_full_confirm: bool
) -> list[maintenance.OperationResult]:
    if playbook.maintenance is None or ctx.request.dry_run:
        return []
    invocation = maintenance.Invocation(
        as_of=ctx.request.as_of_text,
        target_path=ctx.settings.target_path,
        project_dir=ctx.settings.project_dir,
    )
    options: dict[str, Any] = {"invocation": invocation}
    if vacuum_full_confirm:
        options["vacuum_full_confirm"] = True
    try:
        conn: Connection = ctx.connection()
        return playbook.maintenance(conn, **options)
    except DatabaseUnavailable:
        return []  # the build reports the outage (exit 3, level-3 alert)
