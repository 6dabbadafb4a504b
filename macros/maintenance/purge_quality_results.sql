{#
    Operation: delete ops.quality_results rows checked more than var
    retention_quality_results_days before as_of() (creating the table first when missing).
    Usage: dbt run-operation purge_quality_results. PostgreSQL only.
#}
{% macro purge_quality_results() -%}
    {{ return(adapter.dispatch('purge_quality_results', 'ytempire')()) }}
{%- endmacro %}

{% macro default__purge_quality_results() -%}
    {{ postgres_only('purge_quality_results') }}
{%- endmacro %}

{% macro postgres__purge_quality_results() -%}
    {%- do maintenance_ensure_quality_results() -%}
    {{ return(maintenance_delete_older_than(
        'purge_quality_results', 'ops', 'quality_results', 'checked_at', var('retention_quality_results_days')
    )) }}
{%- endmacro %}
