{#
    Operation: the weekly retention step of the playbook, all three moves: purge_query_log,
    purge_quality_results and archive_api_usage (each makes its own report, stored under
    `run_token` as part of step retention_cleanup). Returns the three counts.
    Usage: dbt run-operation retention_cleanup [--vars '{as_of: ...}']. PostgreSQL only.
#}
{% macro retention_cleanup(run_token=none) -%}
    {{ return(adapter.dispatch('retention_cleanup', 'ytempire')(run_token)) }}
{%- endmacro %}

{% macro default__retention_cleanup(run_token) -%}
    {{ postgres_only('retention_cleanup') }}
{%- endmacro %}

{% macro postgres__retention_cleanup(run_token) -%}
    {%- set step = 'retention_cleanup' -%}
    {%- set summary = {
        'query_log_deleted': purge_query_log(run_token, step),
        'quality_results_deleted': purge_quality_results(run_token, step),
        'api_usage_archived': archive_api_usage(run_token, step),
    } -%}
    {{ return(summary) }}
{%- endmacro %}
