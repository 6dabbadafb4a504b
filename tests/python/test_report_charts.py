"""The reports' charts (orchestrator.report_charts): data, markup, determinism, and one eod run.

Most tests read a small hand-written set of mart tables (schema `analytics` in a fresh database
of the embedded PostgreSQL) whose expected chart data is written out below by hand: rows outside
the window, after the run's day and category rows must not count, missing days are gaps. The
SVG is parsed as XML, its threshold lines are placed against the axis' own tick labels, and a
render in another process must give the same bytes. One `ytempire demo` + `ytempire eod` through
CliRunner then checks the report file's charts against the marts at the run's instant and a
Python recomputation of the costs from raw, and the email's charts against the file's.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner
from conftest import PROJECT_DIR, Warehouse, warehouse_factory
from marts_oracle_core import load_raw, project_vars
from marts_oracle_finance import expected_cost_rollup_daily
from notify_servers import RecordingSMTPServer

from orchestrator import playbooks, report_charts
from orchestrator import project_vars as wrapper_vars
from orchestrator.cli import main
from orchestrator.connection import connect
from orchestrator.report_charts import Chart, Window
from orchestrator.report_files import ReportDocument, render_html
from orchestrator.sections import ReportSection

TODAY = date(2026, 11, 15)
EOD = Window(date(2026, 11, 2), TODAY, TODAY)
NASTY = 'Tom & Jerry <script>alert("x")</script> $1 $2'

MARTS_DDL = """
create schema analytics;
create table analytics.monitoring_clock (checked_at timestamptz, business_date date);
create table analytics.fct_revenue (video_id bigint, revenue_cents bigint, revenue_date date);
create table analytics.cost_rollup_daily (cost_category text, video_count bigint,
    total_cost_cents bigint, avg_cost_per_video_cents numeric(18, 2), is_total_row boolean,
    cost_date date);
create table analytics.api_quota_usage (usage_date date, units_used bigint);
create table analytics.dashboard_performance (dashboard_name text, query_date date,
    p95_duration_ms numeric);
create table analytics.user_revenue_tracking (user_id bigint, goal_progress_pct numeric(18, 2));
create table analytics.user_daily_reports (user_id bigint, report_date date,
    goal_progress_pct numeric(18, 2));
create table analytics.trending_videos (trending_rank bigint, video_id bigint, video_title text,
    channel_title text, trending_score numeric, views_gained_24h bigint);
