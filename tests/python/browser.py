"""Headless Chromium for the browser tests: Debian's /usr/bin/chromium driven by playwright (no
browser is downloaded), an empty profile, and a page that records what went wrong.

`open_page` yields a `WatchedPage`: every console error and uncaught page error, every request
and every request that would leave the machine. Such a request is answered with an abort, never
sent: a page may load `file:`, `data:`, `blob:` and `about:` URLs and anything on 127.0.0.1 or
localhost, nothing else. Screenshots go to tests-output/browser/ (git-ignored) and stay there.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
LOCAL_SCHEMES = {"file", "data", "blob", "about"}
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "tests-output" / "browser"
VIEWPORT = {"width": 1400, "height": 1000}


def chromium() -> Path:
    """Debian's chromium, or a skip saying how to get it (`make browser` installs it)."""
    if not CHROMIUM.exists():
        how = "apt-get install -y chromium (as root), or `make browser`"
        pytest.skip(f"{CHROMIUM} is missing: {how}")
    return CHROMIUM


def is_local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in LOCAL_SCHEMES or (parts.hostname or "") in LOCAL_HOSTS


@dataclass
class WatchedPage:
    page: object  # playwright.sync_api.Page
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)  # requests that would have left the machine

    @property
    def problems(self) -> list[str]:
        """Everything a clean page load must not have, one line each."""
        return (
            [f"console error: {text}" for text in self.console_errors]
            + [f"page error: {text}" for text in self.page_errors]
            + [f"network request: {url}" for url in self.blocked]
        )

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@contextlib.contextmanager
def open_page() -> Iterator[WatchedPage]:
    """A new page in a freshly launched headless Chromium (empty temporary profile)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = chromium()
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(executable), args=CHROMIUM_ARGS, headless=True
        )
        try:
            context = browser.new_context(viewport=VIEWPORT)
            page = context.new_page()
            watched = WatchedPage(page)
            page.on(
                "console",
                lambda message: (
                    watched.console_errors.append(message.text) if message.type == "error" else None
                ),
            )
            page.on("pageerror", lambda error: watched.page_errors.append(str(error)))

            def route(route) -> None:
                url = route.request.url
                watched.requests.append(url)
                if is_local(url):
                    route.continue_()
                else:
                    watched.blocked.append(url)
                    route.abort()

            context.route("**/*", route)
            yield watched
        finally:
            browser.close()
