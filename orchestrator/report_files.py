"""A playbook run's report as two files people open: one HTML page and its plain-text twin.

The seed scripts printed their reports and saved the monthly one as text; here every run of
`ytempire morning|hourly|eod|weekly|monthly` leaves `<reports>/<playbook>_<YYYYmmddTHHMMZ>.html`
and `.txt` holding the same sections and values (the daily email carries the same two
renderings, see `orchestrator.notify.report_email`).

- `ReportDocument`: what a report shows (the run's sections, its pinned instant, its run id).
- `render_html(doc)`: one self-contained HTML5 page: an inline stylesheet, no scripts, nothing
  fetched (no links to other files or hosts), every value escaped. `doc.figures` may add one
  trusted block of HTML per section (e.g. an inline SVG chart), inserted as it is.
- `render_text(doc)`: the plain-text twin (the tables of `orchestrator.commands.tables`).
- `reports_dir`, `report_stem`, `write_report`: where the files go and how they are written
  (temp file, fsync, rename: a failed write never leaves a half file under the final name).

This module reads sections through the `SectionLike` protocol, so it does not import the
playbook definitions (which import it).
"""

from __future__ import annotations

import contextlib
import html
import os
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from orchestrator.commands import tables
from orchestrator.errors import YtempireError

ENV_REPORTS_DIR = "YTEMPIRE_REPORTS_DIR"
DEFAULT_REPORTS_DIR = "reports"
NONE_SHOWN = "\u2014"  # an em dash: the cell has no value
WIDE_ROW_COLUMNS = 6  # a single row with more columns is shown as "column  value" lines
PLAYBOOK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")

STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1f2328;
       margin: 2em auto; max-width: 72em; padding: 0 1em; line-height: 1.4; }