"""
ROWS = {
    "monitoring_clock": [(datetime(2026, 11, 15, 18, tzinfo=UTC), TODAY)],
    "fct_revenue": [
        (1, 1000, date(2026, 11, 14)), (2, 250, date(2026, 11, 14)), (1, 700, TODAY),
        (1, 9999, date(2026, 11, 1)),  # before the window
        (1, 5555, date(2026, 11, 16)),  # after the run's day
    ],
    "cost_rollup_daily": [
        ("TOTAL", 2, 600, Decimal("300.00"), True, date(2026, 11, 14)),
        ("voice", 1, 200, Decimal("200.00"), False, date(2026, 11, 14)),  # a category row
        ("TOTAL", 3, 1000, Decimal("333.33"), True, TODAY),
        ("TOTAL", 1, 100, Decimal("100.00"), True, date(2026, 11, 16)),
    ],
    "api_quota_usage": [(date(2026, 11, 13), 8000), (TODAY, 9500), (date(2026, 10, 1), 100)],
    "dashboard_performance": [
        ("b_dash", TODAY, Decimal("2500.5")), ("a_dash", date(2026, 11, 14), Decimal("1200")),
        ("a_dash", TODAY, Decimal("6000")), ("a_dash", date(2026, 10, 20), Decimal("1")),
    ],
    "user_revenue_tracking": [
        (n, pct) for n, pct in enumerate(
            [0, "24.99", 25, "49.99", 50, "99.99", 100, 150, None], start=1
        )
    ],
    "user_daily_reports": [
        (1, date(2026, 10, 31), 10), (2, date(2026, 10, 31), 80), (3, date(2026, 10, 31), 120),
        (1, TODAY, 5),
    ],
    "trending_videos": [
        (1, 11, NASTY, "Chan & Co", Decimal("120.5"), 900),
        *[(rank, 10 + rank, f"Video {rank}", "Chan", Decimal(100 - rank), 10 * rank)
          for rank in range(2, 13)],
    ],
}  # fmt: skip


def gaps(values: dict[date, Any], window: Window = EOD) -> list[Any]:
    return [values.get(day) for day in window.days]


# the charts of ROWS in the eod window, written out by hand
EXPECTED = {
    "revenue_vs_cost": {
        "dates": [day.isoformat() for day in EOD.days],
        "revenue_cents": gaps({date(2026, 11, 14): 1250, TODAY: 700}),
        "cost_cents": gaps({date(2026, 11, 14): 600, TODAY: 1000}),
    },
    "cost_per_video": {
        "dates": [day.isoformat() for day in EOD.days],
        "cost_per_video_cents": gaps({date(2026, 11, 14): 300, TODAY: 333.33}),
        "video_count": gaps({date(2026, 11, 14): 2, TODAY: 3}),
        "thresholds_cents": {"watch": 250, "warning": 300, "critical": 350},
    },
    "api_quota": {
        "dates": [day.isoformat() for day in EOD.days],
        "units_used": gaps({date(2026, 11, 13): 8000, TODAY: 9500}),
        "thresholds_units": {"warning": 7500, "critical": 9000, "daily_quota": 10000},
    },
    "dashboard_p95": {
        "dates": [day.isoformat() for day in EOD.days],
        "p95_ms": {
            "a_dash": gaps({date(2026, 11, 14): 1200, TODAY: 6000}),
            "b_dash": gaps({TODAY: 2500.5}),
        },
        "thresholds_ms": {"warning": 2000, "critical": 5000},
    },
    "goal_bands": {
        "as_of_date": "2026-11-15",
        "bands": ["under 25 %", "25-50 %", "50-75 %", "75-100 %", "100 % and over"],
        "band_edges_pct": [25, 50, 75, 100],
        "users": [2, 2, 1, 1, 2],
    },
    "top_trending": {
        "videos": [
            {"rank": 1, "video_id": 11, "video_title": NASTY, "channel_title": "Chan & Co",
             "trending_score": 120.5, "views_gained_24h": 900},
            *[{"rank": rank, "video_id": 10 + rank, "video_title": f"Video {rank}",
               "channel_title": "Chan", "trending_score": 100 - rank,
               "views_gained_24h": 10 * rank} for rank in range(2, 11)],
        ]
    },
}  # fmt: skip
# the threshold vars of each chart's levels (names as in dbt_project.yml)
THRESHOLD_VARS = {
    "cost_per_video": ("thresholds_cents", {"watch": "cost_per_video_watch_cents",
        "warning": "cost_per_video_warning_cents", "critical": "cost_per_video_critical_cents"}),
    "api_quota": ("thresholds_units", {"warning": "api_quota_warning_units",
        "critical": "api_quota_critical_units", "daily_quota": "api_quota_daily_units"}),
    "dashboard_p95": ("thresholds_ms", {"warning": "dashboard_warning_ms",
        "critical": "dashboard_critical_ms"}),
}  # fmt: skip


def create_marts(warehouse: Warehouse, with_rows: bool) -> None:
    with connect(warehouse.conn) as db:
        db.execute(MARTS_DDL)
        for table, rows in ROWS.items():
            if with_rows or table == "monitoring_clock":
                marks = ", ".join(["%s"] * len(rows[0]))
                with db.cursor() as cursor:
                    cursor.executemany(f"insert into analytics.{table} values ({marks})", rows)


@pytest.fixture(scope="module")
def marts(embedded_server, tmp_path_factory) -> Iterator[dict[str, Warehouse]]:
    with warehouse_factory(embedded_server, tmp_path_factory) as make:
        full, empty = make("charts"), make("charts-empty")
        create_marts(full, with_rows=True)
        create_marts(empty, with_rows=False)
        yield {"full": full, "empty": empty}


@pytest.fixture(scope="module")
def project() -> wrapper_vars.ProjectVars:
    return wrapper_vars.load(PROJECT_DIR)


@pytest.fixture(scope="module")
def charts(marts, project) -> dict[str, Chart]:
    with connect(marts["full"].conn) as db:
        return {name: report_charts.read_chart(db, name, EOD, project) for name in EXPECTED}


def svg_of(markup: str) -> ET.Element:
    [svg] = re.findall(r"<svg\b.*?</svg>", markup, flags=re.S)
    return ET.fromstring(svg)


# -- which days, which report ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("playbook", "today", "first", "last"),
    [
        ("eod", TODAY, date(2026, 11, 2), TODAY),
        ("weekly", date(2026, 11, 1), date(2026, 10, 26), date(2026, 11, 1)),
        ("monthly", date(2026, 12, 1), date(2026, 11, 1), date(2026, 11, 30)),  # the month done
        ("monthly", date(2026, 3, 1), date(2026, 2, 1), date(2026, 2, 28)),
        ("monthly", TODAY, date(2026, 11, 1), TODAY),  # run by hand mid-month: so far
    ],
)
def test_each_report_charts_its_days(playbook: str, today: date, first: date, last: date) -> None:
    window = report_charts.window_for(playbook, today)
    assert (window.first, window.last, window.today) == (first, last, today)
    assert len(window.days) == (last - first).days + 1 and window.days[-1] == last


def test_the_plan_names_sections_the_playbooks_have() -> None:
    for playbook, sections in report_charts.PLAN.items():
        titles = {report.title for report in playbooks.PLAYBOOKS[playbook].reports}
        assert set(sections) <= titles, playbook
    charted = {name for sections in report_charts.PLAN.values() for names in sections.values()
               for name in names}  # fmt: skip
    assert charted == set(report_charts.CHART_NAMES)
    assert sorted(n for names in report_charts.PLAN["eod"].values() for n in names) == sorted(
        report_charts.CHART_NAMES
    )


# -- data --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(EXPECTED))
def test_chart_data_is_the_marts(charts, name: str) -> None:
    chart = charts[name]
    assert chart.note is None
    assert chart.data == EXPECTED[name]
    [desc] = svg_of(report_charts.render(chart)).iter("desc")
    assert json.loads(desc.text or "") == EXPECTED[name]


def test_goal_bands_of_a_past_day_read_its_daily_snapshot(marts, project) -> None:
    october = Window(date(2026, 10, 1), date(2026, 10, 31), TODAY)
    with connect(marts["full"].conn) as db:
        chart = report_charts.read_chart(db, "goal_bands", october, project)
    assert chart.data is not None and chart.data["users"] == [1, 0, 0, 1, 1]
    assert chart.data["as_of_date"] == "2026-10-31"


@pytest.mark.parametrize("name", list(THRESHOLD_VARS))
def test_threshold_lines_are_at_the_vars(charts, name: str) -> None:
    variables = project_vars()
    key, levels = THRESHOLD_VARS[name]
    assert charts[name].data[key] == {level: variables[var] for level, var in levels.items()}
    svg = svg_of(report_charts.render(charts[name]))
    to_y = tick_scale(svg, name)
    for level, var in levels.items():
        [line] = [g for g in svg.iter("g") if g.get("id") == f"chart-{name}-threshold-{level}"]
        [path] = line.iter("path")
        y_values = {float(y) for y in re.findall(r"[ML] [-\d.]+ ([-\d.]+)", path.get("d", ""))}
        assert len(y_values) == 1 and abs(y_values.pop() - to_y(variables[var])) < 0.05, level


def tick_scale(svg: ET.Element, name: str):
    """value -> y of the chart's value axis, from two of its labelled ticks."""
    ticks = []
    for group in svg.iter("g"):
        if re.fullmatch(rf"chart-{name}-ytick_\d+", group.get("id", "")):
            [use] = group.iter("use")
            [text] = [t.text for t in group.iter("text")]
            ticks.append((tick_value(text or ""), float(use.get("y", "nan"))))
    (v0, y0), (v1, y1) = ticks[0], ticks[-1]
    return lambda value: y0 + (value - v0) * (y1 - y0) / (v1 - v0)


