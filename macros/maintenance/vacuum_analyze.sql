{#
    Operation: `VACUUM (ANALYZE)` (no exclusive lock) on the given tables, or on every table of
    the maintained schemas. Usage:
      dbt run-operation vacuum_analyze
      dbt run-operation vacuum_analyze --args '{tables: [raw.video_stats]}'
    Reports the tables vacuumed (maintenance_report; stored under `run_token` when given).
    PostgreSQL only.
#}
{% macro vacuum_analyze(tables=none, run_token=none) -%}
    {{ return(adapter.dispatch('vacuum_analyze', 'ytempire')(tables, run_token)) }}
{%- endmacro %}

{% macro default__vacuum_analyze(tables, run_token) -%}
    {{ postgres_only('vacuum_analyze') }}
{%- endmacro %}

{% macro postgres__vacuum_analyze(tables, run_token) -%}
    {%- set relations = maintenance_resolve_tables(tables, 'vacuum_analyze') -%}
    {%- for relation in relations -%}
        {%- do log("vacuum (analyze) " ~ relation, info=True) -%}
        {%- do adapter.execute("vacuum (analyze) " ~ relation, auto_begin=False) -%}
    {%- endfor -%}
    {%- do maintenance_report('vacuum_analyze', {'tables': relations}, run_token) -%}
    {{ return(relations) }}
{%- endmacro %}
