{{ config(enabled=target.type == 'postgres') }}

{#- Top statements of this database from pg_stat_statements, by total execution time. Without the
    extension (not created here, or not in shared_preload_libraries) the view is empty and the
    build says so; pg_diagnostics_capabilities carries the note. -#}

{%- set statements_schema = diagnostics_statements_schema() %}
{%- if execute and statements_schema is none %}
    {{ log("pg_slow_queries: pg_stat_statements is not loaded in this database: the view is empty.", info=True) }}
{%- endif %}

with

statements as (
    {{ diagnostics_statements_snapshot(statements_schema) | indent(4) }}
),

ranked_statements as (
    select
        statements.query_id,
        statements.user_name,
        statements.query_text,
        statements.calls,
        statements.rows_returned,
        statements.total_exec_ms,
        statements.mean_exec_ms,
        statements.max_exec_ms,
        statements.shared_blocks_hit,
        statements.shared_blocks_read,
        statements.is_top_level,
        statements.stats_reset_at,
        row_number() over (order by statements.total_exec_ms desc, statements.query_id asc) as time_rank,
        100.0 * statements.total_exec_ms
        / nullif(sum(statements.total_exec_ms) over (), 0) as total_time_share_pct
    from statements
    where statements.query_text !~* '^\s*explain\s'
),

final as (
    select
        concat_ws(
            ':', ranked_statements.query_id, ranked_statements.user_name, ranked_statements.is_top_level
        ) as slow_query_id,
        ranked_statements.user_name,
        ranked_statements.query_text,
        ranked_statements.query_id,
        ranked_statements.time_rank,
        ranked_statements.calls,
        ranked_statements.rows_returned,
        round(ranked_statements.total_exec_ms::numeric, 3) as total_exec_ms,
        round(ranked_statements.mean_exec_ms::numeric, 3) as mean_exec_ms,
        round(ranked_statements.max_exec_ms::numeric, 3) as max_exec_ms,
        round(ranked_statements.total_time_share_pct::numeric, 2) as total_time_share_pct,
        ranked_statements.shared_blocks_hit,
        ranked_statements.shared_blocks_read,
        ranked_statements.mean_exec_ms >= {{ var('slow_query_mean_ms') }} as is_slow,
        ranked_statements.is_top_level,
        ranked_statements.stats_reset_at
    from ranked_statements
    where
        ranked_statements.time_rank <= {{ var('slow_query_top_n') }}
        or ranked_statements.mean_exec_ms >= {{ var('slow_query_mean_ms') }}
)

select * from final