def tick_value(label: str) -> float:
    """The data value of a tick label: "$3.50" is 350 cents, "2 s" 2,000 ms, "8000" units."""
    plain = label.replace(",", "").replace("\u2212", "-")
    if plain.startswith("$"):
        return float(plain[1:]) * 100
    if plain.endswith(" s"):
        return float(plain[:-2]) * 1000
    return float(plain)


# -- markup ------------------------------------------------------------------------------------


def test_the_markup_contract_and_a_self_contained_page(charts) -> None:
    for name, chart in charts.items():
        markup = report_charts.render(chart)
        assert re.fullmatch(
            rf'<figure class="chart" id="chart-{name}" data-chart="{name}"><svg [^>]*>.*</svg>'
            r"<figcaption>[^<]+</figcaption></figure>",
            markup,
            flags=re.S,
        ), name
        svg = svg_of(markup)
        assert svg.tag == "svg" and svg.get("role") == "img"
        ids = [element.get("id") for element in svg.iter() if element.get("id")]
        assert ids and all(i.startswith(f"chart-{name}-") for i in ids)
        assert len(ids) == len(set(ids))
    section = ReportSection("Daily summary", columns=["x"], rows=[(1,)])
    page = render_html(ReportDocument(
        playbook="eod", title="End of day", instant=datetime(2026, 11, 15, 18, tzinfo=UTC),
        run_id=1, sections=[section],
        figures={"Daily summary": "\n".join(map(report_charts.render, charts.values()))},
    ))  # fmt: skip
    for forbidden in ("http:", "https:", "<script", "<link", "src=", "@import"):
        assert forbidden not in page, forbidden
    anchors = {f"#{i}" for i in re.findall(r'id="([^"]+)"', page)}
    assert set(re.findall(r"url\(([^)]*)\)", page)) <= anchors  # nothing outside the page
    # the nasty title is text, escaped, not markup
    assert "<script" not in page and "Tom &amp; Jerry &lt;script&gt;" in page
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))


