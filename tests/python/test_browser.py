"""The docs site and the report files in headless Chromium (tests/python/browser.py): what a
person opening them sees, with no console error and no request leaving the machine.

One small warehouse of the embedded PostgreSQL is generated and built once for the module, the
end-of-day, weekly and monthly playbooks write their report files, and `ytempire docs` writes
the site, served by the command's own server (orchestrator.docs_site) on 127.0.0.1. What the
page shows is compared with the model's YAML and dbt's manifest. Screenshots are kept in
tests-output/browser/.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from browser import WatchedPage, chromium, open_page
from click.testing import CliRunner
from conftest import PROJECT_DIR, warehouse_factory
from docs_blocks import plain, rendered

from orchestrator import docs_site
from orchestrator.cli import main
from orchestrator.report_files import report_stem

# `browser` is the marker this module wants (registered in pyproject.toml); until then: slow.
pytestmark = [pytest.mark.slow, pytest.mark.browser]

AS_OF = datetime(2026, 11, 15, 18, 0, tzinfo=UTC)
SCALE, DAYS = 0.02, 35
MART = "cost_rollup_daily"
MART_ID = f"model.ytempire.{MART}"
MART_YAML = PROJECT_DIR / "models" / "marts" / "finance" / "_finance__models.yml"
# The charts each report file carries: <figure class="chart" id="chart-<name>" data-chart=...>
CHARTS = {
    "eod": [
        "revenue_vs_cost", "cost_per_video", "goal_bands", "api_quota", "dashboard_p95",
        "top_trending",
    ],
    "weekly": ["revenue_vs_cost", "cost_per_video", "api_quota", "dashboard_p95"],
    "monthly": ["revenue_vs_cost", "cost_per_video", "goal_bands"],
}  # fmt: skip
WAIT_MS = 15_000


@dataclass
class Played:
    site_url: str
    reports: Path
    manifest: dict[str, Any]
    catalog: dict[str, Any]


def invoke(env: dict[str, str], *arguments: str) -> None:
    result = CliRunner().invoke(main, list(arguments), env=env)
    assert "Traceback" not in result.output, result.output[-3000:]
    assert result.exit_code in (0, 1), result.output[-3000:]  # 1: warnings, still a report


@pytest.fixture(scope="module")
def played(embedded_server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Played]:
    """Generate, build, the three playbooks at AS_OF, `ytempire docs`; the site served."""
    chromium()  # skip before building anything when there is no browser
    state = tmp_path_factory.mktemp("browser_state")
    with warehouse_factory(embedded_server, tmp_path_factory) as make:
        warehouse = make("browser")
        env = {
            **warehouse.conn.env(),
            "YTEMPIRE_TARGET_PATH": str(warehouse.target_path),
            "YTEMPIRE_OUTAGE_FILE": str(state / "outage.json"),
            "YTEMPIRE_UNDELIVERED_FILE": str(state / "undelivered.jsonl"),
            "YTEMPIRE_REPORTS_DIR": str(state / "reports"),
            "YTEMPIRE_BACKUP_DIR": str(state / "backups"),
            "YTEMPIRE_LOG_DIR": str(state / "logs"),
        }
        as_of = AS_OF.isoformat()
        invoke(env, "generate", "--scale", str(SCALE), "--days", str(DAYS), "--as-of", as_of)
        invoke(env, "build", "--as-of", as_of)
        for playbook in CHARTS:
            invoke(env, playbook, "--as-of", as_of)
        invoke(env, "docs", "--output", str(state / "site"))
        server = docs_site.bind(state / "site", port=0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield Played(
                site_url=docs_site.url(server),
                reports=state / "reports",
                manifest=warehouse.artifact("manifest.json"),
                catalog=warehouse.artifact("catalog.json"),
            )
        finally:
            server.shutdown()
            server.server_close()


@pytest.fixture
def watched() -> Iterator[WatchedPage]:
    with open_page() as page:
        yield page


def mart_yaml() -> dict[str, Any]:
    models = yaml.safe_load(MART_YAML.read_text())["models"]
    return next(model for model in models if model["name"] == MART)


def test_a_marts_page_shows_its_description_columns_and_lineage(
    played: Played, watched: WatchedPage
) -> None:
    page = watched.page
    page.goto(f"{played.site_url}#!/model/{MART_ID}")
    described = mart_yaml()
    description = page.locator("#description + .section-content .model-markdown")
    description.wait_for(timeout=WAIT_MS)
    # the whole description, as one paragraph (YAML's folded lines joined)
    # case aside: the page's stylesheet shows table headers in capitals
    shown_description = plain(description.inner_text()).casefold()
    assert shown_description == plain(rendered(described["description"])).casefold()

    rows = page.locator("#columns + .section-content tr.column-row")
    shown = {
        row.locator("td").nth(0).inner_text().strip(): row.locator("td").nth(1).inner_text().strip()
        for row in rows.all()
    }
    catalogued = played.catalog["nodes"][MART_ID]["columns"]
    assert set(shown) == {column["name"] for column in described["columns"]}
    assert shown == {name: column["type"] for name, column in catalogued.items()}
    watched.screenshot("docs_cost_rollup_daily")

    page.locator("[ng-click='onLauncherClick()']").click()
    page.wait_for_function(
        "() => { const c = document.getElementById('cy'); "
        "return c && c._cyreg && c._cyreg.cy.nodes(':visible').length > 0 "
        "&& c.getBoundingClientRect().height > 0; }",
        timeout=WAIT_MS,
    )
    graph = page.evaluate(
        """() => { const cy = document.getElementById('cy')._cyreg.cy;
                   return cy.nodes(':visible').map(node => [node.id(),
                       node.renderedBoundingBox().w, node.renderedBoundingBox().h]); }"""
    )
    drawn = {node_id for node_id, width, height in graph if width > 0 and height > 0}
    parents = set(played.manifest["nodes"][MART_ID]["depends_on"]["nodes"])
    assert parents and {MART_ID, *parents} <= drawn
    canvases = page.locator("#cy canvas")
    assert canvases.count() > 0 and canvases.first.bounding_box()["width"] > 0
    watched.screenshot("docs_cost_rollup_daily_lineage")
    assert watched.problems == []


@pytest.mark.parametrize("playbook", list(CHARTS))
def test_each_report_file_shows_its_charts_offline(
    played: Played, watched: WatchedPage, playbook: str
) -> None:
    report = played.reports / f"{report_stem(playbook, AS_OF)}.html"
    assert report.is_file(), sorted(p.name for p in played.reports.iterdir())
    page = watched.page
    page.goto(report.as_uri())
    page.wait_for_load_state("load")
    watched.screenshot(f"report_{playbook}")
    sizes = {}
    for name in CHARTS[playbook]:
        svg = page.locator(f'figure.chart#chart-{name}[data-chart="{name}"] svg')
        box = svg.first.bounding_box() if svg.count() else None
        sizes[name] = (box["width"], box["height"]) if box else None
    missing = [name for name, size in sizes.items() if not size or 0 in size]
    assert missing == [], f"charts missing or empty in {report.name}: {json.dumps(sizes)}"
    assert watched.problems == []


def test_the_watch_sees_console_errors_and_blocks_network_requests(
    watched: WatchedPage, tmp_path: Path
) -> None:
    """The checks above would pass on a page that loads nothing: here a page that errs and
    asks the network is caught (the request is aborted, never sent)."""
    page_file = tmp_path / "leaky.html"
    page_file.write_text(
        '<img src="https://example.invalid/pixel.png">'
        "<script>console.error('boom'); undefined_function();</script>"
    )
    watched.page.goto(page_file.as_uri())
    watched.page.wait_for_load_state("load")
    assert watched.blocked == ["https://example.invalid/pixel.png"]
    assert "boom" in watched.console_errors
    assert any("undefined_function" in error for error in watched.page_errors)
