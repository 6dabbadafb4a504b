"""The charts of the daily, weekly and monthly reports, drawn at generation time as inline SVG.

Each chart is read from the marts through the run's connection (pinned to its instant: the
views compute at it, and "today" is `analytics.monitoring_clock.business_date`, never the
latest date in a table), then drawn with matplotlib into one SVG string that the report's HTML
carries as it is: no fonts, images or scripts fetched, no time stamp, ids fixed by the chart's
name, so two renders of the same data are the same bytes.

- `PLAN`: which report shows which charts, under which of its sections.
- `report_figures(db, playbook, project)`: {section title -> HTML of its charts}, what
  `ReportDocument.figures` takes; `{}` for a playbook without charts (morning, hourly), and
  then matplotlib is never imported (it is imported inside `render` only).
- `read_chart(db, name, window, project)`: one chart's data (a `Chart`), from the marts.
- `render(chart)`: its markup, the contract the browser tests read:
  `<figure class="chart" id="chart-<name>" data-chart="<name>"><svg ...><desc>JSON</desc>...
  </svg><figcaption>...</figcaption></figure>`, where the JSON in `<desc>` is the data drawn
  (money in integer cents, as the marts hold it; the axes show dollars). A chart whose query
  failed or found no rows is a `<p class="note chart-note" data-chart="<name>">` instead.

Thresholds are the dbt vars (`orchestrator.project_vars`), the ones the models and tests use.
"""

from __future__ import annotations

import html
import io
import itertools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import psycopg

from orchestrator.errors import YtempireError, first_line
from orchestrator.project_vars import ProjectVars

if TYPE_CHECKING:
    from matplotlib.axes import Axes

REVENUE_VS_COST = "revenue_vs_cost"
COST_PER_VIDEO = "cost_per_video"
GOAL_BANDS = "goal_bands"
API_QUOTA = "api_quota"
DASHBOARD_P95 = "dashboard_p95"
TOP_TRENDING = "top_trending"
CHART_NAMES = (REVENUE_VS_COST, COST_PER_VIDEO, GOAL_BANDS, API_QUOTA, DASHBOARD_P95, TOP_TRENDING)

# playbook -> {section title -> the charts drawn under that section}
PLAN: dict[str, dict[str, tuple[str, ...]]] = {
    "eod": {
        "Daily summary": (REVENUE_VS_COST, COST_PER_VIDEO, API_QUOTA, DASHBOARD_P95, TOP_TRENDING),
        "User daily reports (today)": (GOAL_BANDS,),
    },
    "weekly": {
        "Weekly performance report": (REVENUE_VS_COST, COST_PER_VIDEO, API_QUOTA, DASHBOARD_P95),
    },
    "monthly": {"Monthly report": (REVENUE_VS_COST, COST_PER_VIDEO, GOAL_BANDS)},
}
WINDOW_DAYS = {"eod": 14, "weekly": 7}  # the days up to the run's day; monthly: its month
GOAL_BAND_EDGES_PCT = (25, 50, 75, 100)
TOP_TRENDING_COUNT = 10

TITLES = {
    REVENUE_VS_COST: "Revenue and cost by day",
    COST_PER_VIDEO: "Cost per video by day",
    GOAL_BANDS: "Users by monthly goal progress",
    API_QUOTA: "YouTube API quota used by day",
    DASHBOARD_P95: "Dashboard p95 query time by day",
    TOP_TRENDING: "Top trending videos",
}


@dataclass(frozen=True)
class Window:
    """The business dates a chart covers, both inclusive; `today` is the run's business date."""

    first: date
    last: date
    today: date

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]

    def describe(self) -> str:
        return f"{self.first.isoformat()} to {self.last.isoformat()}"


@dataclass(frozen=True)
class Chart:
    """One chart: its data (JSON-ready) and caption, or the note shown instead of it."""

    name: str
    caption: str
    data: dict[str, Any] | None = None
    note: str | None = None


def window_for(playbook: str, business_date: date) -> Window:
    """eod and weekly: the last N days up to the run's day. monthly: the month of the day
    before the run (on the 1st, the whole month just ended), up to the run's day at most."""
    if playbook in WINDOW_DAYS:
        first = business_date - timedelta(days=WINDOW_DAYS[playbook] - 1)
        return Window(first, business_date, business_date)
    first = (business_date - timedelta(days=1)).replace(day=1)
    month_end = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return Window(first, min(month_end, business_date), business_date)


