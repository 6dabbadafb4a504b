"""Read what dbt wrote: `manifest.json`, `run_results.json` and `sources.json`.

Results are read from the artifacts only, never from dbt's console output. A status this module
does not know (dbt adds some between releases) is kept as `ResultKind.UNKNOWN` with the raw
string, so it is reported rather than dropped. `dbt source freshness` leaves a source whose query
failed (e.g. its raw table is missing) out of `sources.json`: `missing_freshness_results` turns
every source with an SLA that has no result into a `runtime error` result.

Alert meta is parsed once per node into an `AlertMeta` (`Manifest.meta_for`, all nodes checked by
`load_manifest`), so no other module reads meta keys. A malformed value raises `ConfigError`
naming the node, its file, the key and what is allowed. Unknown keys follow one rule:
- tests, unit tests and sources alert, so their meta holds alert keys only (ALERT_META_KEYS):
  any other key is a typo and raises;
- models, seeds and snapshots also carry documentation meta (`contains_pii`, a team...), so any
  key is allowed except a near-miss of an alert key other than `owner` (`alert_typ`,
  `escalaton`), which raises; a non-string `owner` there is documentation too and is not used
  as the first responder;
- nodes of installed packages are not ours to fix: their unknown keys are ignored.
The alert keys' values are checked on every node.
"""

from __future__ import annotations

import difflib
import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from orchestrator.errors import ConfigError, DbtFailed

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
RUN_RESULTS = "run_results.json"
SOURCES = "sources.json"

INHERITED_META_KEYS = ("alert_type", "escalation", "owner")  # a test falls back to its model's
ALERT_META_KEYS = (
    *INHERITED_META_KEYS,
    "escalation_level",
    "figure_column",
    "figure_agg",
    "figure_unit",
)
ALERTING_TYPES = ("test", "unit_test", "source")  # their meta holds alert keys only
TEST_TYPES = ("test", "unit_test")
PARENT_TYPES = ("model", "seed", "snapshot")


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


def classify(status: str | None) -> ResultKind:
    return KNOWN_STATUSES.get(str(status or "").strip().lower(), ResultKind.UNKNOWN)


class OtherKeys(StrEnum):
    """What a node's meta keys other than the alert keys are (see the module docstring)."""

    FORBIDDEN = "forbidden"  # tests, unit tests and sources of the project
    DOCUMENTATION = "documentation"  # models, seeds, snapshots: allowed unless a near-miss
    IGNORED = "ignored"  # nodes of installed packages


FigureAgg = Literal["max", "min"]
FIGURE_AGGS = ("max", "min")
ALERT_TYPE_PATTERN = re.compile(r"[A-Z][A-Z0-9_]*")
# `owner` is everyday documentation vocabulary (`owners`, `co_owner`): near-misses of the
# wrapper's own names only are typos
TYPO_TARGETS = tuple(key for key in ALERT_META_KEYS if key != "owner")
TYPO_CUTOFF = 0.8  # difflib ratio from which an unknown key on a model is a misspelt alert key


@dataclass(frozen=True)
class AlertMeta:
    """A node's alert keys, checked: the alert it raises, its category, who answers first, the
    level a failure opens at, and how the alert's figure is read from the stored failures."""

    alert_type: str | None = None  # DATA_FRESHNESS, COST_PER_VIDEO... (none: DBT_RESULT)
    escalation: str | None = None  # a category of config/escalation.yml (none: data_issues)
    owner: str | None = None  # a role of the matrix: the first responder at level 1
    escalation_level: int | None = None  # the level a failure opens at (3: system-wide)
    figure_column: str | None = None  # the column of the test's store_failures table quoted
    figure_agg: FigureAgg = "max"  # which end of figure_column is the worst
    figure_unit: str | None = None  # "USD per video", "minutes", "%"...

    @classmethod
    def parse(
        cls, meta: Mapping[str, Any], node: str, others: OtherKeys = OtherKeys.FORBIDDEN
    ) -> AlertMeta:
        """The alert keys of `meta`; ConfigError naming `node` and the key when one is wrong."""
        check = _MetaCheck(node)
        check.other_keys(meta, others)
        if others is OtherKeys.FORBIDDEN:
            owner = check.text(meta, "owner", "a role of config/escalation.yml")
        else:  # a model's owner may be documentation (a list of people...), not a role
            value = meta.get("owner")
            owner = value.strip() if isinstance(value, str) and value.strip() else None
        column = check.text(meta, "figure_column", "the column of the test's stored failures")
        for key in ("figure_agg", "figure_unit"):
            if meta.get(key) is not None and column is None:
                raise check.fail(key, "is set without `figure_column`, the column it applies to")
        return cls(
            alert_type=check.alert_type(meta),
            escalation=check.text(meta, "escalation", "a category of config/escalation.yml"),
            owner=owner,
            escalation_level=check.escalation_level(meta),
            figure_column=column,
            figure_agg=check.figure_agg(meta),
            figure_unit=check.text(meta, "figure_unit", "a unit such as `USD per video` or `%`"),
        )


