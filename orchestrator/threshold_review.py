"""The monthly threshold review (seed monthly_tasks.py step 6, "Review and update alerts").

For each threshold var of dbt_project.yml (freshness per dataset, cost per video, API quota,
dashboard time, cache hit rate; warning and critical), one `ThresholdReview`: how often the
alert that threshold drives was opened in the month (`ops.alerts_log`, by the alert types the
signal's model declares in its `meta`), where the month's values of the signal sit (median, p90,
p99 from the marts), and a suggested value with its reason. Nothing changes itself: a person
edits dbt_project.yml, or fixes the cause.

The series: minutes between consecutive loads of each dataset (the staleness reached before each
load: data_freshness itself is a view of one instant); the average cost per video of each day
(cost_rollup_daily: the hourly alert compares clock hours, whose partial video costs would
understate a video's cost); units used per day; the average time per dashboard and day (what the
dashboard status compares); the hit rate of each cache collection.

The month is the half-open range [month_start, month_end) of business days (var
`business_timezone`): the monthly playbook passes the 1st of last month and the 1st of this one.
Percentiles are PostgreSQL's `percentile_cont` (linear interpolation). For a signal where lower
is worse (the cache hit rate) "p90" and "p99" are taken on the bad side: the values 90 % and
99 % of the month are no worse than, i.e. the 10th and 1st percentiles (`tail` says "low").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import yaml

from orchestrator import paths, project_vars
from orchestrator.project_vars import ProjectVars

WARNING, CRITICAL = "warning", "critical"
# Nice steps for a suggested value: 1, 2, 2.5 and 5 times a power of ten.
NICE_STEPS = (1.0, 2.0, 2.5, 5.0)


@dataclass(frozen=True)
class Signal:
    """A series of values one pair of thresholds is compared with, read from a mart."""

    name: str
    model: str  # the model whose meta `alert_type` the threshold's alerts carry
    relation: str  # schema.table the values come from (checked before reading)
    series: str  # what one value is, for people
    query: str  # one column `value` for the days >= %(start)s and < %(end)s
    unit: str  # cents, minutes, ms, units, pct
    warning_var: str
    critical_var: str
    higher_is_worse: bool = True


def _freshness(dataset: str, relation: str, column: str) -> Signal:
    """Minutes between consecutive loads of a dataset: the staleness reached before each load."""
    return Signal(
        name=f"freshness of {dataset}",
        model="data_freshness",
        relation=relation,
        series=f"minutes between consecutive loads ({relation}.{column})",
        query=(
            f"with loads as (select distinct {column} as loaded_at from {relation}"
            f" where {column} is not null),"
            " gaps as (select loaded_at, extract(epoch from loaded_at"
            " - lag(loaded_at) over (order by loaded_at)) / 60 as value from loads)"
            " select value from gaps where value is not null"
            " and (loaded_at at time zone %(tz)s)::date >= %(start)s"
            " and (loaded_at at time zone %(tz)s)::date < %(end)s"
        ),
        unit="minutes",
        warning_var=f"freshness_{dataset}_warn_minutes",
        critical_var=f"freshness_{dataset}_error_minutes",
    )


SIGNALS: tuple[Signal, ...] = (
    _freshness("video_stats", "analytics.fct_video_performance", "collected_at"),
    _freshness("revenue", "analytics.fct_revenue", "loaded_at"),
    _freshness("costs", "analytics.fct_costs", "incurred_at"),
    _freshness("api_usage", "staging.stg_raw__api_usage", "called_at"),
    Signal(
        name="cost per video",
        model="cost_rollup_hourly",
        relation="analytics.cost_rollup_daily",
        series="average cost per video of each day (cost_rollup_daily TOTAL rows)",
        query=(
            "select avg_cost_per_video_cents as value from analytics.cost_rollup_daily"
            " where is_total_row and video_count > 0"
            " and cost_date >= %(start)s and cost_date < %(end)s"
        ),
        unit="cents",
        warning_var="cost_per_video_warning_cents",
        critical_var="cost_per_video_critical_cents",
    ),
    Signal(
        name="API quota",
        model="api_quota_usage",
        relation="analytics.api_quota_usage",
        series="units used per business day (api_quota_usage)",
        query=(
            "select units_used as value from analytics.api_quota_usage"
            " where usage_date >= %(start)s and usage_date < %(end)s"
        ),
        unit="units",
        warning_var="api_quota_warning_units",
        critical_var="api_quota_critical_units",
    ),
    Signal(
        name="dashboard query time",
        model="dashboard_performance",
        relation="analytics.dashboard_performance",
        series="average query time per dashboard and day (dashboard_performance)",
        query=(
            "select avg_duration_ms as value from analytics.dashboard_performance"
            " where query_date >= %(start)s and query_date < %(end)s"
        ),
        unit="ms",
        warning_var="dashboard_warning_ms",
        critical_var="dashboard_critical_ms",
    ),
    Signal(
        name="cache hit rate",
        model="cache_performance",
        relation="analytics.cache_performance",
        series="hit rate of each cache collection (cache_performance)",
        query=(
            "select hit_rate_pct as value from analytics.cache_performance"
            " where hit_rate_pct is not null"
            " and (collected_at at time zone %(tz)s)::date >= %(start)s"
            " and (collected_at at time zone %(tz)s)::date < %(end)s"
        ),
        unit="pct",
        warning_var="cache_hit_rate_warning_pct",
        critical_var="cache_hit_rate_critical_pct",
        higher_is_worse=False,
    ),
)


@dataclass(frozen=True)
class Distribution:
    """Where a month's values sit; percentiles on the bad side of the signal."""

    count: int
    median: float | None
    p90: float | None
    p99: float | None