def test_two_renders_are_the_same_bytes_even_in_another_process(charts) -> None:
    program = (
        "import json, sys\n"
        "from orchestrator.report_charts import Chart, render\n"
        "for item in json.load(sys.stdin):\n"
        "    sys.stdout.write(render(Chart(**item)) + '\\0')\n"
    )
    items = [{"name": c.name, "caption": c.caption, "data": c.data} for c in charts.values()]
    done = subprocess.run(
        [sys.executable, "-c", program], input=json.dumps(items), capture_output=True,
        text=True, check=True, cwd=PROJECT_DIR,
    )  # fmt: skip
    here = [report_charts.render(chart) for chart in charts.values()]
    assert here == [report_charts.render(chart) for chart in charts.values()]
    assert done.stdout.split("\0")[:-1] == here


def test_no_rows_or_a_failed_query_is_a_note(marts, project) -> None:
    with connect(marts["empty"].conn) as db:
        figures = report_charts.report_figures(db, "eod", project)
        assert set(figures) == set(report_charts.PLAN["eod"])
        markup = "\n".join(figures.values())
        assert "<figure" not in markup and "<svg" not in markup
        notes = re.findall(r'<p class="note chart-note" data-chart="([^"]+)">([^<]+)</p>', markup)
        assert sorted(name for name, _ in notes) == sorted(report_charts.CHART_NAMES)
        assert all(text.endswith("no data in the marts") for _, text in notes)
    with connect(marts["full"].conn) as db, db.transaction():
        db.execute("drop table analytics.trending_videos")
        chart = report_charts.read_chart(db, "top_trending", EOD, project)
        assert chart.data is None and "trending_videos" in (chart.note or "")
        assert "not drawn" in report_charts.render(chart)
        # the run's transaction is still usable after the failed chart
        assert db.execute("select count(*) from analytics.api_quota_usage").fetchone() == (3,)
        db.execute("drop table analytics.monitoring_clock")
        figures = report_charts.report_figures(db, "monthly", project)
        notes = re.findall(r'<p class="note chart-note" data-chart="([^"]+)">([^<]+)</p>',
                           figures["Monthly report"])  # fmt: skip
        assert [name for name, _ in notes] == list(report_charts.PLAN["monthly"]["Monthly report"])
        assert all("business date could not be read" in text for _, text in notes)
        raise psycopg.Rollback()


