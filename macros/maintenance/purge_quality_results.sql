{#
    Operation: delete ops.quality_results rows checked more than var
    retention_quality_results_days before as_of() (creating the table first when missing).
    Returns the count it reports (stored under `run_token` when given, as part of `step`).
    Usage: dbt run-operation purge_quality_results. PostgreSQL only.
#}
{% macro purge_quality_results(run_token=none, step=none) -%}
    {{ return(adapter.dispatch('purge_quality_results', 'ytempire')(run_token, step)) }}
{%- endmacro %}

{% macro default__purge_quality_results(run_token, step) -%}
    {{ postgres_only('purge_quality_results') }}
{%- endmacro %}

{% macro postgres__purge_quality_results(run_token, step) -%}
    {%- do maintenance_ensure_quality_results() -%}
    {{ return(maintenance_delete_older_than(
        'purge_quality_results', 'ops', 'quality_results', 'checked_at', var('retention_quality_results_days'),
        run_token, step
    )) }}
{%- endmacro %}
