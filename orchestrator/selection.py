"""How one run's `dbt build` arguments become the invocations that run it.

- A narrow run (any selecting flag) runs only the tests whose parents it all builds
  (`--indirect-selection cautious`, unless the caller chose a mode): a run never alerts about a
  table it did not refresh.
- A build of everything runs in two invocations: the project without the catalog diagnostics,
  then the diagnostics, so the views over pg_catalog never read relations that dbt is dropping
  and renaming at the same moment ("could not open relation with OID ...").
"""

from __future__ import annotations

SELECTING_FLAGS = frozenset(
    {
        "-s",
        "--select",
        "--selector",
        "--exclude",
        "-m",
        "--models",
        "--model",
        "--resource-type",
        "--resource-types",
        "--exclude-resource-type",
        "--exclude-resource-types",
        "--inline",
    }
)
INDIRECT_SELECTION = "--indirect-selection"
DIAGNOSTICS = "tag:diagnostics"


def _flag(argument: str) -> str:
    return argument.split("=", 1)[0]


def is_narrow(arguments: list[str]) -> bool:
    """True when the arguments select part of the project."""
    return any(_flag(argument) in SELECTING_FLAGS for argument in arguments)


def build_invocations(arguments: list[str], *, diagnostics: bool = True) -> list[list[str]]:
    """The `dbt build` argument lists a run executes, in order. Without `diagnostics` (a Spark
    target, where they are disabled) a build of everything is one invocation."""
    if is_narrow(arguments):
        if any(_flag(argument) == INDIRECT_SELECTION for argument in arguments):
            return [list(arguments)]
        return [[*arguments, INDIRECT_SELECTION, "cautious"]]
    if not diagnostics:
        return [list(arguments)]
    return [[*arguments, "--exclude", DIAGNOSTICS], [*arguments, "--select", DIAGNOSTICS]]
