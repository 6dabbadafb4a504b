"""A project check for dbt-bouncer (loaded through `custom_checks_dir` in dbt-bouncer.yml).

dbt-bouncer's own check_model_has_unique_test accepts a `unique` test alone; a primary key is
also never null. So a model passes when one of its columns has both a `unique` and a
`not_null` test, or when it has a composite-key test (tests/generic/unique_combination_of_columns
checks the combination; its columns' nullability is the model's concern, as in dbt_utils).
"""

from dbt_bouncer.check_framework.decorator import check, fail
from dbt_bouncer.utils import get_clean_model_name

SINGLE_COLUMN_KEY = frozenset({"unique", "not_null"})


@check
def check_model_has_primary_key_test(
    model,
    ctx,
    *,
    composite_key_tests: tuple[str, ...] = ("unique_combination_of_columns",),
):
    """Models must have a primary-key test: `unique` and `not_null` on one column, or one of
    `composite_key_tests` (generic tests matched by name, with or without their package).

    Receives:
        model (ModelNode): The ModelNode object to check.

    Example(s):
        ```yaml
        manifest_checks:
            - name: check_model_has_primary_key_test
        ```
    """
    tests_by_column: dict[str, set[str]] = {}
    for test in ctx.tests_by_attached_node.get(model.unique_id, []):
        metadata = getattr(test, "test_metadata", None)
        if metadata is None:  # a singular test: not a key
            continue
        name = getattr(metadata, "name", None)
        namespace = getattr(metadata, "namespace", None)
        if name in composite_key_tests or f"{namespace}.{name}" in composite_key_tests:
            return
        column = getattr(test, "column_name", None)
        if column:
            tests_by_column.setdefault(column, set()).add(name)
    if not any(SINGLE_COLUMN_KEY.issubset(names) for names in tests_by_column.values()):
        fail(
            f"`{get_clean_model_name(model.unique_id)}` has no primary-key test: no column with "
            f"both `unique` and `not_null`, and none of {list(composite_key_tests)}."
        )
