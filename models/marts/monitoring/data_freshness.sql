{#- One row per dataset: when it last loaded and how stale it is at as_of(). -#}

with

fct_video_performance as (

    select collected_at from {{ ref('fct_video_performance') }}

),

fct_revenue as (

    select loaded_at from {{ ref('fct_revenue') }}

),

fct_costs as (

    select incurred_at from {{ ref('fct_costs') }}

),

fct_api_usage as (

    select called_at from {{ ref('fct_api_usage') }}

),

last_loads as (

    select
        'video_stats' as dataset_name,
        'fct_video_performance' as relation_name,
        'collected_at' as loaded_at_column,
        max(collected_at) as last_loaded_at,
        {{ var('freshness_video_stats_warn_minutes') }} as delayed_after_minutes,
        {{ var('freshness_video_stats_error_minutes') }} as stale_after_minutes
    from fct_video_performance
    where collected_at <= {{ as_of() }}

    union all

    select
        'revenue' as dataset_name,
        'fct_revenue' as relation_name,
        'loaded_at' as loaded_at_column,
        max(loaded_at) as last_loaded_at,
        {{ var('freshness_revenue_warn_minutes') }} as delayed_after_minutes,
        {{ var('freshness_revenue_error_minutes') }} as stale_after_minutes
    from fct_revenue
    where loaded_at <= {{ as_of() }}

    union all

    select
        'costs' as dataset_name,
        'fct_costs' as relation_name,
        'incurred_at' as loaded_at_column,
        max(incurred_at) as last_loaded_at,
        {{ var('freshness_costs_warn_minutes') }} as delayed_after_minutes,
        {{ var('freshness_costs_error_minutes') }} as stale_after_minutes
    from fct_costs
    where incurred_at <= {{ as_of() }}

    union all

    select
        'api_usage' as dataset_name,
        'fct_api_usage' as relation_name,
        'called_at' as loaded_at_column,
        max(called_at) as last_loaded_at,
        {{ var('freshness_api_usage_warn_minutes') }} as delayed_after_minutes,
        {{ var('freshness_api_usage_error_minutes') }} as stale_after_minutes
    from fct_api_usage
    where called_at <= {{ as_of() }}

),

staleness as (

    select
        last_loads.dataset_name,
        last_loads.relation_name,
        last_loads.loaded_at_column,
        last_loads.delayed_after_minutes,
        last_loads.stale_after_minutes,
        {{ minutes_between('last_loads.last_loaded_at', as_of()) }} as minutes_since_load,
        last_loads.last_loaded_at
    from last_loads

),

final as (

    select
        dataset_name,
        relation_name,
        loaded_at_column,
        case
            when last_loaded_at is null then 'STALE'
            else {{ threshold_status(
                'minutes_since_load', 'delayed_after_minutes', 'stale_after_minutes',
                ok_label='FRESH', warning_label='DELAYED', critical_label='STALE'
            ) }}
        end as freshness_status,
        cast(minutes_since_load as {{ dbt.type_numeric() }}) as minutes_since_load,
        delayed_after_minutes,
        stale_after_minutes,
        last_loaded_at is null as has_no_data,
        last_loaded_at,
        {{ as_of() }} as checked_at
    from staleness

)

select * from final
