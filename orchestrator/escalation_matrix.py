"""The escalation matrix (`config/escalation.yml`): its categories, their levels 1 to 3 (condition,
owner, action, SLA), the contacts of every role, the on-call schedule and the opt-in automatic
remediations, loaded and validated once per run. A mistake names the file, the key and what is
allowed. Where an alert lands on it: `escalation`; who is on call at an instant: `OnCall.roles_at`;
what a remediation does: `orchestrator.remediation`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from orchestrator import paths
from orchestrator.alert import Contact
from orchestrator.errors import ConfigError

ENV_FILE = "YTEMPIRE_ESCALATION_FILE"
DEFAULT_FILE = Path("config") / "escalation.yml"
REQUIRED_CATEGORIES = ("data_issues", "performance_issues", "cost_overruns", "quota", "quality")
LEVELS = (1, 2, 3)
LEVEL_KEYS = ("condition", "owner", "action", "sla_minutes")
CONTACT_KEYS = ("slack", "email", "pagerduty_routing_key_env")
TOP_LEVEL_KEYS = ("version", "categories", "contacts", "on_call", "remediation")
ON_CALL_KEYS = ("working_hours", "working_days", "primary", "backup", "escalation")
PRIMARY_KEYS = ("weekdays", "nights_weekends")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DEFAULT_WORKING_HOURS = "09:00-18:00"
DEFAULT_WORKING_DAYS = WEEKDAYS[:5]
_HOURS = re.compile(r"([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]|24):([0-5]\d)")
# remediation: the alert types that may have one, the actions, and each action's own keys
REMEDIABLE_ALERT_TYPES = ("DASHBOARD_PERFORMANCE", "CACHE_HIT_RATE")
REBUILD_DASHBOARD_MARTS = "rebuild_dashboard_marts"
CACHE_WARMUP = "cache_warmup"
ACTION_KEYS: dict[str, tuple[str, ...]] = {
    REBUILD_DASHBOARD_MARTS: ("select",),
    CACHE_WARMUP: ("command", "timeout_seconds", "flush"),
}
# the marts the dashboards read (executive, revenue, channel, cost tracking, user progress)
DEFAULT_DASHBOARD_SELECT = "path:models/marts/finance path:models/marts/content"
DEFAULT_WARMUP_TIMEOUT_S = 300


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
class OnCall:
    """Who is on call (roles): `weekdays` during working hours on working days, otherwise the
    `nights_weekends` rotation (one role per ISO week: week N takes entry (N - 1) mod its
    length), and `backup` always. Working hours are [start, end) in the business time zone."""

    weekdays: str
    nights_weekends: tuple[str, ...]
    backup: str
    escalation: str | None = None
    working_start: time = time(9)
    working_end: time = time(18)
    working_days: tuple[int, ...] = (1, 2, 3, 4, 5)  # ISO weekdays, Monday = 1

    def is_working_time(self, local: datetime) -> bool:
        if local.isoweekday() not in self.working_days:
            return False
        moment = local.time().replace(tzinfo=None)
        return self.working_start <= moment < self.working_end

    def primary_at(self, local: datetime) -> str:
        if self.is_working_time(local):
            return self.weekdays
        week = local.isocalendar().week
        return self.nights_weekends[(week - 1) % len(self.nights_weekends)]

    def roles_at(self, now: datetime, timezone: str) -> tuple[str, str]:
        """(primary, backup) at `now` (an aware instant), read in the `timezone` zone."""
        local = now.astimezone(business_zone(timezone))
        return self.primary_at(local), self.backup


@dataclass(frozen=True)
class RemediationRule:
    """One `remediation:` entry: what runs when an alert of `alert_type` opens (if enabled)."""

    alert_type: str
    action: str
    enabled: bool = False
    select: str = DEFAULT_DASHBOARD_SELECT  # rebuild_dashboard_marts: the dbt selection
    command: tuple[str, ...] = ()  # cache_warmup: the argv run (no shell)
    timeout_seconds: int = DEFAULT_WARMUP_TIMEOUT_S
    flush: bool = False  # cache_warmup: FLUSHDB on YTEMPIRE_REDIS_URL first


@dataclass(frozen=True)
class Matrix:
    categories: dict[str, Category]
    contacts: dict[str, Contact]
    on_call: OnCall | None = None
    source: Path | None = None
    remediation: dict[str, RemediationRule] = field(default_factory=dict)

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
    check.only(root, "(top level)", TOP_LEVEL_KEYS)
    contacts = _parse_contacts(check, root.get("contacts"))
    categories_doc = check.mapping(root.get("categories"), "categories")
    check.only(categories_doc, "categories", REQUIRED_CATEGORIES)
    categories = {}
    for name in REQUIRED_CATEGORIES:
        if name not in categories_doc:
            raise check.fail(f"categories.{name}", "is missing (every category must be defined)")
        categories[name] = _parse_category(check, name, categories_doc[name], contacts)
    return Matrix(
        categories=categories,
        contacts=contacts,
        on_call=_parse_on_call(check, root.get("on_call"), contacts),
        source=path,
        remediation=_parse_remediation(check, root.get("remediation")),
    )


def business_zone(name: str) -> ZoneInfo:
    """The `business_timezone` dbt var as a time zone (ConfigError when it is not one)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"dbt_project.yml: var `business_timezone` is {name!r}, not an IANA time zone: "
            "set it to a name such as UTC or America/New_York."
        ) from None


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


