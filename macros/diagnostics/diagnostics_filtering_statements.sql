{#
    Returns a select of (query, calls) for this database's pg_stat_statements entries, EXPLAIN
    statements left out (the diagnostics' own probes): the statements pg_missing_indexes searches
    for predicates on a candidate column. No rows (same columns) when `statements_schema` is
    none, i.e. pg_stat_statements is not readable here.
#}
{% macro diagnostics_filtering_statements(statements_schema) -%}
{%- if statements_schema -%}
    select
        statements.query,
        statements.calls
    from {{ statements_schema }}.pg_stat_statements as statements
    where
        statements.dbid = (
            select pg_database.oid from pg_catalog.pg_database
            where pg_database.datname = current_database()
        )
        and statements.query !~* '^\s*explain\s'
{%- else -%}
    select
        null::text as query,
        null::bigint as calls
    where false
{%- endif -%}
{%- endmacro %}
