"""`ytempire docs`: the single-file docs site and its local server, through the real entry point
(CliRunner on `ytempire`, and the command as a process for --serve), on one small warehouse of
the embedded PostgreSQL built once for the module.

The site's inlined manifest is compared with the model's YAML, its inlined catalog with
PostgreSQL's own `format_type`, the served bytes with the file on disk, the listening address
with the kernel's socket table (/proc/net/tcp), and the released port with a new bind.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from conftest import PROJECT_DIR, Warehouse, warehouse_factory
from docs_blocks import rendered

from orchestrator.cli import main

pytestmark = pytest.mark.slow

AS_OF = datetime(2026, 11, 15, 18, 0, tzinfo=UTC)
SCALE, DAYS = 0.02, 35
MART = "cost_rollup_daily"
MART_ID = f"model.ytempire.{MART}"
MART_YAML = PROJECT_DIR / "models" / "marts" / "finance" / "_finance__models.yml"
SERVE_TIMEOUT_S = 60


@dataclass
class Site:
    warehouse: Warehouse
    env: dict[str, str]
    folder: Path
    result: Result

    @property
    def index(self) -> Path:
        return self.folder / "index.html"


def invoke(env: dict[str, str], *arguments: str) -> Result:
    result = CliRunner().invoke(main, list(arguments), env=env)
    assert "Traceback" not in result.output, result.output[-3000:]
    return result


@pytest.fixture(scope="module")
def site(embedded_server, tmp_path_factory: pytest.TempPathFactory):
    """Generate, build, then `ytempire docs --output <folder>` once."""
    state = tmp_path_factory.mktemp("docs_state")
    with warehouse_factory(embedded_server, tmp_path_factory) as make:
        warehouse = make("docs")
        env = {
            **warehouse.conn.env(),
            "YTEMPIRE_TARGET_PATH": str(warehouse.target_path),
            "YTEMPIRE_OUTAGE_FILE": str(state / "outage.json"),
            "YTEMPIRE_REPORTS_DIR": str(state / "reports"),
        }
        as_of = AS_OF.isoformat()
        generated = invoke(
            env, "generate", "--scale", str(SCALE), "--days", str(DAYS), "--as-of", as_of
        )
        assert generated.exit_code == 0, generated.output
        built = invoke(env, "build", "--as-of", as_of)
        assert built.exit_code in (0, 1), built.output  # warnings are fine for a docs site
        folder = state / "site"
        yield Site(warehouse, env, folder, invoke(env, "docs", "--output", str(folder)))


def inlined(page: str, name: str) -> dict[str, Any]:
    """The JSON document the page inlines as `<name>:{...}` (dbt's static index)."""
    start = page.index(f'{name}:{{"metadata"') + len(name) + 1
    document, _ = json.JSONDecoder().raw_decode(page, start)
    return document


class Assets(HTMLParser):
    """Every script and link tag's reference to another file."""

    def __init__(self) -> None:
        super().__init__()
        self.references: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "script" and attributes.get("src"):
            self.references.append((tag, attributes["src"] or ""))
        if tag == "link" and attributes.get("rel") != "canonical":
            self.references.append((tag, attributes.get("href") or ""))


def test_the_site_is_one_file_with_the_manifest_and_catalog(site: Site) -> None:
    assert site.result.exit_code == 0, site.result.output
    assert site.result.output.strip() == f"docs site: {site.index.resolve()}"
    assert sorted(path.name for path in site.folder.iterdir()) == ["index.html"]
    page = site.index.read_text(encoding="utf-8")

    assets = Assets()
    assets.feed(page)
    # no script or stylesheet from another file: the favicon, once a broken link, is empty data
    assert assets.references == [("link", "data:,")]

    models = yaml.safe_load(MART_YAML.read_text())["models"]
    described = next(model for model in models if model["name"] == MART)
    manifest = inlined(page, "manifest")
    assert manifest["nodes"][MART_ID]["description"].strip() == (
        rendered(described["description"]).strip()
    )
    assert set(manifest["nodes"][MART_ID]["columns"]) == {c["name"] for c in described["columns"]}
    assert manifest["metadata"]["send_anonymous_usage_stats"] is False  # no tracker loaded

    types = dict(
        site.warehouse.query(
            "select attname, format_type(atttypid, atttypmod) from pg_attribute"
            " where attrelid = 'analytics.cost_rollup_daily'::regclass"
            " and attnum > 0 and not attisdropped"
        )
    )
    columns = inlined(page, "catalog")["nodes"][MART_ID]["columns"]
    assert {name: column["type"] for name, column in columns.items()} == types


def test_no_generate_copies_the_last_site_without_dbt(site: Site, tmp_path: Path) -> None:
    env = {**site.env, "PGDATABASE": "no_such_database"}  # dbt would fail: it is not run
    result = invoke(env, "docs", "--no-generate", "--output", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "index.html").read_bytes() == site.index.read_bytes()


def test_dbt_failing_is_exit_3_naming_the_command_to_run(site: Site, tmp_path: Path) -> None:
    env = {**site.env, "PGDATABASE": "no_such_database"}
    result = invoke(env, "docs", "--output", str(tmp_path))
    assert result.exit_code == 3, result.output
    assert "dbt docs generate failed" in result.stderr
    assert "no_such_database" in result.stderr
    assert "`ytempire dbt -- docs generate --static`" in result.stderr
    assert not (tmp_path / "index.html").exists()


def listening(port: int) -> list[str]:
    """The local addresses of the TCP sockets listening on `port` (IPv4 and IPv6)."""
    addresses = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                addresses.append(address)
    return addresses


def loopback_hex() -> str:
    """127.0.0.1 as /proc/net/tcp writes it (host byte order)."""
    return socket.inet_aton("127.0.0.1")[::-1].hex().upper()


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux's /proc/net/tcp")
def test_serve_answers_on_127_0_0_1_only_until_sigterm(site: Site) -> None:
    command = [sys.executable, "-c", "from orchestrator.cli import main; main()"]
    arguments = ["docs", "--no-generate", "--serve", "--port", "0", "--output", str(site.folder)]
    env = {**os.environ, **site.env, "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen(
        [*command, *arguments], cwd=PROJECT_DIR, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        assert server.stdout.readline().startswith("docs site: ")
        line = server.stdout.readline()
        assert line.startswith(f"serving {site.folder.resolve()} at http://127.0.0.1:"), line
        url = line.split(" at ")[1].split()[0]
        port = int(url.rsplit(":", 1)[1].strip("/"))

        with urllib.request.urlopen(url, timeout=SERVE_TIMEOUT_S) as response:
            assert response.status == 200
            assert response.read() == site.index.read_bytes()
        assert listening(port) == [loopback_hex()]

        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=SERVE_TIMEOUT_S) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert listening(port) == []
    with socket.create_server(("127.0.0.1", port)):  # the port is free again
        pass


def test_a_taken_port_is_exit_3_naming_another_port(site: Site) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = invoke(
            site.env, "docs", "--serve", "--no-generate", "--port", str(port),
            "--output", str(site.folder),
        )  # fmt: skip
    assert result.exit_code == 3, result.output
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
    assert f"ytempire docs --serve --port {port + 1}" in result.stderr
