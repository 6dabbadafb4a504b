"""Report files (HTML + text twin) and the daily summary email.

The HTML is read back with the stdlib `html.parser` and its cells compared to the input rows
written out by hand; files are written to a real folder (and made to fail with a folder in the
way and with a file-size limit, the "disk full" of a write); the email goes to a real aiosmtpd
server (RecordingSMTPServer) with a password. No database is needed.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from notify_servers import EMAIL_FROM, ONCALL_EMAIL, NotifyEnv

from orchestrator.errors import ConfigError
from orchestrator.notify import NotifySettings
from orchestrator.notify.report_email import (
    ReportEmailError,
    report_recipients,
    send_report_email,
)
from orchestrator.report_files import (
    ReportDocument,
    ReportWriteError,
    render_html,
    render_text,
    report_stem,
    reports_dir,
    write_report,
)
from orchestrator.sections import ReportSection

pytest_plugins = ["notify_fixtures"]

EM_DASH = "\u2014"
NASTY = 'Tom & Jerry <script>alert("x")</script>'
# 09:00:30 at UTC+1 is 08:00:30 UTC
INSTANT = datetime(2026, 12, 1, 9, 0, 30, tzinfo=timezone(timedelta(hours=1)))

CHANNELS = ReportSection(
    "Top channels",
    columns=["channel_id", "name", "revenue_usd", "day", "ratio", "updated_at"],
    rows=[
        (1, NASTY, Decimal("12.345"), date(2026, 11, 30), None, None),
        (
            -20,
            "Beta",
            Decimal("1E+3"),
            date(2026, 12, 1),
            0.1,
            datetime(2026, 12, 1, 7, 5, tzinfo=UTC),
        ),
    ],
    note="2 channels",
)
# what a reader must see for CHANNELS' rows, written out independently of the renderer
CHANNEL_CELLS = [
    ["1", NASTY, "12.345", "2026-11-30", EM_DASH, EM_DASH],
    ["-20", "Beta", "1000", "2026-12-01", "0.1", "2026-12-01T07:05:00+00:00"],
]
WIDE = ReportSection("Run summary", columns=[f"c{i}" for i in range(7)], rows=[tuple(range(7))])
EMPTY = ReportSection("Quiet", note="nothing to report today")
BROKEN = ReportSection("Costs", error='relation "ops.costs" does not exist')
FIGURE = '<svg role="img" width="10" height="10"><rect width="10" height="10"/></svg>'


def document(**overrides: Any) -> ReportDocument:
    values: dict[str, Any] = {
        "playbook": "morning",
        "title": "Morning checks & <review>",
        "instant": INSTANT,
        "run_id": 42,
        "sections": [CHANNELS, WIDE, EMPTY, BROKEN],
        "summary_lines": ("exit 2, 3 alerts open",),
        "figures": {"Top channels": FIGURE},
    }
    values.update(overrides)
    return ReportDocument(**values)


# -- the HTML read back ------------------------------------------------------------------------


@dataclass
class Section:
    title: str = ""
    head: list[str] = field(default_factory=list)
    rows: list[list[tuple[str, str]]] = field(default_factory=list)  # (text, class) per cell
    paragraphs: list[tuple[str, str]] = field(default_factory=list)  # (class, text)
    raw_tags: list[str] = field(default_factory=list)


class ReportParser(HTMLParser):
    """Every section's title, header cells, body cells (with their class) and paragraphs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: list[Section] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.title = ""
        self.header_text: list[str] = []
        self._stack: list[str] = []
        self._cell: list[str] | None = None
        self._cell_class = ""
        self._paragraph: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        self._stack.append(tag)
        if tag == "section":
            self.sections.append(Section())
        elif self.sections:
            self.sections[-1].raw_tags.append(tag)
        if tag == "tr" and "thead" not in self._stack:
            self.sections[-1].rows.append([])
        elif tag in ("td", "th"):
            self._cell, self._cell_class = [], attributes.get("class") or ""
        elif tag == "p":
            self._paragraph = (attributes.get("class") or "", [])

    def handle_endtag(self, tag: str) -> None:
        while self._stack and self._stack.pop() != tag:
            pass
        if tag in ("td", "th") and self._cell is not None:
            text = "".join(self._cell)
            section = self.sections[-1]
            if "thead" in self._stack:
                section.head.append(text)
            else:
                section.rows[-1].append((text, self._cell_class))
            self._cell = None
        elif tag == "p" and self._paragraph is not None:
            klass, texts = self._paragraph
            if "section" in self._stack:
                self.sections[-1].paragraphs.append((klass, "".join(texts)))
            else:
                self.header_text.append("".join(texts))
            self._paragraph = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._paragraph is not None:
            self._paragraph[1].append(data)
        if self._stack and self._stack[-1] == "h2":
            self.sections[-1].title += data
        if self._stack and self._stack[-1] == "title":
            self.title += data


