{#
    Operation: measure the bloat of the biggest tables exactly with pgstattuple_approx (reads the
    visibility map and the pages not all-visible; no lock beyond a read) and append the figures
    to diagnostics.pg_table_bloat_measurements, which pg_table_bloat then shows until the next
    vacuum of the table. Tables: the `tables` given (validated, see maintenance_resolve_tables)
    or the top_n biggest in pg_table_bloat (default var bloat_measure_top_n). Needs the
    pgstattuple extension; without it, it says so and measures nothing. Reports the tables
    (stored under `run_token` when given, see maintenance_report). PostgreSQL only.
      dbt run-operation measure_table_bloat --args '{top_n: 5}'
#}
{% macro measure_table_bloat(tables=none, top_n=none, run_token=none) -%}
    {{ return(adapter.dispatch('measure_table_bloat', 'ytempire')(tables, top_n, run_token)) }}
{%- endmacro %}

{% macro default__measure_table_bloat(tables, top_n, run_token) -%}
    {{ postgres_only('measure_table_bloat') }}
{%- endmacro %}

{% macro postgres__measure_table_bloat(tables, top_n, run_token) -%}
    {%- set top_n = var('bloat_measure_top_n') if top_n is none else top_n -%}
    {%- if top_n is not number or top_n < 1 -%}
        {{ exceptions.raise_compiler_error("measure_table_bloat: top_n must be a positive integer, got " ~ tojson(top_n | string) ~ ".") }}
    {%- endif -%}
    {%- set pgstattuple_schema = diagnostics_extension_schema('pgstattuple') -%}
    {%- if pgstattuple_schema is none -%}
        {%- do log("measure_table_bloat: the pgstattuple extension is not installed in this database (create extension pgstattuple): nothing measured.", info=True) -%}
        {%- do maintenance_report('measure_table_bloat', {'tables': [], 'skipped': 'pgstattuple is not installed'}, run_token) -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set bloat = diagnostics_require_relation(ref('pg_table_bloat'), 'measure_table_bloat') -%}
    {%- set measurements = diagnostics_require_relation(ref('pg_table_bloat_measurements'), 'measure_table_bloat') -%}
    {%- if tables is none -%}
        {%- set relations = run_query(
            "select pg_table_bloat.table_id from " ~ bloat ~ " as pg_table_bloat"
            ~ " order by pg_table_bloat.table_bytes desc, pg_table_bloat.table_id limit " ~ (top_n | int)
        ).columns[0].values() | list -%}
    {%- else -%}
        {%- set relations = maintenance_resolve_tables(tables, 'measure_table_bloat') -%}
    {%- endif -%}
    {%- for relation in relations -%}
        {%- do run_query(
            "insert into " ~ measurements ~ " (bloat_measurement_id, schema_name, table_name, measurement_method,"
            ~ " table_bytes, live_tuple_count, dead_tuple_count, free_space_bytes, live_tuple_pct,"
            ~ " dead_tuple_pct, free_space_pct, measured_at)"
            ~ " select md5(concat_ws('|', pg_namespace.nspname, pg_class.relname, statement_timestamp())),"
            ~ " pg_namespace.nspname, pg_class.relname, 'pgstattuple_approx', approx.table_len,"
            ~ " approx.approx_tuple_count, approx.dead_tuple_count, approx.approx_free_space,"
            ~ " approx.approx_tuple_percent, approx.dead_tuple_percent, approx.approx_free_percent,"
            ~ " statement_timestamp()"
            ~ " from pg_catalog.pg_class"
            ~ " inner join pg_catalog.pg_namespace on pg_class.relnamespace = pg_namespace.oid"
            ~ " cross join lateral " ~ pgstattuple_schema ~ ".pgstattuple_approx(pg_class.oid::regclass) as approx"
            ~ " where pg_class.oid = " ~ diagnostics_literal(relation) ~ "::regclass"
        ) -%}
    {%- endfor -%}
    {%- do maintenance_report('measure_table_bloat', {'tables': relations}, run_token) -%}
    {{ return(relations) }}
{%- endmacro %}
