{#
    Operation: `ANALYZE` of the whole database (fresh planner statistics, no lock beyond a
    share-update-exclusive one per table). Usage: dbt run-operation analyze_all. Reports the
    database (stored under `run_token` when given). PostgreSQL only.
#}
{% macro analyze_all(run_token=none) -%}
    {{ return(adapter.dispatch('analyze_all', 'ytempire')(run_token)) }}
{%- endmacro %}

{% macro default__analyze_all(run_token) -%}
    {{ postgres_only('analyze_all') }}
{%- endmacro %}

{% macro postgres__analyze_all(run_token) -%}
    {%- do adapter.execute("analyze", auto_begin=False) -%}
    {%- do maintenance_report('analyze_all', {'database': target.database}, run_token) -%}
{%- endmacro %}
