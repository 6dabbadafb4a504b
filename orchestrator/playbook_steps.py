"""The playbooks' steps that are more than a query over the marts (seed 5.1-5.2).

Each step takes the run's `StepContext` and returns its section: the quality results by check
type, the machine's disk and memory, the live Redis sample, the backup, the log rotation, the
daily email, the weekly maintenance figures, the configuration archive, the monthly archive of
old bookkeeping rows and the threshold review. `finish_run` then writes every run's sections to
`ops.monitoring_log` and to the run's report files. The modules that do the work (backups,
Redis, files, email) are imported inside the steps that use them, so a playbook loads only its
own.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.context import RunContext
from orchestrator.sections import Compute, ReportSection, StepContext

if TYPE_CHECKING:
    from orchestrator.playbooks import PlaybookRun

# -- queries the steps' sections are ---------------------------------------------------------

WEEKLY_PERFORMANCE_SQL = """
with clock as (
    select business_date from analytics.monitoring_clock
),
days as (
    select cast(day as date) as report_date
    from clock, generate_series(clock.business_date - 6, clock.business_date, interval '1 day')
        as day
),
costs as (
    select cost_date, video_count, total_cost_cents, avg_cost_per_video_cents
    from analytics.cost_rollup_daily where is_total_row
),
dashboards as (
    select query_date, sum(query_count) as dashboard_queries,
        max(p95_duration_ms) as worst_p95_ms,
        count(*) filter (where performance_status <> 'OK') as slow_dashboards
    from analytics.dashboard_performance group by query_date
),
quota as (
    select usage_date, units_used, quota_status from analytics.api_quota_usage
),
jobs as (
    select cast(started_at as date) as job_date, count(*) as job_runs,
        count(*) filter (where status <> 'success') as jobs_not_successful
    from analytics.job_status group by 1
)
select days.report_date, costs.video_count, costs.total_cost_cents,
    costs.avg_cost_per_video_cents, dashboards.dashboard_queries, dashboards.worst_p95_ms,
    dashboards.slow_dashboards, quota.units_used as api_units_used, quota.quota_status,
    jobs.job_runs, jobs.jobs_not_successful
from days
left join costs on costs.cost_date = days.report_date
left join dashboards on dashboards.query_date = days.report_date
left join quota on quota.usage_date = days.report_date
left join jobs on jobs.job_date = days.report_date
order by days.report_date
"""

# A partial month says so: how many of its days are in, next to the whole month it is set against.
GROWTH_TRENDS_SQL = """
select trends.month_start_date,
    case when trends.is_complete_month then 'complete'
        else 'partial: ' || (clock.business_date - trends.month_start_date + 1) || ' of '
            || extract(day from trends.month_start_date + interval '1 month' - interval '1 day')
            || ' days, compared with a whole month'
    end as month_status,
    trends.revenue_cents, trends.previous_revenue_cents, trends.revenue_growth_pct,
    trends.cost_cents, trends.previous_cost_cents, trends.cost_growth_pct,
    trends.profit_cents, trends.profit_growth_pct,
    trends.user_count, trends.user_count_growth_pct,
    trends.videos_published, trends.videos_published_growth_pct,
    trends.is_complete_month
from analytics.growth_trends as trends
cross join analytics.monitoring_clock as clock
order by trends.month_start_date desc
limit 2
"""

COST_BASELINES_SQL = """
select baselines.month_start_date, baselines.cost_category, baselines.video_count,
    baselines.median_cost_per_video_cents, baselines.p90_cost_per_video_cents,
    baselines.max_cost_per_video_cents,
    %(cost_warning_cents)s as warning_threshold_cents,
    %(cost_critical_cents)s as critical_threshold_cents,
    baselines.p90_cost_per_video_cents > %(cost_warning_cents)s as p90_over_warning
