{#
    Operation: append this database's pg_stat_statements counters to
    diagnostics.pg_stat_statements_history (creating the table when the model was never built),
    commit, and only then reset the counters of this database (pg_stat_statements_reset with
    this database's oid), so the monthly reset keeps its history. Without pg_stat_statements it
    does nothing and says so. Reports the rows snapshotted (stored under `run_token` when given).
    Usage: dbt run-operation snapshot_and_reset_statements.
#}
{% macro snapshot_and_reset_statements(run_token=none) -%}
    {{ return(adapter.dispatch('snapshot_and_reset_statements', 'ytempire')(run_token)) }}
{%- endmacro %}

{% macro default__snapshot_and_reset_statements(run_token) -%}
    {{ postgres_only('snapshot_and_reset_statements') }}
{%- endmacro %}

{% macro postgres__snapshot_and_reset_statements(run_token) -%}
    {%- set statements_schema = diagnostics_statements_schema() -%}
    {%- if statements_schema is none -%}
        {%- do log("snapshot_and_reset_statements: pg_stat_statements is not loaded in this database: nothing to snapshot or reset.", info=True) -%}
        {%- do maintenance_report('snapshot_and_reset_statements', {'snapshot_rows': 0, 'reset': false,
            'skipped': 'pg_stat_statements is not loaded'}, run_token) -%}
        {{ return(0) }}
    {%- endif -%}
    {%- set history = ref('pg_stat_statements_history') -%}
    {%- if load_relation(history) is none -%}
        {%- do run_query(
            "create schema if not exists " ~ adapter.quote(history.schema) ~ ";"
            ~ " create table " ~ history ~ " as " ~ diagnostics_statements_snapshot(none) ~ " with no data"
        ) -%}
    {%- endif -%}
    {%- set inserted = run_query(
        "with inserted as (insert into " ~ history ~ " "
        ~ diagnostics_statements_snapshot(statements_schema, history)
        ~ " returning 1) select count(*) from inserted"
    ).columns[0].values()[0] | int -%}
    {#- each run_query is committed on its own: the snapshot is stored before the reset runs -#}
    {%- do run_query(
        "select " ~ statements_schema ~ ".pg_stat_statements_reset(0, "
        ~ "(select pg_database.oid from pg_catalog.pg_database where pg_database.datname = current_database()), 0)"
    ) -%}
    {%- do maintenance_report('snapshot_and_reset_statements', {'snapshot_rows': inserted, 'reset': true,
        'history': history.schema ~ '.' ~ history.identifier}, run_token) -%}
    {{ return(inserted) }}
{%- endmacro %}