def parse(page: str) -> ReportParser:
    parser = ReportParser()
    parser.feed(page)
    parser.close()
    return parser


def test_html_holds_every_value_escaped() -> None:
    page = render_html(document())
    parsed = parse(page)
    assert page.startswith("<!DOCTYPE html>")
    assert parsed.title == f"Morning checks & <review> {EM_DASH} 2026-12-01 08:00:30 UTC"
    assert parsed.header_text == ["playbook morning, 2026-12-01 08:00:30 UTC, run 42"]
    assert "<li>exit 2, 3 alerts open</li>" in page
    assert [s.title for s in parsed.sections] == [
        "[1/4] Top channels",
        "[2/4] Run summary",
        "[3/4] Quiet",
        "[4/4] Costs",
    ]
    channels = parsed.sections[0]
    assert channels.head == CHANNELS.columns
    assert [[text for text, _ in row] for row in channels.rows] == CHANNEL_CELLS
    assert channels.paragraphs == [("note", "2 channels")]
    # the raw page carries the nasty string only escaped
    assert "Tom &amp; Jerry &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "Morning checks &amp; &lt;review&gt;" in page


def test_html_numbers_right_aligned_and_none_marked() -> None:
    channels = parse(render_html(document())).sections[0]
    classes = [[klass for _, klass in row] for row in channels.rows]
    # int, str, Decimal, date, None/float, None/datetime
    assert classes == [
        ["num", "", "num", "", "none", "none"],
        ["num", "", "num", "", "num", ""],
    ]
    assert 'th class="num">channel_id<' in render_html(document())
    assert 'th class="num">ratio<' in render_html(document())  # its only value is a float


def test_html_wide_row_note_and_error_sections() -> None:
    parsed = parse(render_html(document()))
    wide, empty, broken = parsed.sections[1:]
    assert wide.rows == [[(f"c{i}", ""), (str(i), "num")] for i in range(7)]  # a line each
    assert wide.head == []
    assert empty.rows == [] and empty.paragraphs == [("note", "nothing to report today")]
    assert broken.rows == []
    assert broken.paragraphs == [("error", 'FAILED: relation "ops.costs" does not exist')]
    assert "table" not in empty.raw_tags + broken.raw_tags


def test_html_has_no_external_reference_and_keeps_figures() -> None:
    page = render_html(document())
    lowered = page.lower()
    for forbidden in ("http://", "https://", "src=", "<link", "<script", "@import", "url("):
        assert forbidden not in lowered, forbidden
    tags = {tag for tag, _ in parse(page).tags}
    assert tags.isdisjoint({"script", "link", "img", "iframe", "object", "embed", "a"})
    assert "<style>" in page
    # the trusted figure is inserted as it is, inside its own section only
    sections = page.split("<section")
    assert FIGURE in sections[1] and all(FIGURE not in part for part in sections[2:])
    assert FIGURE not in render_html(document(figures={}))


def text_blocks(text: str) -> dict[str, list[str]]:
    blocks: dict[str, list[str]] = {}
    current = "header"
    for line in text.splitlines():
        match = re.fullmatch(r"== \[\d+/\d+\] (.*)", line)
        if match:
            current = match.group(1)
            blocks[current] = []
        elif line:
            blocks.setdefault(current, []).append(line)
    return blocks


def test_text_twin_has_the_same_sections_and_values() -> None:
    blocks = text_blocks(render_text(document()))
    assert blocks["header"] == [
        "Morning checks & <review>",
        "playbook morning, 2026-12-01 08:00:30 UTC, run 42",
        "exit 2, 3 alerts open",
    ]
    header, rule, *rows, note = blocks["Top channels"]
    assert re.split(r"\s{2,}", header) == CHANNELS.columns
    assert set(rule) == {"-", " "}
    assert [re.split(r"\s{2,}", row) for row in rows] == CHANNEL_CELLS
    assert note == "2 channels"
    assert [re.split(r"\s{2,}", line) for line in blocks["Run summary"]] == [
        [f"c{i}", str(i)] for i in range(7)
    ]
    assert blocks["Quiet"] == ["nothing to report today"]
    assert blocks["Costs"] == ['FAILED: relation "ops.costs" does not exist']
    assert list(blocks) == ["header", "Top channels", "Run summary", "Quiet", "Costs"]