def test_playbooks_without_charts_never_import_matplotlib() -> None:
    program = (
        "import sys\n"
        "from orchestrator import cli, playbooks, playbook_steps, report_charts, report_files\n"
        "assert report_charts.report_figures(None, 'hourly', None) == {}\n"
        "assert report_charts.report_figures(None, 'morning', None) == {}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True,
        cwd=PROJECT_DIR,
    )  # fmt: skip
    assert done.stdout.strip() == "[]"


# -- one end-of-day run ------------------------------------------------------------------------

AS_OF = datetime(2026, 11, 15, 18, 0, tzinfo=UTC)
FIGURE = re.compile(r'<figure class="chart" id="chart-([^"]+)" data-chart="\1">.*?</figure>', re.S)


@pytest.fixture(scope="module")
def eod_run(embedded_server, tmp_path_factory) -> Iterator[dict[str, Any]]:
    """`ytempire demo` then `ytempire eod` at AS_OF, the daily email to a real SMTP server."""
    state = tmp_path_factory.mktemp("charts_state")
    smtp = RecordingSMTPServer().start()
    with warehouse_factory(embedded_server, tmp_path_factory) as make:
        warehouse = make("charts-eod")
        env = {
            **warehouse.conn.env(),
            "YTEMPIRE_TARGET_PATH": str(warehouse.target_path),
            "YTEMPIRE_OUTAGE_FILE": str(state / "outage.json"),
            "YTEMPIRE_UNDELIVERED_FILE": str(state / "undelivered.jsonl"),
            "YTEMPIRE_REPORTS_DIR": str(state / "reports"),
            "YTEMPIRE_BACKUP_DIR": str(state / "backups"),
            "YTEMPIRE_LOG_DIR": str(state / "logs"),
            "YTEMPIRE_SMTP_URL": f"smtp://127.0.0.1:{smtp.port}",
            "YTEMPIRE_EMAIL_FROM": "analytics@ytempire.test",
            "YTEMPIRE_ONCALL_EMAIL": "oncall@ytempire.test",
        }
        runner = CliRunner()
        demo = runner.invoke(
            main, ["demo", "--scale", "0.02", "--days", "20", "--as-of", AS_OF.isoformat()],
            env=env,
        )  # fmt: skip
        assert demo.exit_code == 0, demo.output[-3000:]
        eod = runner.invoke(main, ["eod", "--as-of", AS_OF.isoformat(), "--json"], env=env)
        assert eod.exit_code == 0, eod.output[-3000:]
        document = json.loads(eod.stdout)
        yield {
            "warehouse": warehouse,
            "html": Path(document["report_files"]["html"]).read_text(),
            "text": Path(document["report_files"]["text"]).read_text(),
            "mail": smtp.messages,
        }
    smtp.stop()


def eod_charts(eod_run) -> dict[str, dict[str, Any]]:
    return {
        name: json.loads(svg_of(match.group(0)).find("desc").text or "")
        for name, match in ((m.group(1), m) for m in FIGURE.finditer(eod_run["html"]))
    }


