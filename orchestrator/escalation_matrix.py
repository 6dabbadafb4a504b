"""The escalation matrix (`config/escalation.yml`): its categories, their levels 1 to 3 (condition,
owner, action, SLA) and the contacts of every role, loaded and validated once per run. A mistake
names the file, the key and what is allowed. Where an alert lands on it: `escalation`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
