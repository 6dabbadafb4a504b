{#
    Operation: `ANALYZE` of the whole database (fresh planner statistics, no lock beyond a
    share-update-exclusive one per table). Usage: dbt run-operation analyze_all. PostgreSQL only.
#}
{% macro analyze_all() -%}
    {{ return(adapter.dispatch('analyze_all', 'ytempire')()) }}
{%- endmacro %}

{% macro default__analyze_all() -%}
    {{ postgres_only('analyze_all') }}
{%- endmacro %}

{% macro postgres__analyze_all() -%}
    {%- do adapter.execute("analyze", auto_begin=False) -%}
    {%- do maintenance_report('analyze_all', {'database': target.database}) -%}
{%- endmacro %}
