"""The simulated day of operations (simulated_day.py) on the embedded PostgreSQL: every step
exits 0 without an alert on clean data and equals the independent oracle, hourly runs test only
what they built, late and withdrawn rows land, no view keeps a pinned instant."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from conftest import warehouse_factory
from notify_fixtures import make_notify_env, receivers
from simulated_day import Day, DayChecks, simulate_day

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def day(
    embedded_server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Day, dict[str, Any]]]:
    server = embedded_server
    state = tmp_path_factory.mktemp("day_state")
    with warehouse_factory(server, tmp_path_factory) as make, receivers() as (http, smtp):
        simulated = Day(
            make("day"),
            make_notify_env(http, smtp, state),
            {"YTEMPIRE_OUTAGE_FILE": str(state / "outage.json")},
        )
        yield simulated, simulate_day(simulated)


class TestEmbeddedDay(DayChecks):
    """The day's checks on the embedded server."""