from analytics.cost_baselines as baselines
where baselines.month_start_date = (
    select max(month_start_date) from analytics.cost_baselines where is_complete_month
)
order by baselines.is_total_row, baselines.cost_category
"""


def one_row(summary: Mapping[str, Any]) -> tuple[list[str], list[tuple[Any, ...]]]:
    """A step's summary as a one-row table (printed one line per column)."""
    plain = {key: _cell(value) for key, value in summary.items()}
    return list(plain), [tuple(plain.values())]


def _cell(value: Any) -> Any:
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, default=str)
    if isinstance(value, Path):
        return str(value)
    return value


# -- morning ---------------------------------------------------------------------------------

QUALITY_STATUS = {"pass": "passed", "warn": "warning", "fail": "failed", "error": "failed"}


def quality_checks(step: StepContext) -> ReportSection:
    """Step 6: this run's checks by check type, passed / warnings / failed: the dbt tests
    (check type = the generic test's name, or `singular`) and the great-expectations checks."""
    kinds = _test_kinds(step.run.settings.target_path)
    counts: Counter[tuple[str, str, str]] = Counter()
    for result in step.build.results:
        if result.resource_type != "test" or result.origin != "build":
            continue
        status = QUALITY_STATUS.get(result.status, "skipped")
        counts["dbt test", kinds.get(result.unique_id, "singular"), status] += 1
    cursor = step.db.execute(
        "select check_type, status, count(*) from ops.data_quality_checks"
        " where run_id = %s group by check_type, status",
        (step.run_id,),
    )
    for check_type, status, count in cursor.fetchall():
        counts["great-expectations", check_type, QUALITY_STATUS.get(status, status)] += count
    groups = sorted({(source, kind) for source, kind, _ in counts})
    rows = [
        (
            source,
            kind,
            counts[source, kind, "passed"],
            counts[source, kind, "warning"],
            counts[source, kind, "failed"],
            counts[source, kind, "skipped"],
        )
        for source, kind in groups
    ]
    columns = ["source", "check_type", "passed", "warnings", "failed", "skipped"]
    return ReportSection("", columns=columns, rows=rows)


def _test_kinds(target_path: Path) -> dict[str, str]:
    manifest = json.loads((target_path / "manifest.json").read_text())
    return {
        unique_id: (node.get("test_metadata") or {}).get("name") or "singular"
        for unique_id, node in manifest["nodes"].items()
        if node.get("resource_type") == "test"
    }


def system_resources(step: StepContext) -> ReportSection:
    """Step 7: the machine's disk (the project's and, when readable, the data directory's
    filesystems) and memory, next to the database's size and connections."""
    from orchestrator import host_resources

    columns = ["resource", "location", "total_bytes", "used_bytes", "free_bytes", "used_pct",
               "human"]  # fmt: skip
    rows: list[tuple[Any, ...]] = []
    for disk in host_resources.disk_usage(_disk_paths(step)):
        rows.append(("disk", str(disk.mount_point), disk.total_bytes, disk.used_bytes,
                     disk.free_bytes, disk.used_pct,
                     f"{host_resources.human_bytes(disk.used_bytes)} of "
                     f"{host_resources.human_bytes(disk.total_bytes)}"))  # fmt: skip
    memory = host_resources.memory()
    if memory is None:
        rows.append(("memory", "not available on this system", None, None, None, None, None))
    else:
        rows.append(("memory", "RAM", memory.total_bytes, memory.used_bytes,
                     memory.available_bytes, memory.used_pct,
                     f"{host_resources.human_bytes(memory.used_bytes)} of "
                     f"{host_resources.human_bytes(memory.total_bytes)}"))  # fmt: skip
    health = step.db.execute(
        "select database_name, database_size_bytes, total_connections, max_connections,"
        " connection_usage_pct from analytics.system_health"
    ).fetchone()
    if health is not None:
        name, size, connections, max_connections, usage_pct = health
        rows.append(("database size", name, size, size, None, None,
                     host_resources.human_bytes(size)))  # fmt: skip
        rows.append(("connections", name, max_connections, connections,
                     max_connections - connections, usage_pct,
                     f"{connections} of {max_connections}"))  # fmt: skip
    return ReportSection("", columns=columns, rows=rows)