def _parse_on_call(check: _Checker, document: Any, contacts: dict[str, Contact]) -> OnCall | None:
    if document is None:
        return None
    on_call = check.mapping(document, "on_call")
    check.only(on_call, "on_call", ON_CALL_KEYS)
    roles = {name: on_call[name] for name in ("primary", "backup", "escalation") if name in on_call}
    _check_roles_in(check, roles, "on_call", contacts)
    primary = check.mapping(on_call.get("primary"), "on_call.primary")
    check.only(primary, "on_call.primary", PRIMARY_KEYS)
    rotation = primary.get("nights_weekends")
    if isinstance(rotation, str):
        rotation = [rotation]
    if not isinstance(rotation, list) or not rotation:
        raise check.fail(
            "on_call.primary.nights_weekends", "must be a role or a non-empty list of roles"
        )
    start, end = _working_hours(check, on_call.get("working_hours", DEFAULT_WORKING_HOURS))
    escalation_role = on_call.get("escalation")
    return OnCall(
        weekdays=check.text(primary.get("weekdays"), "on_call.primary.weekdays"),
        nights_weekends=tuple(str(role) for role in rotation),
        backup=check.text(on_call.get("backup"), "on_call.backup"),
        escalation=None if escalation_role is None else str(escalation_role),
        working_start=start,
        working_end=end,
        working_days=_working_days(check, on_call.get("working_days", list(DEFAULT_WORKING_DAYS))),
    )


def _working_hours(check: _Checker, value: Any) -> tuple[time, time]:
    key = "on_call.working_hours"
    found = _HOURS.fullmatch(value.strip()) if isinstance(value, str) else None
    if found is None:
        raise check.fail(key, f'is {value!r}; it must be "HH:MM-HH:MM" (e.g. "09:00-18:00")')
    start_h, start_m, end_h, end_m = (int(part) for part in found.groups())
    if end_h == 24 and end_m:
        raise check.fail(key, f"is {value!r}; the latest end is 24:00")
    start = time(start_h, start_m)
    end = time.max if end_h == 24 else time(end_h, end_m)
    if end <= start:
        raise check.fail(key, f"is {value!r}; the end must be after the start (same day)")
    return start, end


def _working_days(check: _Checker, value: Any) -> tuple[int, ...]:
    key = "on_call.working_days"
    if not isinstance(value, list) or not value:
        raise check.fail(key, f"must be a non-empty list of days (allowed: {', '.join(WEEKDAYS)})")
    days = []
    for day in value:
        name = str(day).strip().lower()
        if name not in WEEKDAYS:
            raise check.fail(key, f"has {day!r}, not a day (allowed: {', '.join(WEEKDAYS)})")
        days.append(WEEKDAYS.index(name) + 1)
    return tuple(sorted(set(days)))


def _parse_remediation(check: _Checker, document: Any) -> dict[str, RemediationRule]:
    if document is None:
        return {}
    rules_doc = check.mapping(document, "remediation")
    check.only(rules_doc, "remediation", REMEDIABLE_ALERT_TYPES)
    return {
        str(alert_type): _parse_rule(check, str(alert_type), entry)
        for alert_type, entry in rules_doc.items()
    }


def _parse_rule(check: _Checker, alert_type: str, document: Any) -> RemediationRule:
    key = f"remediation.{alert_type}"
    entry = check.mapping(document, key)
    action = entry.get("action")
    if action not in ACTION_KEYS:
        raise check.fail(
            f"{key}.action", f"is {action!r}, not an action (allowed: {', '.join(ACTION_KEYS)})"
        )
    check.only(entry, key, ("enabled", "action", *ACTION_KEYS[action]))
    enabled = _flag(check, entry.get("enabled", False), f"{key}.enabled")
    if action == REBUILD_DASHBOARD_MARTS:
        select = check.text(entry.get("select", DEFAULT_DASHBOARD_SELECT), f"{key}.select")
        return RemediationRule(alert_type, action, enabled, select=select)
    command = entry.get("command", [])
    if not isinstance(command, list) or not all(isinstance(arg, str) and arg for arg in command):
        raise check.fail(f"{key}.command", "must be a list of non-empty strings (an argv)")
    if enabled and not command:
        raise check.fail(f"{key}.command", "is empty: name the warm-up program, or disable it")
    timeout = entry.get("timeout_seconds", DEFAULT_WARMUP_TIMEOUT_S)
    if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout <= 0:
        raise check.fail(f"{key}.timeout_seconds", f"is {timeout!r}; it must be a positive integer")
    return RemediationRule(
        alert_type,
        action,
        enabled,
        command=tuple(command),
        timeout_seconds=timeout,
        flush=_flag(check, entry.get("flush", False), f"{key}.flush"),
    )


def _flag(check: _Checker, value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise check.fail(key, f"is {value!r}; it must be true or false")
    return value