def test_document_rejects_a_naive_instant() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        document(instant=datetime(2026, 12, 1, 8, 0))
    assert "no run id" in render_text(document(run_id=None))


# -- where and how the files are written -------------------------------------------------------


def test_report_stem_is_the_utc_minute() -> None:
    assert report_stem("morning", INSTANT) == "morning_20261201T0800Z"
    assert (
        report_stem("eod", datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)) == "eod_20261231T2359Z"
    )
    with pytest.raises(ValueError):
        report_stem("../etc", INSTANT)
    with pytest.raises(ValueError):
        report_stem("morning", datetime(2026, 12, 1, 8, 0))


def test_reports_dir(tmp_path: Path) -> None:
    assert reports_dir(tmp_path, {}) == tmp_path / "reports"
    assert reports_dir(tmp_path, {"YTEMPIRE_REPORTS_DIR": "  "}) == tmp_path / "reports"
    assert reports_dir(tmp_path, {"YTEMPIRE_REPORTS_DIR": "out/daily"}) == tmp_path / "out/daily"
    elsewhere = tmp_path / "elsewhere"
    assert reports_dir(tmp_path / "p", {"YTEMPIRE_REPORTS_DIR": str(elsewhere)}) == elsewhere


def test_write_report_writes_both_files_and_replaces_them(tmp_path: Path) -> None:
    directory = tmp_path / "reports" / "new"
    files = write_report(directory, "morning_20261201T0800Z", "<p>é</p>\n", "é\n")
    assert files.html == directory / "morning_20261201T0800Z.html"
    assert files.text == directory / "morning_20261201T0800Z.txt"
    assert files.html.read_bytes() == "<p>é</p>\n".encode()
    assert files.text.read_bytes() == "é\n".encode()
    again = write_report(directory, "morning_20261201T0800Z", "<p>2</p>", "2")
    assert again == files and files.html.read_text() == "<p>2</p>"
    assert sorted(p.name for p in directory.iterdir()) == [files.html.name, files.text.name]


def test_a_folder_in_the_way_leaves_no_partial_or_temp_file(tmp_path: Path) -> None:
    (tmp_path / "eod_x.html").mkdir()
    with pytest.raises(ReportWriteError, match=re.escape(str(tmp_path / "eod_x.html"))):
        write_report(tmp_path, "eod_x", "<p>x</p>", "x")
    assert [p.name for p in tmp_path.iterdir()] == ["eod_x.html"]
    assert list((tmp_path / "eod_x.html").iterdir()) == []
    # the text file in the way: the HTML is there whole, the text is not, no temp file
    other = tmp_path / "other"
    (other / "eod_y.txt").mkdir(parents=True)
    with pytest.raises(ReportWriteError, match="YTEMPIRE_REPORTS_DIR"):
        write_report(other, "eod_y", "<p>y</p>", "y")
    assert sorted(p.name for p in other.iterdir()) == ["eod_y.html", "eod_y.txt"]
    assert (other / "eod_y.html").read_text() == "<p>y</p>"