def _disk_paths(step: StepContext) -> list[Path]:
    found = [step.project_dir]
    with step.db.transaction():
        try:
            data_directory = step.db.execute("show data_directory").fetchone()
        except Exception:
            data_directory = None
    if data_directory and data_directory[0]:
        found.append(Path(data_directory[0]))
    return found


# -- hourly ----------------------------------------------------------------------------------


def sample_cache(ctx: RunContext) -> dict[str, Any]:
    """Before the build: read Redis live (INFO stats, INFO memory, DBSIZE) when
    YTEMPIRE_REDIS_URL is set and append the sample to raw.cache_stats at the run's instant, so
    the cache mart the build makes includes it. Unreachable Redis is the cache step's error."""
    from orchestrator import cache_probe, connection

    url = cache_probe.redis_url_from_env()
    if url is None:
        return {"cache": None}
    instant = ctx.request.as_of or ctx.started_at
    try:
        sample = cache_probe.sample(url, collected_at=instant)
    except cache_probe.CacheUnavailable as exc:
        return {"cache": None, "cache_error": str(exc)}
    with connection.connect(ctx.connection()) as db, db.transaction():
        inserted = cache_probe.append_sample(db, sample)
    return {"cache": sample, "cache_inserted": inserted}


def cache_section(step: StepContext) -> ReportSection:
    """Step 5: the cache hit rate, keys and memory of the live sample, as the cache mart reads
    it (the hit rate since the previous collection, and its status against the thresholds)."""
    if step.state.get("cache_error"):
        return ReportSection("", error=step.state["cache_error"])
    sample = step.state.get("cache")
    if sample is None:
        return ReportSection("", note="not configured (set YTEMPIRE_REDIS_URL to read Redis)")
    cursor = step.db.execute(
        "select collected_at, keyspace_hits, keyspace_misses, hit_rate_pct, keys,"
        " used_memory_bytes, cache_status from analytics.cache_performance"
        " where collected_at = %s",
        (sample.collected_at,),
    )
    columns = [column.name for column in cursor.description or []]
    note = None
    if not step.state.get("cache_inserted"):
        note = (
            f"the live sample (hits {sample.keyspace_hits}, misses {sample.keyspace_misses},"
            f" keys {sample.keys}) was not stored: raw.cache_stats already holds a row at"
            f" {sample.collected_at.isoformat()} (shown)"
        )
    return ReportSection("", columns=columns, rows=cursor.fetchall(), note=note)


# -- end of day ------------------------------------------------------------------------------


def _housekeeping(step: StepContext) -> Any:
    from orchestrator import housekeeping

    return housekeeping.HousekeepingSettings.from_env(step.project_dir)


def backup(step: StepContext) -> ReportSection:
    """Step 2: a pg_dump (custom format) of the critical tables, named by the run's day."""
    from orchestrator import housekeeping

    settings = _housekeeping(step)
    result = housekeeping.backup_critical_tables(
        step.run.connection(),
        backup_dir=settings.backup_dir,
        day=step.instant.date(),
        retention_days=settings.backup_retention_days,
    )
    columns, rows = one_row(result.summary())
    return ReportSection("", columns=columns, rows=rows)


def rotate_logs(step: StepContext) -> ReportSection:
    """Step 3: the wrapper's own logs gzip-compressed after N days, deleted after M."""
    from orchestrator import housekeeping

    settings = _housekeeping(step)
    result = housekeeping.rotate_logs(
        settings.log_dir,
        now=step.instant,
        compress_after_days=settings.log_compress_days,
        delete_after_days=settings.log_delete_days,
    )
    columns, rows = one_row(result.summary())
    return ReportSection("", columns=columns, rows=rows)


def models_rebuilt(step: StepContext) -> ReportSection:
    """Step 4 (the playbook's refresh of materialized views): the marts this run rebuilt."""
    rows = sorted(
        (result.name, result.status, round(result.execution_time or 0.0, 2))
        for result in step.build.results
        if result.resource_type == "model" and result.origin == "build"
    )
    return ReportSection("", columns=["model", "status", "seconds"], rows=rows)


