"""Run the suites (orchestrator.quality.suites) with great-expectations 1.x against one database.

An ephemeral GX context (nothing written to disk), no progress bars, analytics off; the data
source is the run's connection settings (a socket directory goes in as libpq's `host`, which GX
would reject in the URL) with the run's instant pinned in the session, so the assets' "now" is
the run's. One `CheckOutcome` per expectation, in suite order.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

import great_expectations as gx
from great_expectations.data_context.types.base import ProgressBarsConfig

from orchestrator.connection import AS_OF_SETTING, Connection
from orchestrator.quality.outcome import CheckOutcome, status_for
from orchestrator.quality.suites import ASSETS, SUITES, Check, Suite

# GX's INFO lines are noise (one module sets its own logger to INFO)
for _name in ("great_expectations", "great_expectations.data_context.types.base"):
    logging.getLogger(_name).setLevel(logging.WARNING)

RESULT_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": 5}
SHOWN_VALUES = 3


def run_suites(
    conn: Connection, as_of: str | None, suites: Iterable[Suite] = SUITES
) -> list[CheckOutcome]:
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    source = context.data_sources.add_postgres(
        name="ytempire",
        connection_string=f"postgresql+psycopg2://{conn.user}@localhost/{conn.dbname}",
        kwargs={"connect_args": _connect_args(conn, as_of)},
    )
    outcomes: list[CheckOutcome] = []
    for suite in suites:
        for asset_name in dict.fromkeys(check.asset for check in suite.checks):
            checks = [check for check in suite.checks if check.asset == asset_name]
            outcomes += _validate(context, source, suite, asset_name, checks)
    return outcomes


def _connect_args(conn: Connection, as_of: str | None) -> dict[str, Any]:
    options = "-c TimeZone=UTC" + (f" -c {AS_OF_SETTING}={as_of}" if as_of else "")
    args: dict[str, Any] = {
        "host": conn.host,
        "port": conn.port,
        "user": conn.user,
        "dbname": conn.dbname,
        "options": options,
        "connect_timeout": 10,
        "application_name": "ytempire quality",
    }
    if conn.password:
        args["password"] = conn.password
    return args


def _validate(
    context: Any, source: Any, suite: Suite, asset_name: str, checks: list[Check]
) -> list[CheckOutcome]:
    name = f"{suite.name}.{asset_name}"
    # GX wants a query that starts with SELECT: the assets' CTEs go in a subquery
    query = f"select * from ({ASSETS[asset_name].strip()}) as {asset_name}"
    asset = source.add_query_asset(name=name, query=query)
    batch = asset.add_batch_definition_whole_table("whole")
    gx_suite = context.suites.add(gx.ExpectationSuite(name=name))
    for check in checks:
        gx_suite.add_expectation(check.expectation(**check.arguments))
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=name, data=batch, suite=gx_suite)
    )
    validation = definition.run(result_format=RESULT_FORMAT)
    return [
        _outcome(suite, check, asset_name, result)
        for check, result in zip(checks, validation.results, strict=True)
    ]


def _outcome(suite: Suite, check: Check, asset_name: str, result: Any) -> CheckOutcome:
    error = _error(result.exception_info)
    details = _plain(dict(result.result or {}))
    status = status_for(bool(result.success), check.severity, error)
    value, observed = (None, f"could not be checked: {error}") if error else _observed(details)
    return CheckOutcome(
        suite=suite.name,
        check_type=suite.check_type,
        check=check.name,
        expectation_type=result.expectation_config.type,
        asset=asset_name,
        severity=check.severity,
        status=status,
        observed_value=value,
        observed=observed,
        description=check.description,
        alert_type=suite.alert_type,
        owner=suite.owner,
        details=details,
    )


def _observed(details: dict[str, Any]) -> tuple[float | None, str]:
    """The headline number: the bad value when one or two rows are judged (a ratio), else the
    share of judged rows that are unexpected."""
    if "observed_value" in details:
        value = details["observed_value"]
        return _number(value), f"observed {value}"
    judged = int(details.get("element_count") or 0) - int(details.get("missing_count") or 0)
    unexpected = int(details.get("unexpected_count") or 0)
    if judged == 0:
        return None, "no rows to judge"
    samples = details.get("partial_unexpected_list") or []
    if not unexpected and judged <= 2:
        return 0.0, f"within range ({judged} judged)"
    if unexpected and judged <= 2:
        shown = ", ".join(_sample(value) for value in samples[:SHOWN_VALUES])
        return _number(samples[0]) if samples else None, f"unexpected value {shown}"
    share = float(details.get("unexpected_percent_nonmissing") or 0.0)
    text = f"{share:.2f}% of {judged:,} rows unexpected"
    if samples:
        text += " (e.g. " + ", ".join(_sample(value) for value in samples[:SHOWN_VALUES]) + ")"
    return round(share, 4), text


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        return float(value)
    return None


def _sample(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "(" + ", ".join(_sample(part) for part in value) + ")"
    return str(value)


def _error(info: Any) -> str | None:
    """The first line of the first exception GX caught evaluating the expectation."""
    if not isinstance(info, dict):
        return None
    candidates = [info] if "raised_exception" in info else list(info.values())
    for candidate in candidates:
        if isinstance(candidate, dict) and candidate.get("raised_exception"):
            message = str(candidate.get("exception_message") or "unknown error").strip()
            first = message.splitlines()[0] if message else "unknown error"
            return first.split(") ", 1)[1] if first.startswith("(") and ") " in first else first
    return None


def _plain(value: Any) -> Any:
    """GX's result as JSON-able values (Decimal, tuples, dates)."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, Decimal):
        return float(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
