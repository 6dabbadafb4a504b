{#-
    One row for the morning checklist at as_of(): active channels and users, videos published
    today, yesterday's revenue (actual where final, else the estimate), and the count of open
    problems by kind, read from the monitoring marts so the summary and the alerts agree.
-#}

with

dim_channel as (

    select is_active from {{ ref('dim_channel') }}

),

dim_user as (

    select is_active from {{ ref('dim_user') }}

),

dim_video as (

    select
        video_id,
        published_date,
        published_at
    from {{ ref('dim_video') }}

),

fct_revenue_daily as (

    select
        revenue_cents,
        estimated_video_day_count,
        revenue_date
    from {{ ref('fct_revenue_daily') }}

),

data_freshness as (

    select freshness_status from {{ ref('data_freshness') }}

),

job_status as (

    select
        is_failed,
        has_later_success
    from {{ ref('job_status') }}

),

dashboard_performance as (

    select
        performance_status,
        is_current_day
    from {{ ref('dashboard_performance') }}

),

api_quota_usage as (

    select
        quota_status,
        usage_date
    from {{ ref('api_quota_usage') }}

),

cost_rollup_hourly as (

    select
        cost_status,
        is_in_alert_window
    from {{ ref('cost_rollup_hourly') }}

),

business_days as (

    select
        {{ to_business_date(as_of()) }} as summary_date,
        cast({{ dbt.dateadd('day', -1, to_business_date(as_of())) }} as date) as yesterday_date

),

activity as (

    select
        (
            select count(*) from dim_channel
            where is_active
        ) as active_channel_count,
        (
            select count(*) from dim_user
            where is_active
        ) as active_user_count,
        (
            select count(*)
            from dim_video
            cross join business_days
            where
                dim_video.published_date = business_days.summary_date
                and dim_video.published_at <= {{ as_of() }}
        ) as videos_published_today_count

),

revenue_yesterday as (

    select
        coalesce(sum(fct_revenue_daily.revenue_cents), 0) as revenue_yesterday_cents,
        coalesce(sum(fct_revenue_daily.estimated_video_day_count), 0) > 0
            as is_revenue_yesterday_estimated
    from fct_revenue_daily
    inner join business_days
        on fct_revenue_daily.revenue_date = business_days.yesterday_date

),

problems as (

    select
        (
            select count(*) from data_freshness
            where freshness_status = 'STALE'
        ) as stale_dataset_count,
        (
            select count(*) from data_freshness
            where freshness_status = 'DELAYED'
        ) as delayed_dataset_count,
        (
            select count(*) from job_status
            where is_failed and not has_later_success
        ) as failed_overnight_job_count,
        (
            select count(*)
            from dashboard_performance
            where is_current_day and performance_status in ('WARNING', 'CRITICAL')
        ) as slow_dashboard_count,
        (
            select max(api_quota_usage.quota_status)
            from api_quota_usage
            -- the current day by its date (is_current_day is the same test), so the filter
            -- reaches fct_api_usage's index
            where api_quota_usage.usage_date = {{ to_business_date(as_of()) }}
        ) as quota_status,
        (
            select count(*)
            from cost_rollup_hourly
            where is_in_alert_window and cost_status in ('WARNING', 'OVER_BUDGET')
        ) as cost_problem_count,
        (
            select
                max(
                    case cost_status
                        when 'OVER_BUDGET' then 4
                        when 'WARNING' then 3
                        when 'WATCH' then 2
                        when 'OK' then 1
                    end
                )
            from cost_rollup_hourly
            where is_in_alert_window
        ) as worst_cost_status_rank

),

final as (

    select
        business_days.summary_date,
        coalesce(problems.quota_status, 'OK') as quota_status,
        case problems.worst_cost_status_rank
            when 4 then 'OVER_BUDGET'
            when 3 then 'WARNING'
            when 2 then 'WATCH'
            else 'OK'
        end as cost_status,
        activity.active_channel_count,
        activity.active_user_count,
        activity.videos_published_today_count,
        revenue_yesterday.revenue_yesterday_cents,
        {{ cents_to_usd('revenue_yesterday.revenue_yesterday_cents') }} as revenue_yesterday_usd,
        problems.stale_dataset_count,
        problems.delayed_dataset_count,
        problems.failed_overnight_job_count,
        problems.slow_dashboard_count,
        case when coalesce(problems.quota_status, 'OK') = 'OK' then 0 else 1 end
            as quota_problem_count,
        problems.cost_problem_count,
        problems.stale_dataset_count
        + problems.delayed_dataset_count
        + problems.failed_overnight_job_count
        + problems.slow_dashboard_count
        + case when coalesce(problems.quota_status, 'OK') = 'OK' then 0 else 1 end
        + problems.cost_problem_count
            as open_problem_count,
        revenue_yesterday.is_revenue_yesterday_estimated,
        business_days.yesterday_date,
        {{ as_of() }} as checked_at
    from business_days
    cross join activity
    cross join revenue_yesterday
    cross join problems

)

select * from final