# -- reading the marts -------------------------------------------------------------------------

REVENUE_BY_DAY_SQL = """
select revenue_date, cast(sum(revenue_cents) as bigint)
from analytics.fct_revenue
where revenue_date between %(first)s and %(last)s
group by revenue_date
"""
COSTS_BY_DAY_SQL = """
select cost_date, total_cost_cents, video_count, avg_cost_per_video_cents
from analytics.cost_rollup_daily
where is_total_row and cost_date between %(first)s and %(last)s
"""
QUOTA_BY_DAY_SQL = """
select usage_date, units_used from analytics.api_quota_usage
where usage_date between %(first)s and %(last)s
"""
DASHBOARD_P95_SQL = """
select dashboard_name, query_date, p95_duration_ms from analytics.dashboard_performance
where query_date between %(first)s and %(last)s
order by dashboard_name, query_date
"""
# width_bucket: 0 below the first edge, n at or above the last one
GOAL_BANDS_TODAY_SQL = """
select width_bucket(goal_progress_pct, cast(%(edges)s as numeric[])), count(*)
from analytics.user_revenue_tracking
where goal_progress_pct is not null
group by 1
"""
GOAL_BANDS_ON_DAY_SQL = """
select width_bucket(goal_progress_pct, cast(%(edges)s as numeric[])), count(*)
from analytics.user_daily_reports
where goal_progress_pct is not null and report_date = %(last)s
group by 1
"""
TOP_TRENDING_SQL = """
select trending_rank, video_id, video_title, channel_title, trending_score, views_gained_24h
from analytics.trending_videos
order by trending_rank
limit %(limit)s
"""


