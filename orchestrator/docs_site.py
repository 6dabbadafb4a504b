"""The dbt docs site as one static file in a folder, and a local server for that folder.

`generate` runs `dbt docs generate --static` through `dbt_invoke` (in this process, sharing its
parse): dbt writes `static_index.html` into the target folder, the whole site with the manifest
and the catalog inlined, and it is copied to `<folder>/index.html` atomically (a temporary file
beside it, synced, renamed), so a reader never sees half a site. The file needs no other file:
open it from disk or serve the folder. Two slips in dbt-docs' templates are mended on the way
(`DBT_DOCS_PATCHES`): as dbt writes it, the page asks its server for three URLs that do not
exist (two icon references before AngularJS fills them in, and a favicon link whose
`${require(...)}` was never expanded), each a 404 and a console error.

`bind` and `serve_until_stopped` serve the folder with the standard library's
ThreadingHTTPServer on 127.0.0.1 (quiet: no request log), until Ctrl-C or SIGTERM. Nothing is
opened in a browser and nothing is fetched: the site loads dbt's tracker only when the manifest
says `send_anonymous_usage_stats: true`, and dbt_invoke always runs dbt with it false.
`dbt docs serve` is not used: it opens a browser and listens on every interface.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import secrets
import signal
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType

from orchestrator import dbt_invoke
from orchestrator.connection import Connection
from orchestrator.context import ENV_TARGET_PATH
from orchestrator.errors import ConfigError, DbtFailed

DEFAULT_FOLDER = "site"  # beside dbt_project.yml (git-ignored)
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
SITE_FILE = "index.html"
STATIC_INDEX = "static_index.html"  # what `dbt docs generate --static` writes in the target
# (what dbt writes, what the site gets): an icon's SVG reference set by AngularJS once filled in
# (`ng-attr-`), and no favicon. A later dbt without the slip has nothing to replace.
DBT_DOCS_PATCHES = (
    ('<use xlink:href="{{ getIcon(', '<use ng-attr-xlink:href="{{ getIcon('),
    ("href=\"${require('./assets/favicons/favicon.ico')}\"", 'href="data:,"'),
)


def target_path(project_dir: Path) -> Path:
    """dbt's target folder: YTEMPIRE_TARGET_PATH, else `<project>/target` (as every run)."""
    configured = os.environ.get(ENV_TARGET_PATH)
    return (Path(configured).expanduser() if configured else project_dir / "target").resolve()


def generate(conn: Connection, folder: Path, project_dir: Path) -> Path:
    """`dbt docs generate --static`, then its single-file site copied to `<folder>/index.html`."""
    invocation = dbt_invoke.run(
        ["docs", "generate", "--static"],
        conn,
        target_path=target_path(project_dir),
        project_dir=project_dir,
    )
    if invocation.returncode != dbt_invoke.DBT_EXIT_OK:
        reason = f" ({invocation.error})" if invocation.error else ""
        raise DbtFailed(
            f"dbt docs generate failed{reason}: run `ytempire dbt -- docs generate --static` "
            "to see dbt's message."
        )
    return publish(invocation.target_path / STATIC_INDEX, folder)


def publish_existing(folder: Path, project_dir: Path) -> Path:
    """Without running dbt: the target's last static site copied into `folder`, else the site
    already there."""
    static = target_path(project_dir) / STATIC_INDEX
    if static.is_file():
        return publish(static, folder)
    site = folder / SITE_FILE
    if site.is_file():
        return site
    raise ConfigError(
        f"no docs site to use: neither {static} nor {site} exists: run `ytempire docs` "
        "without --no-generate first."
    )


def publish(static_index: Path, folder: Path) -> Path:
    """`static_index`, patched, written to `<folder>/index.html` (created) atomically; return
    that path."""
    site = folder / SITE_FILE
    temp = folder / f".{SITE_FILE}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        page = static_index.read_text(encoding="utf-8")
        for slip, mended in DBT_DOCS_PATCHES:
            page = page.replace(slip, mended)
        folder.mkdir(parents=True, exist_ok=True)
        with temp.open("xb") as handle:
            handle.write(page.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, site)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise ConfigError(
            f"docs site {site} not written: {exc.strerror or exc}: fix the folder's "
            "permissions or pass another --output."
        ) from None
    return site


class QuietHandler(SimpleHTTPRequestHandler):
    """Files of one folder (given as `directory`), without a log line per request."""

    def log_message(self, format: str, *args: object) -> None:
        pass


def bind(folder: Path, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> ThreadingHTTPServer:
    """A server for `folder`, listening on host:port (port 0: a free one); not yet serving."""
    handler = functools.partial(QuietHandler, directory=str(folder))
    try:
        return ThreadingHTTPServer((host, port), handler)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"port {port} on {host} is already in use: stop what listens there or pass "
                f"another port, e.g. `ytempire docs --serve --port {port + 1}`."
            ) from None
        raise ConfigError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}: pass another --host or "
            "--port (ports below 1024 need root)."
        ) from None


def url(server: ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}/"


def serve_until_stopped(server: ThreadingHTTPServer) -> None:
    """Serve until Ctrl-C or SIGTERM (or `server.shutdown()`), then close the socket."""
    with _sigterm_as_interrupt():
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt, as Ctrl-C does (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
