{{ config(enabled=(target.type == 'postgres')) }}

{#-
    Live PostgreSQL health from the catalog (PostgreSQL only): database size and connections,
    the playbook's morning check 7 (the machine's disk and memory are the wrapper's: they are not
    in the database). The figures are live, read at query time; checked_at is the run's instant
    (as_of(), the session's pinned instant, else current_timestamp), so a report of a pinned run
    says which instant it speaks for.
-#}

with

database_size as (

    select
        current_database() as database_name,
        pg_database_size(current_database()) as database_size_bytes

),

connections as (

    select
        count(*) as total_connections,
        count(*) filter (where state = 'active') as active_connections,
        count(*) filter (where state = 'idle in transaction') as idle_in_transaction_connections,
        count(*) filter (where datname = current_database()) as database_connections
    from pg_stat_activity
    where backend_type = 'client backend'

),

max_connections as (

    select cast(setting as integer) as max_connections
    from pg_settings
    where name = 'max_connections'

),

final as (

    select
        database_size.database_name,
        database_size.database_size_bytes,
        round(database_size.database_size_bytes / (1024.0 * 1024.0 * 1024.0), 3)
            as database_size_gb,
        connections.total_connections,
        connections.active_connections,
        connections.idle_in_transaction_connections,
        connections.database_connections,
        max_connections.max_connections,
        round(100.0 * connections.total_connections / max_connections.max_connections, 2)
            as connection_usage_pct,
        {{ as_of() }} as checked_at
    from database_size
    cross join connections
    cross join max_connections

)

select * from final
