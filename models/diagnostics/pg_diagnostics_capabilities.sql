{{ config(enabled=target.type == 'postgres') }}

{#- What the diagnostics can see on this server and database, read live: one row per extension
    the diagnostics use, with a note saying what works and what to do otherwise. -#}

with

wanted_extensions as (
    select
        wanted.extension_name,
        wanted.purpose
    from (
        values
        ('pg_stat_statements', 'pg_slow_queries, pg_stat_statements_history, filter evidence in pg_missing_indexes'),
        ('pgstattuple', 'exact bloat figures (operation measure_table_bloat)'),
        ('hypopg', 'hypothetical-index check of missing-index candidates (operation check_missing_indexes)')
    ) as wanted (extension_name, purpose)
),

available_extensions as (
    select
        pg_available_extensions.name as extension_name,
        pg_available_extensions.default_version
    from {{ source('pg_catalog', 'pg_available_extensions') }}
),

installed_extensions as (
    select
        pg_extension.extname as extension_name,
        pg_extension.extversion as installed_version
    from {{ source('pg_catalog', 'pg_extension') }}
),

capabilities as (
    select
        wanted_extensions.extension_name,
        wanted_extensions.purpose,
        installed_extensions.installed_version,
        available_extensions.extension_name is not null as is_on_server,
        installed_extensions.extension_name is not null as is_installed,
        case
            when wanted_extensions.extension_name = 'pg_stat_statements'
                then position('pg_stat_statements' in current_setting('shared_preload_libraries')) > 0
            else true
        end as is_loaded
    from wanted_extensions
    left join available_extensions
        on wanted_extensions.extension_name = available_extensions.extension_name
    left join installed_extensions
        on wanted_extensions.extension_name = installed_extensions.extension_name
),

final as (
    select
        capabilities.extension_name as capability_id,
        capabilities.purpose,
        capabilities.installed_version,
        case
            when not capabilities.is_on_server
                then
                    capabilities.extension_name || ' is not installed on this server: '
                    || capabilities.purpose || ' is unavailable (install it on the server: '
                    || case
                        when capabilities.extension_name = 'hypopg'
                            then
                                'on Debian apt-get install postgresql-'
                                || current_setting('server_version_num')::integer / 10000 || '-hypopg'
                        else 'it ships with PostgreSQL contrib'
                    end
                    || ', then create extension ' || capabilities.extension_name || ').'
            when not capabilities.is_installed
                then
                    capabilities.extension_name || ' is on the server but not created in this database: '
                    || 'run `create extension ' || capabilities.extension_name || '` to enable '
                    || capabilities.purpose || '.'
            when not capabilities.is_loaded
                then
                    capabilities.extension_name || ' is created but not in shared_preload_libraries: '
                    || 'add it there and restart the server to enable ' || capabilities.purpose || '.'
            else capabilities.extension_name || ' is available: ' || capabilities.purpose || ' work.'
        end as note,
        capabilities.is_on_server and capabilities.is_installed and capabilities.is_loaded as is_available,
        capabilities.is_installed
    from capabilities
)

select * from final
