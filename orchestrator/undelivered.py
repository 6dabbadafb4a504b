"""The undelivered file (`.ytempire/undelivered.jsonl`, `NotifySettings.undelivered_file()`):
what `orchestrator.direct_delivery` sent, or could not send, while the database was down.

One JSON line per delivery state (the outbox row's form; a later line for the same event key is a
later state): `append_line`, `read_lines`, `latest_lines`. `requeue`, run by the next
delivery with a database, moves the lines into the outbox (undelivered ones as pending, so they
are sent then) and deletes the file; a line that cannot be read is kept in `<file>.invalid`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path
from typing import Any

import psycopg

from orchestrator import outbox
from orchestrator.notify.settings import NotifySettings
from orchestrator.outbox import STATUS_DEAD, STATUS_PENDING, STATUS_SENT

log = logging.getLogger(__name__)


def append_line(path: Path, row: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(row, default=str, sort_keys=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")


def read_lines(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """The parsed lines of `path`, and the lines that are not valid JSON objects."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return [], []
    good: list[dict[str, Any]] = []
    bad: list[str] = []
    for raw in text.splitlines():
        if not raw.strip():
            continue
        try:
            parsed = json.loads(raw)
        except json.JSONDecodeError:
            bad.append(raw)
            continue
        if isinstance(parsed, dict) and {"event_key", "channel", "payload"} <= parsed.keys():
            good.append(parsed)
        else:
            bad.append(raw)
    return good, bad


def latest_lines(path: Path) -> dict[str, dict[str, Any]]:
    """The last line per event key (a later line is a later state of the same delivery)."""
    lines, _ = read_lines(path)
    return {line["event_key"]: line for line in lines}


def requeue(db: psycopg.Connection, settings: NotifySettings | None = None) -> int:
    """Move the undelivered file's lines into the outbox; returns how many rows were added."""
    settings = settings or NotifySettings.from_env()
    path = settings.undelivered_file()
    claimed = path.with_name(f"{path.name}.{os.getpid()}.claimed")
    with contextlib.suppress(FileNotFoundError):
        os.replace(path, claimed)
    added = 0
    for claim in sorted(path.parent.glob(f"{path.name}.*.claimed")):
        added += _requeue_file(db, claim, path.with_name(f"{path.name}.invalid"))
    return added


def _requeue_file(db: psycopg.Connection, claim: Path, invalid: Path) -> int:
    lines, bad = read_lines(claim)
    if bad:
        with invalid.open("a", encoding="utf-8") as handle:
            handle.writelines(line + "\n" for line in bad)
        log.error("%d unreadable line(s) of %s kept in %s", len(bad), claim, invalid)
    latest: dict[str, dict[str, Any]] = {}
    for line in lines:
        latest[line["event_key"]] = line
    added = 0
    with db.transaction():
        for line in latest.values():
            if outbox.insert_row(db, _row_from_line(line), only_new=True) is not None:
                added += 1
    claim.unlink(missing_ok=True)
    if added:
        log.info("moved %d notification(s) from %s into the outbox", added, claim.name)
    return added


def _row_from_line(line: dict[str, Any]) -> dict[str, Any]:
    status = line.get("status")
    if status not in (STATUS_SENT, STATUS_DEAD):
        status = STATUS_PENDING
    return {
        "event_key": line["event_key"],
        "dedup_key": line.get("dedup_key") or line["event_key"],
        "alert_id": line.get("alert_id"),
        "channel": line["channel"],
        "event": line.get("event", "trigger"),
        "level": int(line.get("level") or 0),
        "payload": line["payload"],
        "status": status,
        "attempts": int(line.get("attempts") or 0),
        "unconfirmed_attempts": int(line.get("unconfirmed_attempts") or 0),
        "last_error": line.get("last_error"),
        "created_at": line.get("created_at"),
        "sent_at": line.get("sent_at") if status == STATUS_SENT else None,
    }
