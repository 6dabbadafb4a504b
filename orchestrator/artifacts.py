"""Read what dbt wrote: `manifest.json`, `run_results.json` and `sources.json`.

Results are read from the artifacts only, never from dbt's console output. A status this module
does not know (dbt adds some between releases) is kept as `ResultKind.UNKNOWN` with the raw
string, so it is reported rather than dropped. `dbt source freshness` leaves a source whose query
failed (e.g. its raw table is missing) out of `sources.json`: `missing_freshness_results` turns
every source with an SLA that has no result into a `runtime error` result.

Every result carries its node's typed alert meta (`alert_meta.AlertMeta`): `load_manifest` parses
the meta of every node before anything reads a result, so a mistake fails the run at its start.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from orchestrator.alert_meta import AlertMeta, NodeMetas
from orchestrator.errors import DbtFailed

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
RUN_RESULTS = "run_results.json"
SOURCES = "sources.json"


class ResultKind(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    ERROR = "error"
    SKIPPED = "skipped"
    UNKNOWN = "unknown"


# dbt's status strings (models, tests, seeds, snapshots, freshness) and what they mean here.
KNOWN_STATUSES: dict[str, ResultKind] = {
    "success": ResultKind.PASS,
    "pass": ResultKind.PASS,
    "no-op": ResultKind.PASS,
    "warn": ResultKind.WARN,
    "partial success": ResultKind.WARN,
    "fail": ResultKind.FAIL,
    "error": ResultKind.ERROR,
    "runtime error": ResultKind.ERROR,
    "skipped": ResultKind.SKIPPED,
}


# Nodes dbt build lists as "no-op" that describe the project and run nothing (the exposures):
# not results, so they count neither as passes nor in any alert.
CATALOGUE_ONLY = frozenset({"exposure", "metric", "saved_query", "semantic_model"})


def classify(status: str | None) -> ResultKind:
    return KNOWN_STATUSES.get(str(status or "").strip().lower(), ResultKind.UNKNOWN)


@dataclass
class NodeResult:
    """One result of one dbt node (model, test, seed, snapshot, unit test or source freshness)."""

    unique_id: str
    resource_type: str
    name: str
    status: str  # dbt's own string, kept as written
    kind: ResultKind
    origin: str  # "build" (run_results.json), "freshness" (sources.json) or "quality" (GX)
    message: str | None = None
    failures: int | None = None
    relation_name: str | None = None  # the store_failures table of a test
    execution_time: float | None = None
    meta: AlertMeta = field(default_factory=AlertMeta)
    minutes_stale: float | None = None  # source freshness only
    warn_after_minutes: float | None = None
    error_after_minutes: float | None = None
    figure: str | None = None  # a quality check's observed value, as the alert quotes it

    @property
    def passed(self) -> bool:
        return self.kind is ResultKind.PASS

    @property
    def alerts(self) -> bool:
        """Every non-passing result alerts, except skipped nodes (their cause alerts instead)."""
        return self.kind not in (ResultKind.PASS, ResultKind.SKIPPED)

    @property
    def evaluated(self) -> bool:
        """The condition was checked this run (so an open alert on it may be resolved)."""
        return self.kind in (ResultKind.PASS, ResultKind.WARN, ResultKind.FAIL, ResultKind.ERROR)

    def to_dict(self) -> dict[str, Any]:
        return {
            "unique_id": self.unique_id,
            "resource_type": self.resource_type,
            "name": self.name,
            "status": self.status,
            "kind": str(self.kind),
            "origin": self.origin,
            "message": self.message,
            "failures": self.failures,
            "minutes_stale": None if self.minutes_stale is None else round(self.minutes_stale, 1),
            "execution_time": self.execution_time,
        }


@dataclass
class Manifest:
    """The parts of manifest.json the wrapper reads: nodes, sources, unit tests and their meta.

    `load_manifest` checks every node's alert meta; a Manifest built by hand parses it on first
    use (`meta_for`)."""

    nodes: dict[str, dict[str, Any]]
    project_name: str
    invocation_id: str | None
    project_test_meta: dict[str, Any] = field(default_factory=dict)
    _metas: NodeMetas = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._metas = NodeMetas(self.nodes, self.project_name, self.project_test_meta)

    def node(self, unique_id: str) -> dict[str, Any] | None:
        return self.nodes.get(unique_id)

    def display_name(self, unique_id: str) -> str:
        node = self.nodes.get(unique_id) or {}
        if node.get("resource_type") == "source":
            return f"{node.get('source_name')}.{node.get('name')}"
        return str(node.get("name") or unique_id.split(".")[-1])

    def meta_for(self, unique_id: str) -> AlertMeta:
        """A node's alert meta, parsed once (`alert_meta.NodeMetas.meta_for`)."""
        return self._metas.meta_for(unique_id)

    def check_meta(self) -> None:
        """Parse the alert meta of every node now, so a mistake fails the run at its start."""
        self._metas.check_all()

    def freshness_sources(self) -> list[str]:
        """Sources with a freshness SLA (warn_after or error_after set)."""
        return [
            unique_id
            for unique_id, node in self.nodes.items()
            if node.get("resource_type") == "source" and _has_sla(node)
        ]


