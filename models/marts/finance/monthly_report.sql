{{
    config(
        indexes=[
            {'columns': ['month_start_date'], 'unique': true},
        ],
    )
}}

{#-
    Each fact is aggregated to the month on its own date before anything is joined (no fan-out):
    revenue by revenue month, costs by cost (incurred) month, videos by publish month, users and
    channels by the accounts that existed at the month's end. Months run from the first month of
    dim_date through as_of's month (the current month is month-to-date).
-#}
{%- set tiers = revenue_tiers() %}

with

dim_user as (

    select
        user_id,
        {{ to_business_date('created_at') }} as created_date
    from {{ ref('dim_user') }}

),

dim_channel as (

    select
        channel_id,
        {{ to_business_date('created_at') }} as created_date
    from {{ ref('dim_channel') }}

),

dim_video as (

    select
        video_id,
        published_date
    from {{ ref('dim_video') }}
    where published_at <= {{ as_of() }}

),

dim_date as (

    select
        date_day,
        month_start_date
    from {{ ref('dim_date') }}

),

fct_revenue as (

    select
        user_id,
        revenue_cents,
        revenue_date
    from {{ ref('fct_revenue') }}

),

fct_costs as (

    select
        video_id,
        amount_cents,
        incurred_date
    from {{ ref('fct_costs') }}
    where incurred_at <= {{ as_of() }}

),

reporting_dates as (

    select {{ to_business_date(as_of()) }} as as_of_date

),

months as (

    select
        dim_date.month_start_date,
        max(dim_date.date_day) as month_end_date,
        max(dim_date.date_day) = cast(
            {{ dbt.last_day('dim_date.month_start_date', 'month') }} as date
        ) as is_complete_month
    from dim_date
    cross join reporting_dates
    where dim_date.date_day <= reporting_dates.as_of_date
    group by dim_date.month_start_date

),

user_monthly_revenue as (

    select
        fct_revenue.user_id,
        cast({{ dbt.date_trunc('month', 'fct_revenue.revenue_date') }} as date) as month_start_date,
        cast(sum(fct_revenue.revenue_cents) as {{ dbt.type_bigint() }}) as revenue_cents
    from fct_revenue
    cross join reporting_dates
    where fct_revenue.revenue_date <= reporting_dates.as_of_date
    group by
        fct_revenue.user_id,
        cast({{ dbt.date_trunc('month', 'fct_revenue.revenue_date') }} as date)

),

monthly_revenue as (

    select
        month_start_date,
        count(case when revenue_cents > 0 then user_id end) as earning_user_count,
        {%- for tier_name, tier_cents in tiers %}
            count(case when revenue_cents >= {{ tier_cents }} then user_id end) as users_at_{{ tier_name }},
        {%- endfor %}
        cast(sum(revenue_cents) as {{ dbt.type_bigint() }}) as revenue_cents
    from user_monthly_revenue
    group by month_start_date

),

monthly_costs as (

    select
        cast({{ dbt.date_trunc('month', 'incurred_date') }} as date) as month_start_date,
        cast(sum(amount_cents) as {{ dbt.type_bigint() }}) as cost_cents,
        count(distinct video_id) as costed_video_count
    from fct_costs
    group by cast({{ dbt.date_trunc('month', 'incurred_date') }} as date)

),

monthly_videos as (

    select
        cast({{ dbt.date_trunc('month', 'published_date') }} as date) as month_start_date,
        count(*) as videos_published
    from dim_video
    group by cast({{ dbt.date_trunc('month', 'published_date') }} as date)

),

monthly_users as (

    select
        months.month_start_date,
        count(dim_user.user_id) as user_count
    from months
    left join dim_user
        on months.month_end_date >= dim_user.created_date
    group by months.month_start_date

),

monthly_channels as (

    select
        months.month_start_date,
        count(dim_channel.channel_id) as channel_count
    from months
    left join dim_channel
        on months.month_end_date >= dim_channel.created_date
    group by months.month_start_date

),

joined as (

    select
        months.month_start_date,
        months.is_complete_month,
        monthly_users.user_count,
        coalesce(monthly_revenue.earning_user_count, 0) as earning_user_count,
        monthly_channels.channel_count,
        coalesce(monthly_videos.videos_published, 0) as videos_published,
        coalesce(monthly_costs.costed_video_count, 0) as costed_video_count,
        coalesce(monthly_revenue.revenue_cents, 0) as revenue_cents,
        coalesce(monthly_costs.cost_cents, 0) as cost_cents,
        {%- for tier_name, tier_cents in tiers %}
            coalesce(monthly_revenue.users_at_{{ tier_name }}, 0) as users_at_{{ tier_name }},
        {%- endfor %}
        months.month_end_date
    from months
    left join monthly_users
        on months.month_start_date = monthly_users.month_start_date
    left join monthly_channels
        on months.month_start_date = monthly_channels.month_start_date
    left join monthly_videos
        on months.month_start_date = monthly_videos.month_start_date
    left join monthly_revenue
        on months.month_start_date = monthly_revenue.month_start_date
    left join monthly_costs
        on months.month_start_date = monthly_costs.month_start_date

),

final as (

    select
        {{ surrogate_key(['month_start_date']) }} as monthly_report_id,
        user_count,
        earning_user_count,
        channel_count,
        videos_published,
        costed_video_count,
        {%- for tier_name, tier_cents in tiers %}
            users_at_{{ tier_name }},
        {%- endfor %}
        revenue_cents,
        cost_cents,
        revenue_cents - cost_cents as profit_cents,
        {{ round_hundredths(
            'cast(100 * (revenue_cents - cost_cents) as ' ~ dbt.type_numeric() ~ ') / nullif(cost_cents, 0)'
        ) }} as roi_pct,
        {{ round_hundredths('cast(revenue_cents as ' ~ dbt.type_numeric() ~ ') / nullif(user_count, 0)') }}
            as avg_revenue_per_user_cents,
        {{ cents_to_usd('revenue_cents') }} as revenue_usd,
        {{ cents_to_usd('cost_cents') }} as cost_usd,
        {{ cents_to_usd('revenue_cents - cost_cents') }} as profit_usd,
        {{ cents_to_usd('cast(revenue_cents as ' ~ dbt.type_numeric() ~ ') / nullif(user_count, 0)') }}
            as avg_revenue_per_user_usd,
        is_complete_month,
        month_start_date,
        month_end_date
    from joined

)

select * from final