def daily_email(step: StepContext) -> ReportSection:
    """Step 6: the day's report (the sections so far) by email, HTML and text parts."""
    from orchestrator import report_files
    from orchestrator.notify import report_email

    settings = step.run.settings.notify
    recipients = report_email.report_recipients(settings)
    document = report_document(step, step.sections)
    result = report_email.send_report_email(
        settings,
        subject=f"YTEMPIRE daily summary {step.instant.date().isoformat()}",
        html=report_files.render_html(document),
        text=report_files.render_text(document),
        recipients=recipients,
    )
    if not result.sent:
        return ReportSection("", note=f"not sent: {result.skipped}")
    return ReportSection(
        "",
        columns=["recipients", "attempts", "message_id"],
        rows=[(", ".join(result.recipients), result.attempts, result.message_id)],
    )


# -- weekly ----------------------------------------------------------------------------------


def maintenance_step(operation: str) -> Compute:
    """Steps 1-4: what the maintenance operation did before the build (its reports)."""

    def compute(step: StepContext) -> ReportSection:
        done = next((s for s in step.steps if s.operation == operation), None)
        if done is None:
            return ReportSection("", note=f"{operation} did not run")
        if not done.ok:
            return ReportSection("", note=f"FAILED: {done.error}", finding=True)
        rows = [
            (item.get("operation"), _cell({k: v for k, v in item.items() if k != "operation"}))
            for item in done.reports
        ]
        rows.append(("seconds", round(done.seconds, 2)))
        return ReportSection("", columns=["operation", "details"], rows=rows)

    compute.__name__ = f"maintenance_{operation}"
    return compute


def archive_config(step: StepContext) -> ReportSection:
    """Step 7: a dated tar.gz of config/ and dbt_project.yml, with a retention."""
    from orchestrator import housekeeping

    settings = _housekeeping(step)
    result = housekeeping.archive_config(
        step.project_dir,
        archive_dir=settings.config_archive_dir,
        day=step.instant.date(),
        retention_days=settings.config_archive_retention_days,
    )
    columns, rows = one_row(result.summary())
    return ReportSection("", columns=columns, rows=rows)


# -- monthly ---------------------------------------------------------------------------------


def database_optimization(step: StepContext) -> ReportSection:
    """Step 3: statements snapshotted and reset, ANALYZE, and the bloat findings: VACUUM FULL
    of the candidates only with `ytempire monthly --apply`, else the list it would rewrite."""
    rows: list[tuple[Any, ...]] = []
    for done in step.steps:
        details = {
            key: value for item in done.reports for key, value in item.items() if key != "operation"
        }
        state = "ok" if done.ok else f"FAILED: {done.error}"
        rows.append((done.operation, state, _cell(details), round(done.seconds, 2)))
    return ReportSection(
        "",
        columns=["operation", "state", "details", "seconds"],
        rows=rows,
        finding=any(not done.ok for done in step.steps),
    )


# Bookkeeping rows older than this many days move to the `archive` schema, one statement per
# table (delete ... returning feeding the insert): nothing is lost or copied twice.
ARCHIVE_AFTER_DAYS = {"run_log": 180, "monitoring_log": 90}
_ARCHIVE_CLOCK = {"run_log": "started_at", "monitoring_log": "checked_at"}


def archive_old_data(step: StepContext) -> ReportSection:
    """Step 5: the wrapper's own bookkeeping (ops.run_log, ops.monitoring_log) older than its
    retention moved to `archive.*`. Raw history is not archived: the marts are rebuilt from it
    (a build at any instant must give the same marts); raw.api_usage is archived weekly."""
    rows = []
    step.db.execute("create schema if not exists archive")
    for table, days in ARCHIVE_AFTER_DAYS.items():
        column = _ARCHIVE_CLOCK[table]
        cutoff = step.instant - timedelta(days=days)
        step.db.execute(
            f"create table if not exists archive.{table} (like ops.{table} including defaults)"
        )
        moved = step.db.execute(
            f"with moved as (delete from ops.{table} where {column} < %s returning *)"
            f" insert into archive.{table} select * from moved",
            (cutoff,),
        ).rowcount
        rows.append((f"ops.{table}", f"archive.{table}", days, cutoff, moved))
    columns = ["table", "archive", "older_than_days", "cutoff", "rows_moved"]
    return ReportSection("", columns=columns, rows=rows)


