"""The fault suite's figures: each fault test records one row (fault, runs, alerts lost, alerts
duplicated, exit codes, seconds) into the JSON-lines file YTEMPIRE_FAULT_TABLE names (`make
reliability` sets it; unset, nothing is recorded), and `python tests/python/fault_table.py FILE`
prints them as the Markdown table the README shows."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

ENV_TABLE = "YTEMPIRE_FAULT_TABLE"
COLUMNS = ("fault", "server", "runs", "alerts lost", "alerts duplicated", "exit codes", "seconds")


@dataclass(frozen=True)
class FaultRow:
    fault: str
    server: str
    runs: int
    lost: int
    duplicated: int
    exit_codes: tuple[int, ...]
    seconds: float


def record(row: FaultRow) -> None:
    path = os.environ.get(ENV_TABLE)
    if not path:
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as out:  # one short line per write: safe across workers
        out.write(json.dumps(asdict(row)) + "\n")


def render(path: Path) -> str:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    rows.sort(key=lambda row: (row["fault"], row["server"]))
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        codes = ", ".join(str(code) for code in row["exit_codes"])
        lines.append(
            f"| {row['fault']} | {row['server']} | {row['runs']} | {row['lost']} | "
            f"{row['duplicated']} | {codes} | {row['seconds']:.1f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(Path(sys.argv[1])))
