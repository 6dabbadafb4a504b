{#
    Returns a select of (query, calls, total_exec_ms) for this database's pg_stat_statements
    entries, EXPLAIN statements (the diagnostics' own probes) and DDL that reads nothing (views,
    comments, grants) left out, past dbt's leading query comment: the statements
    pg_missing_indexes searches for predicates, joins and sorts on a candidate column. No rows
    (same columns) when `statements_schema` is none, i.e. pg_stat_statements is not readable here.
#}
{% macro diagnostics_filtering_statements(statements_schema) -%}
{%- if statements_schema -%}
    select
        statements.query,
        statements.calls,
        statements.total_exec_time as total_exec_ms
    from {{ statements_schema }}.pg_stat_statements as statements
    where
        statements.dbid = (
            select pg_database.oid from pg_catalog.pg_database
            where pg_database.datname = current_database()
        )
        and regexp_replace(statements.query, '/\*[^*]*\*+([^/*][^*]*\*+)*/', '', 'g')
        !~* '^\s*(explain|comment|alter|drop|grant|revoke|create\s+(or\s+replace\s+)?(temp(orary)?\s+)?view)\M'
{%- else -%}
    select
        null::text as query,
        null::bigint as calls,
        null::double precision as total_exec_ms
    where false
{%- endif -%}
{%- endmacro %}
