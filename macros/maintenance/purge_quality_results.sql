{#
    Operation: delete the ops.data_quality_checks rows (the great-expectations results written
    by `ytempire quality` and `morning`) checked more than var retention_quality_results_days
    before as_of(); reported as skipped when the table does not exist yet. Returns the count it
    reports (stored under `run_token` when given, as part of `step`).
    Usage: dbt run-operation purge_quality_results. PostgreSQL only.
#}
{% macro purge_quality_results(run_token=none, step=none) -%}
    {{ return(adapter.dispatch('purge_quality_results', 'ytempire')(run_token, step)) }}
{%- endmacro %}

{% macro default__purge_quality_results(run_token, step) -%}
    {{ postgres_only('purge_quality_results') }}
{%- endmacro %}

{% macro postgres__purge_quality_results(run_token, step) -%}
    {{ return(maintenance_delete_older_than(
        'purge_quality_results', 'ops', 'data_quality_checks', 'checked_at', var('retention_quality_results_days'),
        run_token, step
    )) }}
{%- endmacro %}