def number(value: Any) -> Any:
    """A value as JSON: Decimal as an int when whole, else a float; None stays None."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _fetch(db: psycopg.Connection, sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    with db.transaction():  # a savepoint: a failed chart leaves the run's transaction usable
        return db.execute(sql, dict(params)).fetchall()


def _by_day(rows: Sequence[Sequence[Any]], window: Window, column: int = 1) -> list[Any]:
    """One value per day of the window (None where the mart has no row)."""
    values = {row[0]: number(row[column]) for row in rows}
    return [values.get(day) for day in window.days]


def _dates(window: Window) -> list[str]:
    return [day.isoformat() for day in window.days]


def _revenue_vs_cost(db: psycopg.Connection, window: Window, project: ProjectVars) -> dict:
    params = {"first": window.first, "last": window.last}
    revenue = _by_day(_fetch(db, REVENUE_BY_DAY_SQL, params), window)
    cost = _by_day(_fetch(db, COSTS_BY_DAY_SQL, params), window)
    return {"dates": _dates(window), "revenue_cents": revenue, "cost_cents": cost}


def _cost_per_video(db: psycopg.Connection, window: Window, project: ProjectVars) -> dict:
    rows = _fetch(db, COSTS_BY_DAY_SQL, {"first": window.first, "last": window.last})
    return {
        "dates": _dates(window),
        "cost_per_video_cents": _by_day(rows, window, column=3),
        "video_count": _by_day(rows, window, column=2),
        "thresholds_cents": {
            level: project.integer(f"cost_per_video_{level}_cents")
            for level in ("watch", "warning", "critical")
        },
    }


def _api_quota(db: psycopg.Connection, window: Window, project: ProjectVars) -> dict:
    rows = _fetch(db, QUOTA_BY_DAY_SQL, {"first": window.first, "last": window.last})
    return {
        "dates": _dates(window),
        "units_used": _by_day(rows, window),
        "thresholds_units": {
            "warning": project.integer("api_quota_warning_units"),
            "critical": project.integer("api_quota_critical_units"),
            "daily_quota": project.integer("api_quota_daily_units"),
        },
    }


def _dashboard_p95(db: psycopg.Connection, window: Window, project: ProjectVars) -> dict:
    rows = _fetch(db, DASHBOARD_P95_SQL, {"first": window.first, "last": window.last})
    names = sorted({row[0] for row in rows})
    return {
        "dates": _dates(window),
        "p95_ms": {
            name: _by_day([row[1:] for row in rows if row[0] == name], window) for name in names
        },
        "thresholds_ms": {
            "warning": project.integer("dashboard_warning_ms"),
            "critical": project.integer("dashboard_critical_ms"),
        },
    }


def goal_band_labels() -> list[str]:
    edges = GOAL_BAND_EDGES_PCT
    labels = [f"under {edges[0]} %"]
    labels += [f"{low}-{high} %" for low, high in itertools.pairwise(edges)]
    return [*labels, f"{edges[-1]} % and over"]


def _goal_bands(db: psycopg.Connection, window: Window, project: ProjectVars) -> dict:
    """Today from user_revenue_tracking; a past day (the monthly report's month end) from that
    day's user_daily_reports snapshot."""
    sql = GOAL_BANDS_TODAY_SQL if window.last == window.today else GOAL_BANDS_ON_DAY_SQL
    rows = _fetch(db, sql, {"edges": list(GOAL_BAND_EDGES_PCT), "last": window.last})
    counts = dict(rows)
    return {
        "as_of_date": window.last.isoformat(),
        "bands": goal_band_labels(),
        "band_edges_pct": list(GOAL_BAND_EDGES_PCT),
        "users": [counts.get(band, 0) for band in range(len(GOAL_BAND_EDGES_PCT) + 1)],
    }


def _top_trending(db: psycopg.Connection, window: Window, project: ProjectVars) -> dict:
    rows = _fetch(db, TOP_TRENDING_SQL, {"limit": TOP_TRENDING_COUNT})
    keys = ("rank", "video_id", "video_title", "channel_title", "trending_score",
            "views_gained_24h")  # fmt: skip
    return {"videos": [{k: number(v) for k, v in zip(keys, row, strict=True)} for row in rows]}


Reader = Callable[[psycopg.Connection, Window, ProjectVars], dict]
READERS: dict[str, Reader] = {
    REVENUE_VS_COST: _revenue_vs_cost,
    COST_PER_VIDEO: _cost_per_video,
    GOAL_BANDS: _goal_bands,
    API_QUOTA: _api_quota,
    DASHBOARD_P95: _dashboard_p95,
    TOP_TRENDING: _top_trending,
}


def _has_rows(name: str, data: Mapping[str, Any]) -> bool:
    if name == TOP_TRENDING:
        return bool(data["videos"])
    if name == GOAL_BANDS:
        return any(data["users"])
    if name == DASHBOARD_P95:
        return bool(data["p95_ms"])
    series = [value for key, value in data.items() if key != "dates" and isinstance(value, list)]
    return any(value is not None for values in series for value in values)


def caption(name: str, window: Window) -> str:
    if name == TOP_TRENDING:
        return f"{TITLES[name]} of the last 24 hours (trending score)"
    if name == GOAL_BANDS:
        return f"{TITLES[name]} on {window.last.isoformat()} (users per band)"
    return f"{TITLES[name]}, {window.describe()}"


def read_chart(db: psycopg.Connection, name: str, window: Window, project: ProjectVars) -> Chart:
    """One chart's data from the marts; a failed query or no rows is a note, never an error."""
    text = caption(name, window)
    try:
        data = READERS[name](db, window, project)
    except (psycopg.Error, YtempireError) as exc:  # a query that failed, a var missing
        return Chart(name, text, note=f"{text}: not drawn ({first_line(exc)})")
    if not _has_rows(name, data):
        return Chart(name, text, note=f"{text}: no data in the marts")
    return Chart(name, text, data=data)


def business_date(db: psycopg.Connection) -> date:
    """The run's business date, as every mart reads it (the clock at the pinned instant)."""
    [(today,)] = _fetch(db, "select business_date from analytics.monitoring_clock", {})
    return today


def report_figures(db: psycopg.Connection, playbook: str, project: ProjectVars) -> dict[str, str]:
    """{section title -> the HTML of its charts} for `playbook`'s report ({} when it has none)."""
    plan = PLAN.get(playbook)
    if not plan:
        return {}
    try:
        today = business_date(db)
    except psycopg.Error as exc:
        note = f"charts not drawn: the business date could not be read ({first_line(exc)})"
        return {
            title: "\n".join(_note_html(name, note) for name in names)
            for title, names in plan.items()
        }
    window = window_for(playbook, today)
    return {
        title: "\n".join(_drawn(read_chart(db, name, window, project)) for name in names)
        for title, names in plan.items()
    }


FIGURE_TAG = re.compile(r'<figure class="chart" id="chart-[^"]+" data-chart="([^"]+)">')


def drawn_chart_names(figures: Mapping[str, str]) -> list[str]:
    """The charts `report_figures` drew (not the notes), in the report's order."""
    return [name for markup in figures.values() for name in FIGURE_TAG.findall(markup)]


def _drawn(chart: Chart) -> str:
    try:
        return render(chart)
    except Exception as exc:  # a chart that cannot be drawn must not cost the report its tables
        return _note_html(chart.name, f"{chart.caption}: not drawn ({type(exc).__name__}: {exc})")


# -- drawing -----------------------------------------------------------------------------------

FIGURE_SIZE_IN = (7.5, 3.2)
COLORS = {"revenue": "#1a7f37", "cost": "#cf222e", "bar": "#0969da", "watch": "#bf8700",
          "warning": "#e16f24", "critical": "#cf222e", "daily_quota": "#57606a"}  # fmt: skip
RC = {
    "svg.fonttype": "none",  # text stays text (searchable, no glyph outlines)
    "svg.id": None,
    "text.parse_math": False,  # "$3.00 ... $3.50" and video titles are not TeX
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.grid.axis": "y",
    "axes.axisbelow": True,
    "grid.color": "#d0d7de",
    "grid.linewidth": 0.6,
    "legend.fontsize": 8,
    "legend.frameon": False,
}
LEGEND_OUTSIDE = {"loc": "upper left", "bbox_to_anchor": (1.0, 1.0)}  # right of the plot
NO_METADATA = {"Creator": None, "Date": None, "Format": None, "Type": None}


def dollars(cents: float, decimals: int = 0) -> str:
    return f"${cents / 100:,.{decimals}f}"


def render(chart: Chart) -> str:
    """The chart's `<figure>` (see the module docstring), or its note."""
    if chart.data is None:
        return _note_html(chart.name, chart.note or chart.caption)
    svg = _svg(chart)
    return (
        f'<figure class="chart" id="chart-{chart.name}" data-chart="{chart.name}">{svg}'
        f"<figcaption>{html.escape(chart.caption)}</figcaption></figure>"
    )


def _note_html(name: str, note: str) -> str:
    return f'<p class="note chart-note" data-chart="{name}">{html.escape(note)}</p>'


def _svg(chart: Chart) -> str:
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context({**RC, "svg.hashsalt": f"ytempire-{chart.name}"}):
        figure = Figure(figsize=FIGURE_SIZE_IN, layout="constrained")
        DRAW[chart.name](figure.add_subplot(), chart.data or {})
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata=NO_METADATA)
    return _inline(buffer.getvalue(), chart)


