{#
    Returns a select of this database's pg_stat_statements counters, one row per statement
    (user x query id x top-level), in the columns of the model pg_stat_statements_history.
    With `history_relation`, only statements whose call count changed since their latest row in
    that table (new ones included), so repeated snapshots stay small. Without pg_stat_statements
    (`statements_schema` none) it returns the same columns and no rows.
#}
{% macro diagnostics_statements_snapshot(statements_schema, history_relation=none) -%}
{%- if statements_schema -%}
    with

    statements as (
        select
            md5(concat_ws(
                '|', statement_timestamp(), statements.userid, statements.queryid, statements.toplevel
            )) as statement_snapshot_id,
            current_database()::text as database_name,
            pg_catalog.pg_get_userbyid(statements.userid)::text as user_name,
            statements.query as query_text,
            statements.queryid as query_id,
            statements.calls,
            statements.rows as rows_returned,
            statements.total_exec_time as total_exec_ms,
            statements.mean_exec_time as mean_exec_ms,
            statements.max_exec_time as max_exec_ms,
            statements.shared_blks_hit as shared_blocks_hit,
            statements.shared_blks_read as shared_blocks_read,
            statements.toplevel as is_top_level,
            info.stats_reset as stats_reset_at,
            statement_timestamp() as captured_at
        from {{ statements_schema }}.pg_stat_statements as statements
        cross join {{ statements_schema }}.pg_stat_statements_info as info
        where
            statements.dbid = (
                select pg_database.oid from pg_catalog.pg_database
                where pg_database.datname = current_database()
            )
            and statements.queryid is not null
    ),

    {% if history_relation is not none -%}
    latest_snapshots as (
        select distinct on (history.user_name, history.query_id, history.is_top_level)
            history.user_name,
            history.query_id,
            history.is_top_level,
            history.calls
        from {{ history_relation }} as history
        where history.database_name = current_database()
        order by
            history.user_name,
            history.query_id,
            history.is_top_level,
            history.captured_at desc
    ),
    {%- endif %}

    changed_statements as (
        select statements.*
        from statements
        {%- if history_relation is not none %}
        left join latest_snapshots
            on
                statements.user_name = latest_snapshots.user_name
                and statements.query_id = latest_snapshots.query_id
                and statements.is_top_level = latest_snapshots.is_top_level
        where
            latest_snapshots.query_id is null
            or latest_snapshots.calls <> statements.calls
        {%- endif %}
    )

    select * from changed_statements
{%- else -%}
    select
        cast(null as text) as statement_snapshot_id,
        cast(null as text) as database_name,
        cast(null as text) as user_name,
        cast(null as text) as query_text,
        cast(null as bigint) as query_id,
        cast(null as bigint) as calls,
        cast(null as bigint) as rows_returned,
        cast(null as double precision) as total_exec_ms,
        cast(null as double precision) as mean_exec_ms,
        cast(null as double precision) as max_exec_ms,
        cast(null as bigint) as shared_blocks_hit,
        cast(null as bigint) as shared_blocks_read,
        cast(null as boolean) as is_top_level,
        cast(null as timestamp with time zone) as stats_reset_at,
        cast(null as timestamp with time zone) as captured_at
    where false
{%- endif -%}
{%- endmacro %}