@pytest.mark.slow
def test_eod_report_charts_equal_the_marts_and_raw(eod_run) -> None:
    charts = eod_charts(eod_run)
    assert sorted(charts) == sorted(report_charts.CHART_NAMES)
    warehouse = eod_run["warehouse"]
    days = [AS_OF.date() - timedelta(days=n) for n in range(13, -1, -1)]
    dates = [day.isoformat() for day in days]
    raw = load_raw(warehouse.query_dicts, AS_OF)
    # costs: recomputed in Python from raw (the oracle of the finance marts)
    totals = {key[0]: row for key, row in expected_cost_rollup_daily(raw).items()
              if key[1] == "TOTAL"}  # fmt: skip
    assert charts["revenue_vs_cost"]["cost_cents"] == [
        totals[day]["total_cost_cents"] if day in totals else None for day in days
    ]
    assert charts["cost_per_video"]["cost_per_video_cents"] == [
        float(totals[day]["avg_cost_per_video_cents"]) if day in totals else None for day in days
    ]
    revenue: Counter[date] = Counter()
    for (_, revenue_date), row in raw.core.fct_revenue.items():
        revenue[revenue_date] += row["revenue_cents"]
    assert charts["revenue_vs_cost"]["dates"] == dates
    assert charts["revenue_vs_cost"]["revenue_cents"] == [revenue.get(day) for day in days]
    assert any(charts["revenue_vs_cost"]["revenue_cents"])
    # the rest: the marts, read at the run's instant
    with connect(warehouse.conn, as_of=AS_OF.isoformat()) as db:
        quota = dict(db.execute("select usage_date, units_used from analytics.api_quota_usage"))
        p95 = db.execute(
            "select dashboard_name, query_date, p95_duration_ms"
            " from analytics.dashboard_performance"
        ).fetchall()
        progress = [pct for (pct,) in db.execute(
            "select goal_progress_pct from analytics.user_revenue_tracking"
        )]  # fmt: skip
        trending = db.execute(
            "select video_id, trending_score from analytics.trending_videos"
            " order by trending_score desc, video_id limit 10"
        ).fetchall()
    assert charts["api_quota"]["units_used"] == [quota.get(day) for day in days]
    expected_p95 = {name: [None] * len(days) for name, _, _ in p95}
    for name, day, value in p95:
        if day in days:
            expected_p95[name][days.index(day)] = float(value)
    assert charts["dashboard_p95"]["p95_ms"] == expected_p95
    edges = report_charts.GOAL_BAND_EDGES_PCT
    bands = Counter(sum(pct >= edge for edge in edges) for pct in progress if pct is not None)
    assert charts["goal_bands"]["users"] == [bands[n] for n in range(len(edges) + 1)]
    assert [(v["video_id"], v["trending_score"]) for v in charts["top_trending"]["videos"]] == [
        (video_id, float(score)) for video_id, score in trending
    ]


@pytest.mark.slow
def test_eod_report_places_its_charts_and_the_email_carries_them(eod_run) -> None:
    page = eod_run["html"]
    daily = page[page.index("[1/6] Daily summary") : page.index("[2/6]")]
    assert [m.group(1) for m in FIGURE.finditer(daily)] == [
        "revenue_vs_cost", "cost_per_video", "api_quota", "dashboard_p95", "top_trending"
    ]  # fmt: skip
    users = page[page.index("User daily reports (today)") : page.index("[6/6]")]
    assert [m.group(1) for m in FIGURE.finditer(users)] == ["goal_bands"]
    for forbidden in ("http:", "https:", "<script", "<link"):
        assert forbidden not in page
    text = eod_run["text"]
    assert "<svg" not in text and "charts in the HTML report: Revenue and cost by day;" in text
    [mail] = eod_run["mail"]
    message = mail.message
    html = message.get_body(preferencelist=("html",)).get_content().replace("\r\n", "\n")
    plain = message.get_body(preferencelist=("plain",)).get_content()
    assert [m.group(0) for m in FIGURE.finditer(html)] == [
        m.group(0) for m in FIGURE.finditer(page)
    ]
    assert "<svg" not in plain and "charts in the HTML report" in plain