def _inline(svg: str, chart: Chart) -> str:
    """matplotlib's SVG file made an element of the page: no XML prolog or namespace URLs (the
    HTML parser gives inline SVG its namespace), `href` for `xlink:href`, every id prefixed with
    the chart's name (several charts share a page), the data as JSON in `<desc>`, a label."""
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", svg, count=2)
    svg = svg.replace("xlink:href=", "href=")
    prefix = f"chart-{chart.name}-"
    svg = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}\1"', svg)
    svg = re.sub(r'href="#([^"]+)"', rf'href="#{prefix}\1"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", rf"url(#{prefix}\1)", svg)
    head_end = svg.index(">") + 1
    label = html.escape(chart.caption)
    desc = html.escape(json.dumps(chart.data, ensure_ascii=False), quote=False)
    head = svg[: head_end - 1] + f' role="img" aria-label="{label}">'
    return f"{head}\n <desc>{desc}</desc>{svg[head_end:].rstrip()}"


def _day_axis(axes: Axes, dates: Sequence[str]) -> list[int]:
    positions = list(range(len(dates)))
    step = max(1, -(-len(dates) // 10))  # at most about 10 labels
    axes.set_xticks(positions[::step], [day[5:] for day in dates[::step]])
    axes.set_xlim(-0.6, len(dates) - 0.4)
    return positions


def _money_axis(axes: Axes, decimals: int = 0) -> None:
    from matplotlib.ticker import FuncFormatter

    axes.yaxis.set_major_formatter(FuncFormatter(lambda cents, _: dollars(cents, decimals)))


def _thresholds(axes: Axes, levels: Mapping[str, float], label: Callable[[float], str]) -> None:
    styles = {"watch": ":", "warning": "--", "critical": "-.", "daily_quota": "-"}
    for level, value in levels.items():
        name = level.replace("_", " ")
        axes.axhline(value, color=COLORS[level], linestyle=styles[level], linewidth=1.1,
                     label=f"{name} {label(value)}", gid=f"threshold-{level}")  # fmt: skip


def _zero(values: Sequence[Any]) -> list[float]:
    return [0 if value is None else value for value in values]


def _draw_revenue_vs_cost(axes: Axes, data: Mapping[str, Any]) -> None:
    positions = _day_axis(axes, data["dates"])
    width = 0.4
    axes.bar([p - width / 2 for p in positions], _zero(data["revenue_cents"]), width,
             color=COLORS["revenue"], label="revenue")  # fmt: skip
    axes.bar([p + width / 2 for p in positions], _zero(data["cost_cents"]), width,
             color=COLORS["cost"], label="cost")  # fmt: skip
    _money_axis(axes)
    axes.legend(**LEGEND_OUTSIDE)


def _draw_cost_per_video(axes: Axes, data: Mapping[str, Any]) -> None:
    positions = _day_axis(axes, data["dates"])
    values = [float("nan") if v is None else v for v in data["cost_per_video_cents"]]
    axes.plot(positions, values, marker="o", color=COLORS["bar"], label="cost per video")
    levels = data["thresholds_cents"]
    _thresholds(axes, levels, lambda cents: dollars(cents, 2))
    top = max([*levels.values(), *(v for v in values if v == v)])
    axes.set_ylim(0, top * 1.15)
    _money_axis(axes, 2)
    axes.legend(**LEGEND_OUTSIDE)


def _draw_api_quota(axes: Axes, data: Mapping[str, Any]) -> None:
    positions = _day_axis(axes, data["dates"])
    axes.bar(positions, _zero(data["units_used"]), 0.6, color=COLORS["bar"], label="units used")
    levels = data["thresholds_units"]
    _thresholds(axes, levels, lambda units: f"{units:,.0f}")
    axes.set_ylim(0, max([*levels.values(), *_zero(data["units_used"])]) * 1.1)
    axes.legend(**LEGEND_OUTSIDE)


def _draw_dashboard_p95(axes: Axes, data: Mapping[str, Any]) -> None:
    from matplotlib.ticker import FuncFormatter

    positions = _day_axis(axes, data["dates"])
    for name, series in data["p95_ms"].items():
        values = [float("nan") if v is None else v for v in series]
        axes.plot(positions, values, marker=".", linewidth=1.2, label=name)
    _thresholds(axes, data["thresholds_ms"], lambda ms: f"{ms / 1000:g} s")
    axes.set_ylim(bottom=0)
    axes.yaxis.set_major_formatter(FuncFormatter(lambda ms, _: f"{ms / 1000:g} s"))
    axes.legend(**LEGEND_OUTSIDE)


def _draw_goal_bands(axes: Axes, data: Mapping[str, Any]) -> None:
    bars = axes.bar(data["bands"], data["users"], 0.6, color=COLORS["bar"])
    from matplotlib.ticker import MaxNLocator

    axes.bar_label(bars, fmt="%d")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylabel("users")


def _draw_top_trending(axes: Axes, data: Mapping[str, Any]) -> None:
    videos = data["videos"]
    labels = [f"#{v['rank']} {_short(v['video_title'] or str(v['video_id']))}" for v in videos]
    axes.barh(range(len(videos)), [v["trending_score"] or 0 for v in videos], color=COLORS["bar"])
    axes.set_yticks(range(len(videos)), labels)
    axes.invert_yaxis()
    axes.grid(axis="x")
    axes.grid(axis="y", visible=False)
    axes.set_xlabel("trending score")


def _short(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 1] + "\u2026"


DRAW: dict[str, Callable[[Axes, Mapping[str, Any]], None]] = {
    REVENUE_VS_COST: _draw_revenue_vs_cost,
    COST_PER_VIDEO: _draw_cost_per_video,
    GOAL_BANDS: _draw_goal_bands,
    API_QUOTA: _draw_api_quota,
    DASHBOARD_P95: _draw_dashboard_p95,
    TOP_TRENDING: _draw_top_trending,
}
