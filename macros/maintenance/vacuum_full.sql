{#
    Operation: `VACUUM (FULL, ANALYZE)`, which rewrites a table under an exclusive lock, only for
    tables that diagnostics.pg_table_bloat names as candidates (reclaimable share over the var
    bloat_vacuum_full_pct) and only with the explicit flag `confirm: true`; without it, it lists
    what it would rewrite and changes nothing. Named tables that are not candidates are refused.
      dbt run-operation vacuum_full                       (dry run: lists the candidates)
      dbt run-operation vacuum_full --args '{confirm: true}'
    Reports what it rewrote or would rewrite (stored under `run_token` when given).
    PostgreSQL only.
#}
{% macro vacuum_full(tables=none, confirm=false, run_token=none) -%}
    {{ return(adapter.dispatch('vacuum_full', 'ytempire')(tables, confirm, run_token)) }}
{%- endmacro %}

{% macro default__vacuum_full(tables, confirm, run_token) -%}
    {{ postgres_only('vacuum_full') }}
{%- endmacro %}

{% macro postgres__vacuum_full(tables, confirm, run_token) -%}
    {%- set bloat = diagnostics_require_relation(ref('pg_table_bloat'), 'vacuum_full') -%}
    {%- set candidates = run_query(
        "select pg_table_bloat.table_id from " ~ bloat ~ " as pg_table_bloat"
        ~ " where pg_table_bloat.is_vacuum_full_candidate order by pg_table_bloat.reclaimable_pct desc"
    ).columns[0].values() | list -%}
    {%- if tables is none -%}
        {%- set relations = candidates -%}
    {%- else -%}
        {%- set relations = maintenance_resolve_tables(tables, 'vacuum_full') -%}
        {%- for relation in relations -%}
            {%- if relation not in candidates -%}
                {{ exceptions.raise_compiler_error(
                    "vacuum_full: refused " ~ relation ~ ": diagnostics.pg_table_bloat does not name it over "
                    ~ var('bloat_vacuum_full_pct') ~ "% reclaimable (var bloat_vacuum_full_pct); use vacuum_analyze."
                ) }}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if confirm is not sameas true -%}
        {%- do log("vacuum_full: dry run, would rewrite " ~ (relations | join(', ') or 'nothing')
            ~ "; pass --args '{confirm: true}' to run it (exclusive lock).", info=True) -%}
        {%- do maintenance_report('vacuum_full', {'tables': [], 'would_rewrite': relations, 'dry_run': true}, run_token) -%}
        {{ return([]) }}
    {%- endif -%}
    {%- for relation in relations -%}
        {%- do log("vacuum (full, analyze) " ~ relation, info=True) -%}
        {%- do adapter.execute("vacuum (full, analyze) " ~ relation, auto_begin=False) -%}
    {%- endfor -%}
    {%- do maintenance_report('vacuum_full', {'tables': relations, 'would_rewrite': relations, 'dry_run': false}, run_token) -%}
    {{ return(relations) }}
{%- endmacro %}
