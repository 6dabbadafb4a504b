{#-
    One row: the last hour up to as_of() (as_of - 1 hour, as_of]: videos with a stats
    collection, views gained (sum of hourly view deltas, not of cumulative counters), average
    engagement, and today's revenue so far (revenue has a daily grain: the last hour's share of
    it is not knowable, so the business day's revenue, estimates included, is reported).
-#}

with

fct_video_performance as (

    select
        video_id,
        views_delta,
        engagement_rate,
        collected_at
    from {{ ref('fct_video_performance') }}
    where
        collected_at > {{ dbt.dateadd('hour', -1, as_of()) }}
        and collected_at <= {{ as_of() }}

),

fct_revenue_daily as (

    select
        revenue_cents,
        estimated_revenue_cents
    from {{ ref('fct_revenue_daily') }}
    where revenue_date = {{ to_business_date(as_of()) }}

),

activity as (

    select
        count(distinct video_id) as active_video_count,
        count(*) as collection_count,
        coalesce(sum(views_delta), 0) as views_gained,
        avg(engagement_rate) as avg_engagement_rate
    from fct_video_performance

),

revenue_today as (

    select
        coalesce(sum(revenue_cents), 0) as revenue_today_cents,
        coalesce(sum(estimated_revenue_cents), 0) as revenue_today_estimated_cents
    from fct_revenue_daily

),

final as (

    select
        case
            when activity.active_video_count > 0 then 'OK'
            else 'NO_ACTIVITY'
        end as activity_status,
        activity.active_video_count,
        activity.collection_count,
        activity.views_gained,
        cast(activity.avg_engagement_rate as {{ dbt.type_numeric() }}) as avg_engagement_rate,
        revenue_today.revenue_today_cents,
        revenue_today.revenue_today_estimated_cents,
        {{ cents_to_usd('revenue_today.revenue_today_cents') }} as revenue_today_usd,
        {{ to_business_date(as_of()) }} as business_date,
        {{ dbt.dateadd('hour', -1, as_of()) }} as window_start_at,
        {{ as_of() }} as window_end_at
    from activity
    cross join revenue_today

)

select * from final