def threshold_review(step: StepContext) -> ReportSection:
    """Step 6: for each threshold, how often its alert fired last month and where the month's
    values sit, with a suggested value and its reason. Nothing changes itself."""
    from orchestrator import threshold_review as review

    month_end = step.instant.date().replace(day=1)
    month_start = (month_end - timedelta(days=1)).replace(day=1)
    reviews = review.review(step.db, month_start, month_end)
    rows = [item.to_row() for item in reviews]
    columns = list(rows[0]) if rows else []
    return ReportSection("", columns=columns, rows=[tuple(row.values()) for row in rows])


# -- every run -------------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """A cell as JSON: Decimal kept exact (as a number when it is one), dates ISO."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def sections_json(
    sections: list[ReportSection], cell: Callable[[Any], Any] = plain
) -> list[dict[str, Any]]:
    """The sections as JSON-ready dicts (`cell` converts each value; the monitoring log keeps
    them as they are, for its exact encoder)."""
    return [
        {
            "title": section.title,
            "note": section.note,
            "error": section.error,
            "finding": section.finding,
            "rows": [
                {column: cell(value) for column, value in zip(section.columns, row, strict=True)}
                for row in section.rows
            ],
        }
        for section in sections
    ]


def report_document(step: StepContext, sections: list[ReportSection]) -> Any:
    """The run's report: its sections and, for eod, weekly and monthly, the charts drawn under
    them (`orchestrator.report_charts`; the text twin names them in one summary line)."""
    from orchestrator import report_charts, report_files
    from orchestrator.playbooks import PLAYBOOKS

    playbook = PLAYBOOKS[step.run.request.command]
    figures = report_figures(step)
    summary = [f"build exit {step.build.exit_code}, {len(step.build.alerts)} alerts"]
    drawn = [report_charts.TITLES[name] for name in report_charts.drawn_chart_names(figures)]
    if drawn:
        summary.append(f"charts in the HTML report: {'; '.join(drawn)}")
    return report_files.ReportDocument(
        playbook=playbook.name,
        title=playbook.title,
        instant=step.instant,
        run_id=step.run_id,
        sections=sections,
        summary_lines=tuple(summary),
        figures=figures,
    )


def report_figures(step: StepContext) -> dict[str, str]:
    """The charts of the run's report, drawn once a run (eod's email and its report file show
    the same ones). matplotlib is loaded only for a playbook that has charts."""
    if "report_figures" not in step.state:
        from orchestrator import report_charts

        project = step.run.settings.project
        step.state["report_figures"] = report_charts.report_figures(
            step.db, step.run.request.command, project
        )
    return step.state["report_figures"]


def finish_run(run: PlaybookRun, step: StepContext) -> None:
    """Every run: its sections to ops.monitoring_log (JSON), and its report files."""
    from orchestrator import monitoring_log, report_files

    try:
        with step.db.transaction():
            monitoring_log.record(
                step.db,
                run_id=step.run_id,
                command=run.playbook.name,
                checked_at=step.instant,
                results={"sections": sections_json(run.sections, cell=lambda value: value)},
            )
    except Exception as exc:
        run.problems.append(f"monitoring log not written: {exc}")
    document = report_document(step, run.sections)
    directory = report_files.reports_dir(step.project_dir)
    try:
        files = report_files.write_report(
            directory,
            report_files.report_stem(run.playbook.name, step.instant),
            report_files.render_html(document),
            report_files.render_text(document),
        )
    except report_files.ReportWriteError as exc:
        run.problems.append(str(exc))
        return
    run.report_files = {"html": str(files.html), "text": str(files.text)}
