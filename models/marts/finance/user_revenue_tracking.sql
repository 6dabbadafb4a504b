{{
    config(
        indexes=[
            {'columns': ['user_id'], 'unique': true},
        ],
    )
}}

with

dim_user as (

    select
        user_id,
        email,
        monthly_goal_cents,
        is_active
    from {{ ref('dim_user') }}

),

dim_channel as (

    select
        channel_id,
        user_id
    from {{ ref('dim_channel') }}
    where created_at <= {{ as_of() }}

),

dim_video as (

    select
        video_id,
        user_id
    from {{ ref('dim_video') }}
    where published_at <= {{ as_of() }}

),

fct_revenue as (

    select
        user_id,
        revenue_cents,
        revenue_date
    from {{ ref('fct_revenue') }}

),

reporting_dates as (

    -- "current month": from the first day of as_of's business month through as_of's business
    -- date; "last 30 days": the 30 business dates ending on as_of's date, both inclusive
    select
        {{ to_business_date(as_of()) }} as as_of_date,
        cast({{ dbt.date_trunc('month', to_business_date(as_of())) }} as date) as month_start_date,
        cast({{ dbt.dateadd('day', -29, to_business_date(as_of())) }} as date) as window_start_date

),

user_revenue as (

    select
        fct_revenue.user_id,
        cast(sum(fct_revenue.revenue_cents) as {{ dbt.type_bigint() }}) as lifetime_revenue_cents,
        sum(
            case
                when fct_revenue.revenue_date >= reporting_dates.month_start_date
                    then fct_revenue.revenue_cents
                else 0
            end
        ) as current_month_revenue_cents,
        sum(
            case
                when fct_revenue.revenue_date >= reporting_dates.window_start_date
                    then fct_revenue.revenue_cents
                else 0
            end
        ) as revenue_30d_cents,
        max(fct_revenue.revenue_date) as last_revenue_date
    from fct_revenue
    cross join reporting_dates
    where fct_revenue.revenue_date <= reporting_dates.as_of_date
    group by fct_revenue.user_id

),

user_channels as (

    select
        user_id,
        count(*) as channel_count
    from dim_channel
    group by user_id

),

user_videos as (

    select
        user_id,
        count(*) as video_count
    from dim_video
    group by user_id

),

joined as (

    select
        dim_user.user_id,
        dim_user.email,
        coalesce(user_channels.channel_count, 0) as channel_count,
        coalesce(user_videos.video_count, 0) as video_count,
        dim_user.monthly_goal_cents,
        coalesce(user_revenue.lifetime_revenue_cents, 0) as lifetime_revenue_cents,
        cast(coalesce(user_revenue.current_month_revenue_cents, 0) as {{ dbt.type_bigint() }})
            as current_month_revenue_cents,
        cast(coalesce(user_revenue.revenue_30d_cents, 0) as {{ dbt.type_bigint() }}) as revenue_30d_cents,
        dim_user.is_active,
        user_revenue.last_revenue_date,
        reporting_dates.as_of_date
    from dim_user
    cross join reporting_dates
    left join user_revenue
        on dim_user.user_id = user_revenue.user_id
    left join user_channels
        on dim_user.user_id = user_channels.user_id
    left join user_videos
        on dim_user.user_id = user_videos.user_id

),

final as (

    select
        user_id,
        email,
        channel_count,
        video_count,
        monthly_goal_cents,
        lifetime_revenue_cents,
        current_month_revenue_cents,
        revenue_30d_cents,
        {{ round_hundredths('cast(revenue_30d_cents as ' ~ dbt.type_numeric() ~ ') / 30') }}
            as daily_run_rate_cents,
        {{ goal_progress_pct('current_month_revenue_cents', 'monthly_goal_cents') }}
            as goal_progress_pct,
        {{ days_to_goal('monthly_goal_cents', 'current_month_revenue_cents', 'revenue_30d_cents', 30) }}
            as days_to_goal,
        {{ cents_to_usd('lifetime_revenue_cents') }} as lifetime_revenue_usd,
        {{ cents_to_usd('current_month_revenue_cents') }} as current_month_revenue_usd,
        {{ cents_to_usd('revenue_30d_cents') }} as revenue_30d_usd,
        is_active,
        current_month_revenue_cents >= monthly_goal_cents as is_goal_reached,
        last_revenue_date,
        as_of_date
    from joined

)

select * from final