@dataclass(frozen=True)
class ThresholdReview:
    var: str
    level: str  # warning or critical
    signal: str
    unit: str
    current: float
    alert_types: tuple[str, ...]
    alerts_fired: int  # alerts of those types opened in the month (critical: CRITICAL ones)
    days_fired: int  # business days of the month with such an alert opened
    days_in_month: int
    series: str
    values: int  # values of the signal in the month
    beyond: int  # of which beyond this threshold
    median: float | None
    p90: float | None
    p99: float | None
    tail: str  # "high" (higher is worse) or "low": which side p90 / p99 are taken on
    suggested: float
    reason: str

    def to_row(self) -> dict[str, Any]:
        """One row of the monthly report's "Threshold review" section."""
        return {
            "threshold": self.var,
            "level": self.level,
            "current": _plain(self.current),
            "alerts_fired": self.alerts_fired,
            "days_fired": self.days_fired,
            "days_in_month": self.days_in_month,
            "values": self.values,
            "beyond": self.beyond,
            "median": _rounded(self.median),
            "p90": _rounded(self.p90),
            "p99": _rounded(self.p99),
            "tail": self.tail,
            "suggested": _plain(self.suggested),
            "reason": self.reason,
            "series": self.series,
            "alert_types": ", ".join(self.alert_types),
        }


def review(
    db: psycopg.Connection,
    month_start: date,
    month_end: date,
    *,
    project: ProjectVars | None = None,
    project_dir: Path | None = None,
) -> list[ThresholdReview]:
    """One review per threshold var, for the business days [month_start, month_end).

    Reads the marts and ops.alerts_log through `db` (pinned to the run's instant by the caller,
    for the views); writes nothing. A mart not built yet gives no values (the reason says so)."""
    if month_end <= month_start:
        raise ValueError(f"month_end {month_end} must be after month_start {month_start}")
    root = project_dir or paths.project_root()
    variables = project or project_vars.load(root)
    alert_types = model_alert_types(root)
    window = {
        "start": month_start,
        "end": month_end,
        "tz": variables.business_timezone,
    }
    days = (month_end - month_start).days
    reviews: list[ThresholdReview] = []
    for signal in SIGNALS:
        types = alert_types.get(signal.model, ())
        exists = _relation_exists(db, signal.relation)
        for level, var in ((WARNING, signal.warning_var), (CRITICAL, signal.critical_var)):
            threshold = float(variables.integer(var))
            values = _distribution(db, signal, threshold, window) if exists else None
            fired, fired_days = _alerts(db, types, level, window)
            reviews.append(
                _judge(signal, level, var, threshold, types, fired, fired_days, days, values)
            )
    return reviews


def model_alert_types(project_dir: Path) -> dict[str, tuple[str, ...]]:
    """model name -> the alert types its YAML declares (the model's meta and its tests')."""
    found: dict[str, set[str]] = {}
    for path in sorted((project_dir / "models").rglob("*.yml")):
        document = yaml.safe_load(path.read_text()) or {}
        for model in document.get("models") or []:
            types = found.setdefault(str(model.get("name")), set())
            for meta in _metas(model):
                if meta.get("alert_type"):
                    types.add(str(meta["alert_type"]))
    return {name: tuple(sorted(types)) for name, types in found.items() if types}


def _metas(model: dict[str, Any]) -> list[dict[str, Any]]:
    metas = [model.get("meta") or {}, (model.get("config") or {}).get("meta") or {}]
    for test in model.get("data_tests") or model.get("tests") or []:
        if isinstance(test, dict):
            for body in test.values():
                if isinstance(body, dict):
                    metas.append(body.get("meta") or {})
                    metas.append((body.get("config") or {}).get("meta") or {})
    return metas


def _relation_exists(db: psycopg.Connection, relation: str) -> bool:
    return db.execute("select to_regclass(%s) is not null", (relation,)).fetchone()[0]


