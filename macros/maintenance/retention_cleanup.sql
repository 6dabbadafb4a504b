{#
    Operation: the weekly retention step of the playbook, all three moves: purge_query_log,
    purge_quality_results and archive_api_usage (each reports its own YTEMPIRE_RESULT line).
    Usage: dbt run-operation retention_cleanup [--vars '{as_of: ...}']. PostgreSQL only.
#}
{% macro retention_cleanup() -%}
    {{ return(adapter.dispatch('retention_cleanup', 'ytempire')()) }}
{%- endmacro %}

{% macro default__retention_cleanup() -%}
    {{ postgres_only('retention_cleanup') }}
{%- endmacro %}

{% macro postgres__retention_cleanup() -%}
    {%- set summary = {
        'query_log_deleted': purge_query_log(),
        'quality_results_deleted': purge_quality_results(),
        'api_usage_archived': archive_api_usage(),
    } -%}
    {{ return(summary) }}
{%- endmacro %}
