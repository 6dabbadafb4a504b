"""Where the project lives on disk: the dbt project root and the embedded server's folder."""

from __future__ import annotations

import os
from pathlib import Path

from orchestrator.errors import ConfigError


def project_root() -> Path:
    """The folder holding dbt_project.yml.

    `YTEMPIRE_PROJECT_DIR` wins; otherwise the current directory or one of its parents; otherwise
    the checkout this package was installed from (editable installs).
    """
    configured = os.environ.get("YTEMPIRE_PROJECT_DIR")
    if configured:
        root = Path(configured).expanduser().resolve()
        if not (root / "dbt_project.yml").is_file():
            raise ConfigError(
                f"YTEMPIRE_PROJECT_DIR={root} has no dbt_project.yml: point it at the project "
                "checkout or unset it."
            )
        return root
    here = Path.cwd().resolve()
    for candidate in (here, *here.parents):
        if (candidate / "dbt_project.yml").is_file():
            return candidate
    package_parent = Path(__file__).resolve().parent.parent
    if (package_parent / "dbt_project.yml").is_file():
        return package_parent
    raise ConfigError(
        "No dbt_project.yml found here or above: run ytempire inside the project checkout "
        "or set YTEMPIRE_PROJECT_DIR."
    )


def state_dir(root: Path | None = None) -> Path:
    """`.ytempire/`: the embedded server's data and local alert files (git-ignored)."""
    return (root or project_root()) / ".ytempire"


def embedded_pgdata(root: Path | None = None) -> Path:
    return state_dir(root) / "pgdata"
