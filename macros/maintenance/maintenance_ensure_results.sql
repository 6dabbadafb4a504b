{#
    Creates ops.maintenance_results when it does not exist yet: one row per report of a
    maintenance operation and per finished playbook step, keyed by the run_token the caller
    (orchestrator/maintenance.py) passes in --args; the caller reads its rows after dbt returns
    and deletes them. Columns: run_token, step, operation, ok, details (jsonb), seconds,
    recorded_at. Returns nothing.
#}
{% macro maintenance_ensure_results() -%}
    {%- do run_query(
        "create schema if not exists ops;"
        ~ " create table if not exists ops.maintenance_results ("
        ~ " run_token text not null,"
        ~ " step text not null,"
        ~ " operation text not null,"
        ~ " ok boolean not null,"
        ~ " details jsonb,"
        ~ " seconds numeric,"
        ~ " recorded_at timestamp with time zone not null default now())"
    ) -%}
{%- endmacro %}
