"""The escalation matrix (`config/escalation.yml`) and where each alert lands on it.

Category, alert type and the first responder come from the dbt node's meta (an
`artifacts.AlertMeta`, checked when the manifest is read); the level from the result (warn -> 1,
fail/error -> 2, system-wide conditions -> 3); condition, owner, action and SLA of a level from
the matrix. The file is validated on load: a mistake names the file, the key and what is allowed.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from orchestrator import paths
from orchestrator.alert import Alert, Contact, Member, Severity
from orchestrator.artifacts import AlertMeta, NodeResult, ResultKind
from orchestrator.errors import ConfigError

log = logging.getLogger(__name__)

ENV_FILE = "YTEMPIRE_ESCALATION_FILE"
DEFAULT_FILE = Path("config") / "escalation.yml"
REQUIRED_CATEGORIES = ("data_issues", "performance_issues", "cost_overruns", "quota", "quality")
DEFAULT_CATEGORY = "data_issues"
DEFAULT_ALERT_TYPE = "DBT_RESULT"
LEVELS = (1, 2, 3)
LEVEL_KEYS = ("condition", "owner", "action", "sla_minutes")
CONTACT_KEYS = ("slack", "email", "pagerduty_routing_key_env")
DEDUP_PREFIX = "ytempire:"


@dataclass(frozen=True)
class Level:
    number: int
    condition: str
    owner: str
    action: str
    sla_minutes: int


@dataclass(frozen=True)
class Category:
    name: str
    description: str
    levels: dict[int, Level]


@dataclass(frozen=True)
class Matrix:
    categories: dict[str, Category]
    contacts: dict[str, Contact]
    on_call: dict[str, Any] = field(default_factory=dict)
    source: Path | None = None

    def level(self, category: str, number: int) -> Level:
        return self.categories[category].levels[min(max(number, LEVELS[0]), LEVELS[-1])]


class _Checker:
    """Raises ConfigError naming the file, the key path and what is allowed."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.path}: `{key}` {problem}")

    def mapping(self, value: Any, key: str) -> dict[Any, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a mapping, found {type(value).__name__}")
        return value

    def text(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, "must be a non-empty string")
        return value.strip()

    def only(self, mapping: dict[Any, Any], key: str, allowed: tuple[Any, ...]) -> None:
        for name in mapping:
            if name not in allowed:
                listed = ", ".join(str(item) for item in allowed)
                raise self.fail(f"{key}.{name}", f"is not a known key (allowed: {listed})")


def default_path(project_dir: Path | None = None) -> Path:
    configured = os.environ.get(ENV_FILE)
    if configured:
        return Path(configured).expanduser()
    return (project_dir or paths.project_root()) / DEFAULT_FILE


def load(path: Path | None = None) -> Matrix:
    """Load and validate the escalation file."""
    path = path or default_path()
    try:
        document = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(
            f"Cannot read the escalation file {path} ({exc.strerror}): restore "
            f"config/escalation.yml or set {ENV_FILE}."
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}".replace("\n", " ")) from None
    return parse(document, path)


def parse(document: Any, path: Path) -> Matrix:
    check = _Checker(path)
    root = check.mapping(document, "(top level)")
    check.only(root, "(top level)", ("version", "categories", "contacts", "on_call"))
    contacts = _parse_contacts(check, root.get("contacts"))
    categories_doc = check.mapping(root.get("categories"), "categories")
    check.only(categories_doc, "categories", REQUIRED_CATEGORIES)
    categories = {}
    for name in REQUIRED_CATEGORIES:
        if name not in categories_doc:
            raise check.fail(f"categories.{name}", "is missing (every category must be defined)")
        categories[name] = _parse_category(check, name, categories_doc[name], contacts)
    on_call = check.mapping(root.get("on_call") or {}, "on_call")
    _check_roles_in(check, on_call, "on_call", contacts)
    return Matrix(categories=categories, contacts=contacts, on_call=on_call, source=path)


def _parse_contacts(check: _Checker, document: Any) -> dict[str, Contact]:
    contacts_doc = check.mapping(document, "contacts")
    contacts = {}
    for role, entry in contacts_doc.items():
        key = f"contacts.{role}"
        entry = check.mapping(entry, key)
        check.only(entry, key, CONTACT_KEYS)
        env_name = entry.get("pagerduty_routing_key_env")
        if env_name is not None and not str(env_name).replace("_", "").isalnum():
            raise check.fail(
                f"{key}.pagerduty_routing_key_env",
                "must name an environment variable (e.g. YTEMPIRE_PAGERDUTY_ROUTING_KEY), "
                "never hold the key itself",
            )
        contacts[str(role)] = Contact(
            role=str(role),
            slack=entry.get("slack"),
            email=entry.get("email"),
            pagerduty_routing_key_env=env_name,
        )
    return contacts


def _parse_category(
    check: _Checker, name: str, document: Any, contacts: dict[str, Contact]
) -> Category:
    key = f"categories.{name}"
    document = check.mapping(document, key)
    check.only(document, key, ("description", "levels"))
    levels_doc = check.mapping(document.get("levels"), f"{key}.levels")
    check.only(levels_doc, f"{key}.levels", LEVELS)
    levels = {}
    for number in LEVELS:
        level_key = f"{key}.levels.{number}"
        if number not in levels_doc:
            raise check.fail(level_key, "is missing (levels 1, 2 and 3 are required)")
        entry = check.mapping(levels_doc[number], level_key)
        check.only(entry, level_key, LEVEL_KEYS)
        owner = check.text(entry.get("owner"), f"{level_key}.owner")
        if owner not in contacts:
            raise check.fail(
                f"{level_key}.owner",
                f"is {owner!r}, not a role of `contacts` (allowed: {', '.join(contacts)})",
            )
        sla = entry.get("sla_minutes")
        if isinstance(sla, bool) or not isinstance(sla, int) or sla <= 0:
            raise check.fail(
                f"{level_key}.sla_minutes", f"is {sla!r}; it must be a positive integer"
            )
        levels[number] = Level(
            number=number,
            condition=check.text(entry.get("condition"), f"{level_key}.condition"),
            owner=owner,
            action=check.text(entry.get("action"), f"{level_key}.action"),
            sla_minutes=sla,
        )
    return Category(name=name, description=str(document.get("description") or ""), levels=levels)


def _check_roles_in(check: _Checker, value: Any, key: str, contacts: dict[str, Contact]) -> None:
    if isinstance(value, dict):
        for name, item in value.items():
            _check_roles_in(check, item, f"{key}.{name}", contacts)
    elif isinstance(value, list):
        for item in value:
            _check_roles_in(check, item, key, contacts)
    elif value is not None and str(value) not in contacts:
        allowed = ", ".join(contacts)
        raise check.fail(key, f"is {value!r}, not a role of `contacts` (allowed: {allowed})")


# --- placing alerts on the matrix ------------------------------------------------------------


def dedup_key_for(unique_id: str) -> str:
    """The key of a condition that is one node (the wrapper's own checks)."""
    return f"{DEDUP_PREFIX}{unique_id}"


def condition_of(matrix: Matrix, meta: AlertMeta) -> tuple[str, str]:
    """(category, alert type) of a node's meta; no or unknown category -> data_issues."""
    category = meta.escalation or DEFAULT_CATEGORY
    if category not in matrix.categories:
        category = DEFAULT_CATEGORY
    return category, meta.alert_type or DEFAULT_ALERT_TYPE


def condition_key(matrix: Matrix, meta: AlertMeta) -> str:
    """One condition per alert type and category, like the playbook's one alert per check:
    a stale source and the freshness mart's test on it are the same DATA_FRESHNESS alert."""
    category, alert_type = condition_of(matrix, meta)
    return f"{DEDUP_PREFIX}{category}:{alert_type}"


def severity_for(result: NodeResult) -> Severity:
    if result.kind in (ResultKind.FAIL, ResultKind.ERROR):
        return Severity.CRITICAL
    return Severity.WARNING


def level_for(severity: Severity) -> int:
    return 2 if severity is Severity.CRITICAL else 1


def owner_at(matrix: Matrix, category: str, level: int, node_owner: str | None) -> str:
    """The node's owner is the first responder (level 1); higher levels belong to the matrix."""
    if level == 1 and node_owner in matrix.contacts:
        return str(node_owner)
    return matrix.level(category, level).owner


def place(
    matrix: Matrix,
    *,
    dedup_key: str,
    alert_type: str,
    category: str,
    severity: Severity,
    level: int,
    message: str,
    figure: str | None = None,
    node_owner: str | None = None,
    node_id: str | None = None,
    node_name: str | None = None,
    docs_url: str | None = None,
) -> Alert:
    """An Alert at `level` of `category`, with that level's owner, action, SLA and condition.

    An unknown category lands in data_issues and an owner that is no role of the matrix leaves
    level 1 to the matrix; both are kept on the alert (`unknown_escalation`, `unknown_owner`).
    """
    unknown_escalation = None
    if category not in matrix.categories:
        log.warning(
            "unknown escalation category %r on %s: using %s", category, node_id, DEFAULT_CATEGORY
        )
        unknown_escalation, category = category, DEFAULT_CATEGORY
    step = matrix.level(category, level)
    owner = owner_at(matrix, category, step.number, node_owner)
    return Alert(
        dedup_key=dedup_key,
        alert_type=alert_type,
        escalation=category,
        severity=severity,
        level=step.number,
        owner=owner,
        action=step.action,
        sla_minutes=step.sla_minutes,
        message=message,
        figure=figure,
        node_id=node_id,
        node_name=node_name,
        docs_url=docs_url,
        condition=step.condition,
        owner_contact=matrix.contacts[owner],
        node_owner=node_owner,
        unknown_escalation=unknown_escalation,
        unknown_owner=node_owner if node_owner and node_owner not in matrix.contacts else None,
    )


def alert_for_result(
    matrix: Matrix, result: NodeResult, figure: str | None = None, docs_base: str | None = None
) -> Alert:
    """The alert a non-passing dbt result raises; a node without meta lands in data_issues."""
    meta = result.meta
    severity = severity_for(result)
    level = level_for(severity)
    if severity is Severity.CRITICAL and meta.escalation_level is not None:
        level = meta.escalation_level  # the node says its failure is e.g. system-wide (level 3)
    alert = place(
        matrix,
        dedup_key=condition_key(matrix, meta),
        alert_type=meta.alert_type or DEFAULT_ALERT_TYPE,
        category=meta.escalation or DEFAULT_CATEGORY,
        severity=severity,
        level=level,
        message=describe(result, figure),
        figure=figure,
        node_owner=meta.owner,
        node_id=result.unique_id,
        node_name=result.name,
        docs_url=docs_link(docs_base, result),
    )
    member = Member(
        node_id=result.unique_id,
        node_name=result.name,
        status=result.status,
        figure=figure,
        level=alert.level,
    )
    return replace(
        alert,
        dbt_status=result.status,
        failures=result.failures,
        minutes_stale=None if result.minutes_stale is None else round(result.minutes_stale, 1),
        members=(member,),
    )


def _worst_first(alert: Alert) -> tuple[int, int, float]:
    severity = 1 if alert.severity is Severity.CRITICAL else 0
    return (-alert.level, -severity, -(alert.minutes_stale or 0.0))


def merge_conditions(alerts: list[Alert]) -> list[Alert]:
    """One alert per dedup key: the worst member speaks for the condition, the others are
    listed in its message and in `members` (order of first appearance kept among equals)."""
    groups: dict[str, list[Alert]] = {}
    for alert in alerts:
        groups.setdefault(alert.dedup_key, []).append(alert)
    return [_merged(group) for group in groups.values()]


def _merged(group: list[Alert]) -> Alert:
    if len(group) == 1:
        return group[0]
    ranked = sorted(group, key=_worst_first)
    worst = ranked[0]
    also = ", ".join(str(alert.node_name) for alert in ranked[1:])
    return replace(
        worst,
        message=f"{worst.message} (also: {also})",
        members=tuple(member for alert in ranked for member in alert.members),
    )


def escalated(matrix: Matrix, alert: Alert) -> Alert:
    """The same alert one level up (owner, action and SLA of the next level; CRITICAL from 2)."""
    step = matrix.level(alert.escalation, alert.level + 1)
    return replace(
        alert,
        level=step.number,
        owner=step.owner,
        action=step.action,
        sla_minutes=step.sla_minutes,
        severity=Severity.CRITICAL if step.number >= 2 else alert.severity,
        condition=step.condition,
        owner_contact=matrix.contacts[step.owner],
        previous_level=alert.level,
    )


def describe(result: NodeResult, figure: str | None) -> str:
    """One readable sentence for a non-passing result."""
    if result.kind is ResultKind.UNKNOWN:
        return (
            f"{result.resource_type} {result.name}: dbt reported status {result.status!r}, "
            "which ytempire does not know"
        )
    first_line = (result.message or "").strip().splitlines()[0] if result.message else ""
    if result.origin == "freshness":
        if result.minutes_stale is None:
            return f"source {result.name}: {first_line or result.status}"
        limits = ", ".join(
            f"{label} after {value:.0f} min"
            for label, value in (
                ("warn", result.warn_after_minutes),
                ("error", result.error_after_minutes),
            )
            if value is not None
        )
        return f"source {result.name} last loaded {result.minutes_stale:.0f} minutes ago ({limits})"
    if result.resource_type in ("test", "unit_test"):
        rows = f"{result.failures} failing row" + ("" if result.failures == 1 else "s")
        quoted = figure or (rows if result.failures else None)
        detail = f"{quoted}; {first_line}" if quoted and first_line else quoted or first_line
        return f"{result.resource_type.replace('_', ' ')} {result.name} {result.status}: {detail}"
    return f"{result.resource_type} {result.name} {result.status}: {first_line}"


def docs_link(base: str | None, result: NodeResult) -> str | None:
    """The node's page on the dbt docs site (`#!/<type>/<unique_id>`)."""
    if not base:
        return None
    kind = "unit_test" if result.resource_type == "unit_test" else result.resource_type
    return f"{base.rstrip('/')}/#!/{kind}/{result.unique_id}"
