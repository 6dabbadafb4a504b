{{
    config(
        full_refresh=false,
        enabled=target.type == 'postgres',
    )
}}

{#- Snapshots of pg_stat_statements for this database. Each build appends the statements whose
    call count changed since their last snapshot; the operation snapshot_and_reset_statements
    appends the same way just before it resets the counters, so history survives resets.
    Without pg_stat_statements it stays empty. -#}

{%- set statements_schema = diagnostics_statements_schema() %}
{%- if execute and statements_schema is none %}
    {{ log(
        "pg_stat_statements_history: pg_stat_statements is not loaded in this database: no snapshot taken.",
        info=True
    ) }}
{%- endif %}

with

snapshot as (
    {{ diagnostics_statements_snapshot(statements_schema, this if is_incremental() else none) | indent(4) }}
),

final as (
    select * from snapshot
)

select * from final