header { border-bottom: 2px solid #d0d7de; margin-bottom: 1.5em; }
h1 { font-size: 1.6em; margin: 0 0 .3em; }
h2 { font-size: 1.2em; margin: 1.6em 0 .5em; }
.meta { color: #57606a; margin: 0 0 .5em; }
.summary { margin: 0 0 1em; padding-left: 1.2em; }
table { border-collapse: collapse; margin: 0 0 .5em; }
th, td { border: 1px solid #d0d7de; padding: .25em .6em; text-align: left;
         vertical-align: top; }
th { background: #f6f8fa; }
tr:nth-child(even) td { background: #fbfcfd; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.none { color: #8c959f; }
.note { color: #57606a; }
.error { border-left: 4px solid #cf222e; background: #ffebe9; color: #82071e;
         padding: .5em .8em; }
figure.chart { margin: 1em 0 1.5em; }
figure.chart svg { display: block; max-width: 100%; height: auto; }
figcaption { color: #57606a; font-size: .9em; margin-top: .3em; }
.chart-note { font-style: italic; }
footer { color: #8c959f; font-size: .85em; margin-top: 2em; }
""".strip()


class ReportWriteError(YtempireError):
    """A report file could not be written (no space, no permission, a folder in the way)."""


class SectionLike(Protocol):
    """One report section (`orchestrator.sections.ReportSection` is one): a table of `rows`
    under `columns`, a `note`, or the `error` that kept the step from being done."""

    @property
    def title(self) -> str: ...

    @property
    def columns(self) -> Sequence[str]: ...

    @property
    def rows(self) -> Sequence[Sequence[Any]]: ...

    @property
    def note(self) -> str | None: ...

    @property
    def error(self) -> str | None: ...


@dataclass(frozen=True)
class ReportDocument:
    """A run's report. `instant` is the run's pinned instant (timezone-aware); `summary_lines`
    are short lines under the title ("exit 0, 3 alerts open"). `figures` maps a section title
    to extra HTML shown under that section (a chart): it is trusted and inserted unescaped,
    so it must be built by this project's code, never from data."""

    playbook: str
    title: str
    instant: datetime
    run_id: int | None
    sections: Sequence[SectionLike]
    summary_lines: Sequence[str] = ()
    figures: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _require_aware(self.instant)


class ReportFiles(NamedTuple):
    html: Path
    text: Path


# -- values ------------------------------------------------------------------------------------


def format_value(value: Any) -> str:
    """A cell as people read it: None as an em dash, Decimal with its own digits (never in
    exponent form), float as Python's shortest repr, dates and times ISO."""
    if value is None:
        return NONE_SHOWN
    if isinstance(value, Decimal):
        return format(value, "f") if value.is_finite() else str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def format_instant(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def header_line(doc: ReportDocument) -> str:
    run = f"run {doc.run_id}" if doc.run_id is not None else "no run id"
    return f"playbook {doc.playbook}, {format_instant(doc.instant)}, {run}"


def _is_wide_single_row(section: SectionLike) -> bool:
    return len(section.rows) == 1 and len(section.columns) > WIDE_ROW_COLUMNS


# -- HTML --------------------------------------------------------------------------------------


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def render_html(doc: ReportDocument) -> str:
    """The report as one self-contained HTML5 page (see the module docstring)."""
    title = f"{doc.title} \u2014 {format_instant(doc.instant)}"
    total = len(doc.sections)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title>",
        f"<style>\n{STYLE}\n</style>",
        "</head>",
        "<body>",
        *_html_header(doc),
        "<main>",
    ]
    for number, section in enumerate(doc.sections, start=1):
        parts += _html_section(section, number, total, doc.figures.get(section.title))
    parts += [
        "</main>",
        "<footer>Written by ytempire (YTEMPIRE analytics).</footer>",
        "</body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"


def _html_header(doc: ReportDocument) -> list[str]:
    lines = ["<header>", f"<h1>{_e(doc.title)}</h1>", f'<p class="meta">{_e(header_line(doc))}</p>']
    if doc.summary_lines:
        items = "".join(f"<li>{_e(line)}</li>" for line in doc.summary_lines)
        lines.append(f'<ul class="summary">{items}</ul>')
    lines.append("</header>")
    return lines


def _html_section(section: SectionLike, number: int, total: int, figure: str | None) -> list[str]:
    parts = [f'<section id="section-{number}">', f"<h2>[{number}/{total}] {_e(section.title)}</h2>"]
    if section.error:
        parts.append(f'<p class="error"><strong>FAILED:</strong> {_e(section.error)}</p>')
    elif not section.rows:
        parts.append(f'<p class="note">{_e(section.note or "(no rows)")}</p>')
    else:
        parts += _html_table(section)
        if section.note:
            parts.append(f'<p class="note">{_e(section.note)}</p>')
    if figure:
        parts.append(figure)
    parts.append("</section>")
    return parts


def _html_table(section: SectionLike) -> list[str]:
    if _is_wide_single_row(section):  # one record with many fields: a column per line
        pairs = zip(section.columns, section.rows[0], strict=True)
        body = [f"<tr><th>{_e(column)}</th>{_html_cell(value)}</tr>" for column, value in pairs]
        return ["<table>", "<tbody>", *body, "</tbody>", "</table>"]
    numeric = [_numeric_column(section.rows, i) for i in range(len(section.columns))]
    head = "".join(
        f'<th class="num">{_e(c)}</th>' if num else f"<th>{_e(c)}</th>"
        for c, num in zip(section.columns, numeric, strict=True)
    )
    body = ["<tr>" + "".join(_html_cell(value) for value in row) + "</tr>" for row in section.rows]
    return ["<table>", f"<thead><tr>{head}</tr></thead>", "<tbody>", *body, "</tbody>", "</table>"]


def _numeric_column(rows: Sequence[Sequence[Any]], index: int) -> bool:
    values = [row[index] for row in rows if index < len(row) and row[index] is not None]
    return bool(values) and all(is_number(value) for value in values)


def _html_cell(value: Any) -> str:
    if value is None:
        return f'<td class="none">{NONE_SHOWN}</td>'
    if is_number(value):
        return f'<td class="num">{_e(format_value(value))}</td>'
    return f"<td>{_e(format_value(value))}</td>"


# -- text --------------------------------------------------------------------------------------


def render_text(doc: ReportDocument) -> str:
    """The plain-text twin of `render_html`: the same sections and values. Cells longer than
    `tables.MAX_CELL` characters are shortened in multi-row tables (the HTML has them whole)."""
    lines = [doc.title, header_line(doc), *doc.summary_lines]
    total = len(doc.sections)
    for number, section in enumerate(doc.sections, start=1):
        lines += ["", f"== [{number}/{total}] {section.title}", *_text_section(section)]
    return "\n".join(lines) + "\n"


def _text_section(section: SectionLike) -> list[str]:
    if section.error:
        return [f"FAILED: {section.error}"]
    if not section.rows:
        return [section.note or "(no rows)"]
    if _is_wide_single_row(section):
        width = max(len(column) for column in section.columns)
        pairs = zip(section.columns, section.rows[0], strict=True)
        lines = [f"{column:<{width}}  {format_value(value)}" for column, value in pairs]
    else:
        cells = [[format_value(value) for value in row] for row in section.rows]
        lines = [tables.render(list(section.columns), cells)]
    if section.note:
        lines.append(section.note)
    return lines


# -- files -------------------------------------------------------------------------------------


def reports_dir(project_dir: Path, environ: Mapping[str, str] = os.environ) -> Path:
    """YTEMPIRE_REPORTS_DIR (relative to the project when relative), else `<project>/reports`."""
    value = environ.get(ENV_REPORTS_DIR, "").strip()
    directory = Path(value).expanduser() if value else Path(DEFAULT_REPORTS_DIR)
    return directory if directory.is_absolute() else Path(project_dir) / directory


def report_stem(playbook: str, instant: datetime) -> str:
    """`morning_20261201T0800Z`: the playbook and the run's instant in UTC to the minute (a
    replay of the same instant writes over the same files)."""
    if not PLAYBOOK_NAME.fullmatch(playbook):
        raise ValueError(f"not a playbook name usable in a file name: {playbook!r}")
    _require_aware(instant)
    return f"{playbook}_{instant.astimezone(UTC):%Y%m%dT%H%M}Z"


def write_report(directory: Path, stem: str, html: str, text: str) -> ReportFiles:
    """`<stem>.html` and `<stem>.txt` in `directory` (created), each replaced atomically."""
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _write_error(directory, exc) from None
    files = ReportFiles(html=directory / f"{stem}.html", text=directory / f"{stem}.txt")
    _write_atomically(files.html, html)
    _write_atomically(files.text, text)
    return files


def _write_atomically(path: Path, content: str) -> None:
    """Write a temp file beside `path`, fsync it, rename it over `path`; on failure remove it."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as handle:
            handle.write(content.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise _write_error(path, exc) from None
    _sync_directory(path.parent)


def _sync_directory(directory: Path) -> None:
    """Make the rename durable; best effort (not every file system allows it)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_error(path: Path, exc: OSError) -> ReportWriteError:
    reason = exc.strerror or str(exc) or type(exc).__name__
    return ReportWriteError(
        f"report file {path} not written: {reason}: make room or fix the permissions there, "
        f"or set {ENV_REPORTS_DIR} to a writable folder."
    )


def _require_aware(instant: datetime) -> None:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"a report's instant must be timezone-aware, got {instant!r}")
