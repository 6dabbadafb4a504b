{#
    Operation: delete raw.query_log rows executed more than var retention_query_log_days before
    as_of(). Returns the count it reports (stored under `run_token` when given, as part of `step`).
    Usage: dbt run-operation purge_query_log [--vars '{as_of: ...}']. PostgreSQL only.
#}
{% macro purge_query_log(run_token=none, step=none) -%}
    {{ return(adapter.dispatch('purge_query_log', 'ytempire')(run_token, step)) }}
{%- endmacro %}

{% macro default__purge_query_log(run_token, step) -%}
    {{ postgres_only('purge_query_log') }}
{%- endmacro %}

{% macro postgres__purge_query_log(run_token, step) -%}
    {{ return(maintenance_delete_older_than(
        'purge_query_log', 'raw', 'query_log', 'executed_at', var('retention_query_log_days'),
        run_token, step
    )) }}
{%- endmacro %}
