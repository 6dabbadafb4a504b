{#
    Operation: `VACUUM (ANALYZE)` (no exclusive lock) on the given tables, or on every table of
    the maintained schemas. Usage:
      dbt run-operation vacuum_analyze
      dbt run-operation vacuum_analyze --args '{tables: [raw.video_stats]}'
    Prints a YTEMPIRE_RESULT line with the tables vacuumed. PostgreSQL only.
#}
{% macro vacuum_analyze(tables=none) -%}
    {{ return(adapter.dispatch('vacuum_analyze', 'ytempire')(tables)) }}
{%- endmacro %}

{% macro default__vacuum_analyze(tables) -%}
    {{ postgres_only('vacuum_analyze') }}
{%- endmacro %}

{% macro postgres__vacuum_analyze(tables) -%}
    {%- set relations = maintenance_resolve_tables(tables, 'vacuum_analyze') -%}
    {%- for relation in relations -%}
        {%- do log("vacuum (analyze) " ~ relation, info=True) -%}
        {%- do adapter.execute("vacuum (analyze) " ~ relation, auto_begin=False) -%}
    {%- endfor -%}
    {%- do maintenance_report('vacuum_analyze', {'tables': relations}) -%}
    {{ return(relations) }}
{%- endmacro %}