class _MetaCheck:
    """Raises ConfigError naming the node, the meta key and what is allowed."""

    def __init__(self, node: str) -> None:
        self.node = node

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.node}: meta `{key}` {problem}")

    def other_keys(self, meta: Mapping[str, Any], others: OtherKeys) -> None:
        unknown = [str(key) for key in meta if key not in ALERT_META_KEYS]
        if others is OtherKeys.IGNORED or not unknown:
            return
        if others is OtherKeys.FORBIDDEN:
            key = unknown[0]
            close = difflib.get_close_matches(key.lower(), ALERT_META_KEYS, n=1, cutoff=0.6)
            hint = f"did you mean `{close[0]}`? " if close else ""
            raise self.fail(
                key, f"is not an alert key ({hint}allowed: {', '.join(ALERT_META_KEYS)})"
            )
        for key in unknown:
            close = difflib.get_close_matches(key.lower(), TYPO_TARGETS, n=1, cutoff=TYPO_CUTOFF)
            if close:
                raise self.fail(
                    key,
                    f"looks like a misspelt `{close[0]}`: rename it (other documentation keys "
                    f"are fine, but not near-misses of {', '.join(TYPO_TARGETS)})",
                )

    def text(self, meta: Mapping[str, Any], key: str, what: str) -> str | None:
        value = meta.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, f"is {value!r}; it must be a non-empty string ({what})")
        return value.strip()

    def alert_type(self, meta: Mapping[str, Any]) -> str | None:
        value = meta.get("alert_type")
        if value is None:
            return None
        if not isinstance(value, str) or not ALERT_TYPE_PATTERN.fullmatch(value):
            raise self.fail(
                "alert_type",
                f"is {value!r}; it must be an upper-case name such as DATA_FRESHNESS "
                "(letters, digits and underscores)",
            )
        return value

    def escalation_level(self, meta: Mapping[str, Any]) -> int | None:
        value = meta.get("escalation_level")
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value not in (1, 2, 3):
            raise self.fail(
                "escalation_level",
                f"is {value!r}; it must be 1, 2 or 3 (the level a failure of this node opens at)",
            )
        return value

    def figure_agg(self, meta: Mapping[str, Any]) -> FigureAgg:
        value = meta.get("figure_agg")
        if value is None:
            return "max"
        if value not in FIGURE_AGGS:
            raise self.fail(
                "figure_agg",
                f"is {value!r}; it must be max or min (which end of figure_column is the worst)",
            )
        return "min" if value == "min" else "max"


