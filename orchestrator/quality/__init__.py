"""Data quality with great-expectations: the checks dbt's tests say badly (distributions and
ranges with a tolerance, volume against the same weekday, completeness, consistency across
tables), in the same alert path as dbt's results.

- `suites`: the suites as code (assets are SQL over the marts, each expectation with its
  severity, each suite with its alert meta). Imports great_expectations.
- `gx_run`: runs the suites in an ephemeral GX context against the run's database, returns one
  `CheckOutcome` per expectation. Imports great_expectations.
- `outcome`, `store`, `stage`: what a check found, `ops.data_quality_checks`, and the stage of a
  run that calls `gx_run` (imported only there), stores the outcomes and hands them to the
  conditions stage as results. These three never import great_expectations, so every command
  but `ytempire quality` and `ytempire morning` starts without it.
"""