def _distribution(
    db: psycopg.Connection, signal: Signal, threshold: float, window: dict[str, Any]
) -> tuple[Distribution, int]:
    """The month's distribution of the signal and how many values are beyond `threshold`."""
    fractions = [0.5, 0.9, 0.99] if signal.higher_is_worse else [0.5, 0.1, 0.01]
    beyond = "value > %(threshold)s" if signal.higher_is_worse else "value < %(threshold)s"
    row = db.execute(
        f"with series as ({signal.query})"
        " select count(*), percentile_cont(%(fractions)s::float8[])"
        " within group (order by value::float8),"
        f" count(*) filter (where {beyond}) from series",
        {**window, "fractions": fractions, "threshold": threshold},
    ).fetchone()
    count, percentiles, beyond_count = row
    median, p90, p99 = percentiles if count else (None, None, None)
    return Distribution(count, median, p90, p99), beyond_count


def _alerts(
    db: psycopg.Connection, types: tuple[str, ...], level: str, window: dict[str, Any]
) -> tuple[int, int]:
    """(alerts opened in the month, business days with one) of `types`: every severity for a
    warning threshold (a critical alert crossed the warning too), CRITICAL for a critical one."""
    if not types or not _relation_exists(db, "ops.alerts_log"):
        return 0, 0
    severity = "" if level == WARNING else " and severity = 'CRITICAL'"
    return db.execute(
        "select count(*), count(distinct (opened_at at time zone %(tz)s)::date)"
        " from ops.alerts_log where alert_type = any(%(types)s)"
        " and opened_at >= %(start)s::timestamp at time zone %(tz)s"
        f" and opened_at < %(end)s::timestamp at time zone %(tz)s{severity}",
        {**window, "types": list(types)},
    ).fetchone()


def _judge(
    signal: Signal,
    level: str,
    var: str,
    threshold: float,
    types: tuple[str, ...],
    fired: int,
    fired_days: int,
    days: int,
    measured: tuple[Distribution, int] | None,
) -> ThresholdReview:
    distribution, beyond = measured or (Distribution(0, None, None, None), 0)
    suggested, reason = _suggestion(signal, level, threshold, fired, fired_days, days, measured)
    return ThresholdReview(
        var=var,
        level=level,
        signal=signal.name,
        unit=signal.unit,
        current=threshold,
        alert_types=types,
        alerts_fired=fired,
        days_fired=fired_days,
        days_in_month=days,
        series=signal.series,
        values=distribution.count,
        beyond=beyond,
        median=distribution.median,
        p90=distribution.p90,
        p99=distribution.p99,
        tail="high" if signal.higher_is_worse else "low",
        suggested=suggested,
        reason=reason,
    )


def _suggestion(
    signal: Signal,
    level: str,
    threshold: float,
    fired: int,
    fired_days: int,
    days: int,
    measured: tuple[Distribution, int] | None,
) -> tuple[float, str]:
    """(suggested value, reason): the warning is judged by p90, the critical by p99. A tail
    past the threshold means the alert fires on more than 10 % (1 %) of the values: raise it to
    the next nice value past the tail, or fix the cause; otherwise keep it."""
    alerts = "1 alert" if fired == 1 else f"{fired} alerts"
    fired_text = f"fired on {fired_days} of {days} days ({alerts})" if fired else "never fired"
    if measured is None:
        return threshold, f"{fired_text}; {signal.relation} is not built: no values, keep"
    distribution, beyond = measured
    if not distribution.count:
        return threshold, f"{fired_text}; no values in the month ({signal.series}): keep"
    name, tail = ("p90", distribution.p90) if level == WARNING else ("p99", distribution.p99)
    assert tail is not None
    current = f"the {level} {_show(threshold, signal.unit)}"
    past = tail > threshold if signal.higher_is_worse else tail < threshold
    if past:
        side = "above" if signal.higher_is_worse else "below"
        verb = "raise" if signal.higher_is_worse else "lower"
        value = _nice_past(tail, threshold, signal.higher_is_worse)
        return value, (
            f"{fired_text}; {name} is {_show(tail, signal.unit)}, {side} {current}"
            f" ({beyond} of {distribution.count} values): {verb} to"
            f" {_show(value, signal.unit)} or fix the cause"
        )
    side = "under" if signal.higher_is_worse else "over"
    return threshold, f"{fired_text}; {name} {_show(tail, signal.unit)} {side} {current}: keep"


def _nice_past(tail: float, threshold: float, upward: bool) -> float:
    """The first multiple of a nice step (about a tenth of the threshold) past `tail`."""
    step = _nice_step(abs(threshold) / 10 or 1.0)
    if upward:
        return math.floor(tail / step + 1) * step
    return max(math.ceil(tail / step - 1) * step, 0.0)


def _nice_step(limit: float) -> float:
    """The largest of 1, 2, 2.5, 5 x 10^k not above `limit`."""
    power = 10.0 ** math.floor(math.log10(limit))
    return max(step * power for step in NICE_STEPS if step * power <= limit)


def _show(value: float, unit: str) -> str:
    if unit == "cents":
        return f"${value / 100:,.2f}"
    if unit == "pct":
        return f"{value:,.1f} %"
    if unit == "minutes":
        return f"{value:,.1f} min"
    return f"{value:,.0f} {unit}"


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _plain(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value
