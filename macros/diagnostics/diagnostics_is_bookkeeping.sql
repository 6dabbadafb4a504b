{#
    Returns a SQL boolean expression: true when the table (schema and table name expressions)
    is the project's own bookkeeping rather than data a dashboard or a job reads: the wrapper's
    state (schema ops), the diagnostics' own tables (diagnostics), archives (archive), the
    stored test failures (dbt_test__audit), and history, archive and snapshot tables anywhere
    (a name ending in _history, _archive, _snapshot or _snapshots). The diagnostics never
    recommend on those: their reads are the project's own, occasional and by design.
#}
{% macro diagnostics_is_bookkeeping(schema_expression, table_expression) -%}
    (
        {{ schema_expression }} in ('ops', 'diagnostics', 'archive', 'dbt_test__audit')
        or {{ table_expression }} ~ '_(history|archive|snapshots?)$'
    )
{%- endmacro %}
