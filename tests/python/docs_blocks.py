"""A model's YAML description as dbt renders it: each `{{ doc('name') }}` replaced by the
`{% docs name %}` block of that name from the project's Markdown files (computed here, not read
from dbt's manifest, so the docs tests compare dbt's rendering with an independent one)."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"{%-?\s*docs\s+(\w+)\s*-?%}(.*?){%-?\s*enddocs\s*-?%}", re.S)
REFERENCE = re.compile(r"{{\s*doc\(\s*['\"](\w+)['\"]\s*\)\s*}}")


@cache
def blocks() -> dict[str, str]:
    found: dict[str, str] = {}
    for path in sorted((PROJECT_DIR / "models").rglob("*.md")):
        for name, body in BLOCK.findall(path.read_text()):
            found[name] = body.strip()  # dbt strips a block's surrounding whitespace
    return found


def rendered(description: str) -> str:
    """The description with its doc() references replaced by their blocks."""
    return REFERENCE.sub(lambda match: blocks()[match[1]], description)


def plain(markdown: str) -> str:
    """Text as a browser shows rendered Markdown, roughly: emphasis, code marks, table rules and
    pipes dropped, whitespace collapsed (enough to compare a rendered page with its source)."""
    text = re.sub(r"^\s*\|?\s*:?-{3,}.*$", " ", markdown, flags=re.M)  # table separator rows
    text = re.sub(r"[*`]", "", text).replace("|", " ")
    return " ".join(text.split())
