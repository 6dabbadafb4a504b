{{
    config(
        tags=['hourly'],
        indexes=[
            {'columns': ['incurred_hour'], 'unique': true},
            {'columns': ['cost_status']},
        ],
    )
}}

with

fct_costs as (

    select
        video_id,
        amount_cents,
        incurred_hour
    from {{ ref('fct_costs') }}
    where incurred_at <= {{ as_of() }}

),

alert_window as (

    -- the clock hours that overlap the last 60 minutes before as_of: the previous clock hour
    -- and the current one (the playbook's "last hour", without fetching one of two rows)
    select
        {{ dbt.date_trunc('hour', dbt.dateadd('hour', -1, as_of())) }} as window_start_hour,
        {{ as_of() }} as window_end_at

),

hourly_costs as (

    select
        incurred_hour,
        count(distinct video_id) as video_count,
        count(*) as cost_event_count,
        cast(sum(amount_cents) as {{ dbt.type_bigint() }}) as total_cost_cents
    from fct_costs
    group by incurred_hour

),

cost_per_video as (

    select
        incurred_hour,
        video_count,
        cost_event_count,
        total_cost_cents,
        cast(total_cost_cents as {{ dbt.type_numeric() }}) / nullif(video_count, 0)
            as exact_cost_per_video_cents
    from hourly_costs

),

final as (

    select
        {{ surrogate_key(['cost_per_video.incurred_hour']) }} as cost_rollup_hourly_id,
        {{ cost_status('cost_per_video.exact_cost_per_video_cents') }} as cost_status,
        cost_per_video.video_count,
        cost_per_video.cost_event_count,
        cost_per_video.total_cost_cents,
        {{ round_hundredths('cost_per_video.exact_cost_per_video_cents') }} as cost_per_video_cents,
        {{ cents_to_usd('cost_per_video.total_cost_cents') }} as total_cost_usd,
        {{ cents_to_usd('cost_per_video.exact_cost_per_video_cents') }} as cost_per_video_usd,
        (
            cost_per_video.incurred_hour >= alert_window.window_start_hour
            and cost_per_video.incurred_hour <= alert_window.window_end_at
        ) as is_in_alert_window,
        {{ to_business_date('cost_per_video.incurred_hour') }} as incurred_date,
        cost_per_video.incurred_hour
    from cost_per_video
    cross join alert_window

)

select * from final
