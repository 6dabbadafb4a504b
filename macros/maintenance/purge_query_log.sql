{#
    Operation: delete raw.query_log rows executed more than var retention_query_log_days before
    as_of(). Usage: dbt run-operation purge_query_log [--vars '{as_of: ...}']. PostgreSQL only.
#}
{% macro purge_query_log() -%}
    {{ return(adapter.dispatch('purge_query_log', 'ytempire')()) }}
{%- endmacro %}

{% macro default__purge_query_log() -%}
    {{ postgres_only('purge_query_log') }}
{%- endmacro %}

{% macro postgres__purge_query_log() -%}
    {{ return(maintenance_delete_older_than(
        'purge_query_log', 'raw', 'query_log', 'executed_at', var('retention_query_log_days')
    )) }}
{%- endmacro %}
