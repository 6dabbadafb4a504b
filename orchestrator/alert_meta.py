"""A node's alert meta, parsed once into an `AlertMeta`, so no other module reads meta keys.

`NodeMetas` parses the meta of the nodes of one manifest (`artifacts.Manifest.meta_for`, all of
them checked by `artifacts.load_manifest`). A malformed value raises `ConfigError` naming the
node, its file, the key and what is allowed. Unknown keys follow one rule:
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
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from orchestrator.errors import ConfigError

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
class NodeMetas:
    """The alert meta of the nodes of one manifest (`nodes` keyed by unique id), parsed on
    first use and kept."""

    nodes: Mapping[str, dict[str, Any]]
    project_name: str
    project_test_meta: Mapping[str, Any] = field(default_factory=dict)
    _parsed: dict[str, AlertMeta] = field(default_factory=dict, init=False, repr=False)

    def meta_for(self, unique_id: str) -> AlertMeta:
        """A node's alert meta; a test's alert_type, escalation and owner fall back to its
        model's, then to the project's.

        dbt merges the project-level `data_tests: +meta` into every test's meta, so the test's
        own keys are taken from `unrendered_config` (what the test itself set) when that differs
        from the project default; otherwise the model's meta wins, then the project default.
        Parsed once per node; ConfigError when a key or value is wrong (module docstring).
        """
        parsed = self._parsed.get(unique_id)
        if parsed is None:
            parsed = self._parsed[unique_id] = self._parse(unique_id)
        return parsed

    def check_all(self) -> None:
        """Parse the alert meta of every node now, so a mistake fails the run at its start."""
        for unique_id in self.nodes:
            self.meta_for(unique_id)

    def _parse(self, unique_id: str) -> AlertMeta:
        node = self.nodes.get(unique_id) or {}
        meta = own_meta(node)
        if node.get("resource_type") in TEST_TYPES:
            explicit = dict((node.get("unrendered_config") or {}).get("meta") or {})
            if explicit == self.project_test_meta:
                explicit = {}
            parent = parent_model(self.nodes, unique_id)
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


def own_meta(node: Mapping[str, Any]) -> dict[str, Any]:
    """A manifest node's meta: its `config.meta`, else its top-level `meta`."""
    config = node.get("config") or {}
    return dict(config.get("meta") or node.get("meta") or {})


def parent_model(nodes: Mapping[str, dict[str, Any]], unique_id: str) -> str | None:
    """The model a test is attached to (or the single model a singular/unit test reads)."""
    node = nodes.get(unique_id) or {}
    attached = node.get("attached_node")
    if attached:
        return attached
    parents = [
        parent
        for parent in (node.get("depends_on") or {}).get("nodes") or []
        if (nodes.get(parent) or {}).get("resource_type") in PARENT_TYPES
    ]
    if node.get("resource_type") == "unit_test" and parents:
        return parents[0]
    return parents[0] if len(parents) == 1 else None