@dataclass
class NodeResult:
    """One result of one dbt node (model, test, seed, snapshot, unit test or source freshness)."""

    unique_id: str
    resource_type: str
    name: str
    status: str  # dbt's own string, kept as written
    kind: ResultKind
    origin: str  # "build" (run_results.json) or "freshness" (sources.json)
    message: str | None = None
    failures: int | None = None
    relation_name: str | None = None  # the store_failures table of a test
    execution_time: float | None = None
    meta: AlertMeta = field(default_factory=AlertMeta)
    minutes_stale: float | None = None  # source freshness only
    warn_after_minutes: float | None = None
    error_after_minutes: float | None = None

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
    _alert_meta: dict[str, AlertMeta] = field(default_factory=dict, init=False, repr=False)

    def node(self, unique_id: str) -> dict[str, Any] | None:
        return self.nodes.get(unique_id)

    def display_name(self, unique_id: str) -> str:
        node = self.nodes.get(unique_id) or {}
        if node.get("resource_type") == "source":
            return f"{node.get('source_name')}.{node.get('name')}"
        return str(node.get("name") or unique_id.split(".")[-1])

    def own_meta(self, unique_id: str) -> dict[str, Any]:
        node = self.nodes.get(unique_id) or {}
        config = node.get("config") or {}
        return dict(config.get("meta") or node.get("meta") or {})

    def parent_model(self, unique_id: str) -> str | None:
        """The model a test is attached to (or the single model a singular/unit test reads)."""
        node = self.nodes.get(unique_id) or {}
        attached = node.get("attached_node")
        if attached:
            return attached
        parents = [
            parent
            for parent in (node.get("depends_on") or {}).get("nodes") or []
            if (self.nodes.get(parent) or {}).get("resource_type") in PARENT_TYPES
        ]
        if node.get("resource_type") == "unit_test" and parents:
            return parents[0]
        return parents[0] if len(parents) == 1 else None

    def meta_for(self, unique_id: str) -> AlertMeta:
        """A node's alert meta; a test's alert_type, escalation and owner fall back to its
        model's, then to the project's.

        dbt merges the project-level `data_tests: +meta` into every test's meta, so the test's
        own keys are taken from `unrendered_config` (what the test itself set) when that differs
        from the project default; otherwise the model's meta wins, then the project default.
        Parsed once per node; ConfigError when a key or value is wrong (module docstring).
        """
        parsed = self._alert_meta.get(unique_id)
        if parsed is None:
            parsed = self._alert_meta[unique_id] = self._parse_meta(unique_id)
        return parsed

    def check_meta(self) -> None:
        """Parse the alert meta of every node now, so a mistake fails the run at its start."""
        for unique_id in self.nodes:
            self.meta_for(unique_id)

    def _parse_meta(self, unique_id: str) -> AlertMeta:
        node = self.nodes.get(unique_id) or {}
        meta = self.own_meta(unique_id)
        if node.get("resource_type") in TEST_TYPES:
            explicit = dict((node.get("unrendered_config") or {}).get("meta") or {})
            if explicit == self.project_test_meta:
                explicit = {}
            parent = self.parent_model(unique_id)
            inherited = self.meta_for(parent) if parent else AlertMeta()
            for key in INHERITED_META_KEYS:
                value = explicit.get(key) or getattr(inherited, key) or meta.get(key)
                if value:
                    meta[key] = value
        return AlertMeta.parse(meta, self._where(unique_id), self._other_keys(node))

    def _where(self, unique_id: str) -> str:
        path = (self.nodes.get(unique_id) or {}).get("original_file_path")
        return f"{unique_id} ({path})" if path else unique_id

    def _other_keys(self, node: dict[str, Any]) -> OtherKeys:
        if node.get("package_name") not in (None, self.project_name):
            return OtherKeys.IGNORED
        if node.get("resource_type") in ALERTING_TYPES:
            return OtherKeys.FORBIDDEN
        return OtherKeys.DOCUMENTATION

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
    return invocation_id, [_result(manifest, raw, "build") for raw in document.get("results") or []]


def parse_sources(target_path: Path, manifest: Manifest) -> tuple[str | None, list[NodeResult]]:
    """The invocation id and the results of `dbt source freshness`."""
    document = _read_json(target_path / SOURCES)
    invocation_id = (document.get("metadata") or {}).get("invocation_id")
    results = []
    for raw in document.get("results") or []:
        result = _result(manifest, raw, "freshness")
        seconds = raw.get("max_loaded_at_time_ago_in_s")
        result.minutes_stale = None if seconds is None else float(seconds) / 60
        criteria = raw.get("criteria") or {}
        result.warn_after_minutes = _period_minutes(criteria.get("warn_after"))
        result.error_after_minutes = _period_minutes(criteria.get("error_after"))
        if result.message is None and not result.passed and result.minutes_stale is not None:
            result.message = f"last load {result.minutes_stale:.0f} minutes ago"
        results.append(result)
    return invocation_id, results


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


def relation_of(manifest: Manifest, unique_id: str) -> str | None:
    return (manifest.node(unique_id) or {}).get("relation_name")