def _has_sla(node: dict[str, Any]) -> bool:
    freshness = node.get("freshness") or (node.get("config") or {}).get("freshness") or {}
    return any(
        (freshness.get(key) or {}).get("count") is not None for key in ("warn_after", "error_after")
    )


def _period_minutes(threshold: dict[str, Any] | None) -> float | None:
    if not threshold or threshold.get("count") is None:
        return None
    per = {"minute": 1, "hour": 60, "day": 1440}.get(str(threshold.get("period")))
    return None if per is None else float(threshold["count"]) * per


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise DbtFailed(
            f"dbt wrote no {path.name} in {path.parent}: see dbt's output above."
        ) from None
    except json.JSONDecodeError as exc:
        raise DbtFailed(f"{path} is not valid JSON ({exc}): re-run dbt.") from None


def load_manifest(target_path: Path, project_test_meta: dict[str, Any] | None = None) -> Manifest:
    document = _read_json(target_path / MANIFEST)
    nodes: dict[str, dict[str, Any]] = {}
    for section in ("nodes", "sources", "unit_tests", "seeds", "snapshots"):
        nodes.update(document.get(section) or {})
    metadata = document.get("metadata") or {}
    manifest = Manifest(
        nodes=nodes,
        project_name=str(metadata.get("project_name") or ""),
        invocation_id=metadata.get("invocation_id"),
        project_test_meta=dict(project_test_meta or {}),
    )
    manifest.check_meta()
    return manifest


def _result(manifest: Manifest, raw: dict[str, Any], origin: str) -> NodeResult:
    unique_id = str(raw.get("unique_id"))
    node = manifest.node(unique_id) or {}
    status = str(raw.get("status"))
    kind = classify(status)
    if kind is ResultKind.UNKNOWN:
        log.warning(
            "dbt reported status %r for %s, which ytempire does not know", status, unique_id
        )
    return NodeResult(
        unique_id=unique_id,
        resource_type=str(node.get("resource_type") or unique_id.split(".")[0]),
        name=manifest.display_name(unique_id),
        status=status,
        kind=kind,
        origin=origin,
        message=raw.get("message") or raw.get("error"),
        failures=raw.get("failures"),
        relation_name=raw.get("relation_name") if node.get("resource_type") == "test" else None,
        execution_time=raw.get("execution_time"),
        meta=manifest.meta_for(unique_id),
    )


def parse_run_results(target_path: Path, manifest: Manifest) -> tuple[str | None, list[NodeResult]]:
    """The invocation id and the results of a `dbt build` (or run/test) invocation."""
    document = _read_json(target_path / RUN_RESULTS)
    invocation_id = (document.get("metadata") or {}).get("invocation_id")
    return invocation_id, [
        _result(manifest, raw, "build")
        for raw in document.get("results") or []
        if str(raw.get("unique_id")).split(".")[0] not in CATALOGUE_ONLY
    ]


def parse_sources(target_path: Path, manifest: Manifest) -> tuple[str | None, list[NodeResult]]:
    """The invocation id and the results of `dbt source freshness`."""
    document = _read_json(target_path / SOURCES)
    invocation_id = (document.get("metadata") or {}).get("invocation_id")
    results = []
    for raw in document.get("results") or []:
        result = _result(manifest, raw, "freshness")
        seconds = raw.get("max_loaded_at_time_ago_in_s")
        result.minutes_stale = None if seconds is None else float(seconds) / 60
        if _no_rows(raw.get("max_loaded_at")):  # dbt reports year 1 for max() of no rows
            result.minutes_stale = None
            result.figure = NO_ROWS
            result.message = (
                f"{NO_ROWS}: the table is empty or every row is stamped after the run's instant"
            )
        criteria = raw.get("criteria") or {}
        result.warn_after_minutes = _period_minutes(criteria.get("warn_after"))
        result.error_after_minutes = _period_minutes(criteria.get("error_after"))
        if result.message is None and not result.passed and result.minutes_stale is not None:
            result.message = f"last load {result.minutes_stale:.0f} minutes ago"
        results.append(result)
    return invocation_id, results


NO_ROWS = "no rows"


def _no_rows(max_loaded_at: Any) -> bool:
    """dbt's max_loaded_at for a source whose freshness query found no row (0001-01-01)."""
    return max_loaded_at is None or str(max_loaded_at).startswith("0001-01-01")


def missing_freshness_results(
    manifest: Manifest, results: Iterable[NodeResult], reasons: dict[str, str] | None = None
) -> list[NodeResult]:
    """A `runtime error` result for every source with an SLA that has no freshness result."""
    seen = {result.unique_id for result in results}
    missing = []
    for unique_id in manifest.freshness_sources():
        if unique_id in seen:
            continue
        reason = (reasons or {}).get(unique_id) or "the freshness query did not complete"
        missing.append(
            NodeResult(
                unique_id=unique_id,
                resource_type="source",
                name=manifest.display_name(unique_id),
                status="runtime error",
                kind=ResultKind.ERROR,
                origin="freshness",
                message=f"freshness could not be checked: {reason}",
                meta=manifest.meta_for(unique_id),
            )
        )
    return missing