def test_a_folder_that_cannot_be_made_raises(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(ReportWriteError, match=re.escape(str(tmp_path / "file" / "reports"))):
        write_report(tmp_path / "file" / "reports", "eod_x", "", "")


FULL_DISK = textwrap.dedent(
    """
    import resource, signal, sys
    from pathlib import Path
    from orchestrator.report_files import ReportWriteError, write_report
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))
    try:
        write_report(Path(sys.argv[1]), "monthly_20261201T0000Z", "x" * 10_000, "short")
    except ReportWriteError as exc:
        print(exc)
    """
)


def test_a_write_that_runs_out_of_space_keeps_the_old_report(tmp_path: Path) -> None:
    old = tmp_path / "monthly_20261201T0000Z.html"
    old.write_text("<p>the report of the first run</p>")
    done = subprocess.run(
        [sys.executable, "-c", FULL_DISK, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert f"report file {old} not written: File too large" in done.stdout
    assert old.read_text() == "<p>the report of the first run</p>"  # not a truncated new one
    assert [p.name for p in tmp_path.iterdir()] == [old.name]  # no temp file, no .txt


# -- the daily email ---------------------------------------------------------------------------


def test_report_email_arrives_with_both_parts(notify_env: NotifyEnv) -> None:
    doc = document()
    html, text = render_html(doc), render_text(doc)
    recipients = ("reports@ytempire.test", "cfo@ytempire.test")
    result = send_report_email(
        notify_env.settings(), "YTEMPIRE daily summary 2026-12-01", html, text, recipients
    )
    [received] = notify_env.smtp.messages
    mail = received.message
    assert result.sent and result.attempts == 1 and result.recipients == recipients
    assert result.message_id == mail["Message-ID"]
    assert received.rcpt_tos == list(recipients) and received.mail_from == EMAIL_FROM
    assert received.login == "ytempire"
    assert mail["Subject"] == "YTEMPIRE daily summary 2026-12-01"
    assert mail.get_content_type() == "multipart/alternative"
    plain, rich = mail.iter_parts()
    assert plain.get_content_type() == "text/plain" and rich.get_content_type() == "text/html"
    assert plain.get_content_charset() == rich.get_content_charset() == "utf-8"
    # SMTP carries lines ending in CRLF; the content is otherwise the rendered one
    assert plain.get_content().replace("\r\n", "\n") == text
    assert rich.get_content().replace("\r\n", "\n") == html


def test_report_email_is_retried_after_refusals(notify_env: NotifyEnv) -> None:
    notify_env.smtp.refuse_next(2)  # 451, twice
    waits: list[float] = []
    result = send_report_email(
        notify_env.settings(), "daily", "<p>h</p>", "t", (ONCALL_EMAIL,), sleep=waits.append
    )
    assert result.sent and result.attempts == 3
    assert waits == [0.05, 0.1]  # YTEMPIRE_NOTIFY_BACKOFF_S=0.05, doubled
    assert len(notify_env.smtp.messages) == 1


def test_a_permanent_refusal_is_not_retried(notify_env: NotifyEnv) -> None:
    notify_env.smtp.refuse_next(1, "550 5.7.1 relaying denied")
    with pytest.raises(ReportEmailError, match=re.escape("550 5.7.1 relaying denied")) as raised:
        send_report_email(notify_env.settings(), "daily", "<p>h</p>", "t", (ONCALL_EMAIL,))
    assert raised.value.attempts == 1
    assert notify_env.smtp.messages == []


def test_a_server_that_is_down_raises_without_the_password(notify_env: NotifyEnv) -> None:
    notify_env.smtp.down()
    waits: list[float] = []
    with pytest.raises(ReportEmailError) as raised:
        send_report_email(
            notify_env.settings(), "daily", "<p>h</p>", "t", (ONCALL_EMAIL,), sleep=waits.append
        )
    message = str(raised.value)
    assert raised.value.attempts == 3 and len(waits) == 2
    assert f"smtp://127.0.0.1:{notify_env.smtp.port}" in message
    assert "ConnectionRefusedError" in message
    assert str(notify_env.smtp.password) not in message
    notify_env.assert_no_secret(message)


def test_report_email_skipped_when_mail_is_not_configured() -> None:
    result = send_report_email(NotifySettings(), "daily", "<p>h</p>", "t", ())
    assert not result.sent and result.attempts == 0
    assert result.skipped == (
        "YTEMPIRE_SMTP_URL, YTEMPIRE_EMAIL_FROM, "
        "YTEMPIRE_REPORT_EMAILS (or YTEMPIRE_ONCALL_EMAIL) not set"
    )
    only_smtp = NotifySettings(email_from=EMAIL_FROM, oncall_emails=(ONCALL_EMAIL,))
    skipped = send_report_email(only_smtp, "daily", "<p>h</p>", "t", (ONCALL_EMAIL,))
    assert skipped.describe() == "skipped: YTEMPIRE_SMTP_URL not set"


def test_report_recipients_from_env_or_oncall() -> None:
    settings = NotifySettings.from_env({"YTEMPIRE_ONCALL_EMAIL": "a@ytempire.test,b@ytempire.test"})
    assert report_recipients(settings, {}) == ("a@ytempire.test", "b@ytempire.test")
    env = {"YTEMPIRE_REPORT_EMAILS": " cfo@ytempire.test, ops@ytempire.test ,cfo@ytempire.test"}
    assert report_recipients(settings, env) == ("cfo@ytempire.test", "ops@ytempire.test")


@pytest.mark.parametrize(
    "value",
    ["not-an-address", "a@ytempire.test, Bob <b@ytempire.test>", "a@@x.test", "a@x..test", ","],
)
def test_a_bad_report_address_names_the_variable(value: str) -> None:
    with pytest.raises(ConfigError, match="YTEMPIRE_REPORT_EMAILS"):
        report_recipients(NotifySettings(), {"YTEMPIRE_REPORT_EMAILS": value})
