{#
    Operation: rebuild the indexes of the given tables (default: every table with an index in
    the maintained schemas) with `REINDEX TABLE CONCURRENTLY`, which does not block reads or
    writes. A plain REINDEX (exclusive lock, e.g. to rebuild an invalid index the concurrent form
    skips) only with the explicit flag `concurrently: false`. Usage:
      dbt run-operation reindex --args '{tables: [analytics.fct_revenue]}'
      dbt run-operation reindex --args '{tables: [analytics.fct_revenue], concurrently: false}'
    Reports the tables (stored under `run_token` when given). PostgreSQL only.
#}
{% macro reindex(tables=none, concurrently=true, run_token=none) -%}
    {{ return(adapter.dispatch('reindex', 'ytempire')(tables, concurrently, run_token)) }}
{%- endmacro %}

{% macro default__reindex(tables, concurrently, run_token) -%}
    {{ postgres_only('reindex') }}
{%- endmacro %}

{% macro postgres__reindex(tables, concurrently, run_token) -%}
    {%- if concurrently is not sameas true and concurrently is not sameas false -%}
        {{ exceptions.raise_compiler_error(
            "reindex: concurrently must be true or false, got " ~ tojson(concurrently | string) ~ "."
        ) }}
    {%- endif -%}
    {%- set relations = maintenance_resolve_tables(tables, 'reindex', with_indexes_only=true) -%}
    {%- set statement = "reindex table concurrently " if concurrently else "reindex table " -%}
    {%- for relation in relations -%}
        {%- do log(statement ~ relation, info=True) -%}
        {%- do adapter.execute(statement ~ relation, auto_begin=False) -%}
    {%- endfor -%}
    {%- do maintenance_report('reindex', {'tables': relations, 'concurrently': concurrently}, run_token) -%}
    {{ return(relations) }}
{%- endmacro %}
