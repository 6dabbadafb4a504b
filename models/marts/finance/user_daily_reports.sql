{{
    config(
        incremental_strategy='window_replace' if target.type != 'spark' else 'insert_overwrite',
        window_column='report_date',
        window_start=user_daily_reports_window_start(),
        partition_by=['report_date'] if target.type == 'spark' else none,
        file_format='parquet' if target.type == 'spark' else none,
        pre_hook=[
            "{{ drop_partitions_from('report_date', user_daily_reports_window_start()) }}"
        ] if target.type == 'spark' else [],
        on_schema_change='fail',
        indexes=[
            {'columns': ['report_date', 'user_id'], 'unique': true},
            {'columns': ['user_id']},
        ],
    )
}}

{#-
    Each run (re)builds every report day from the first day of the month of
    (as_of's date - restate days) through as_of's date; a full build covers every date of
    dim_date up to as_of's date. The window_replace strategy deletes every stored day from the
    window start on (days after as_of's date included) and inserts the rebuilt ones.
-#}
{%- set run_rate_days = 30 %}

with

dim_user as (

    select
        user_id,
        monthly_goal_cents
    from {{ ref('dim_user') }}

),

dim_video as (

    select
        user_id,
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
        is_estimated,
        revenue_date
    from {{ ref('fct_revenue') }}

),

report_window as (

    select
        {{ to_business_date(as_of()) }} as as_of_date,
        {%- if is_incremental() %}
            {{ user_daily_reports_window_start() }} as window_start_date
        {%- else %}
            (select min(date_day) from dim_date) as window_start_date
        {%- endif %}

),

report_days as (

    select
        dim_date.date_day as report_date,
        dim_date.month_start_date,
        -- the earliest revenue date a day's figures need: its month start or 30 days back
        case
            when
                dim_date.month_start_date
                < cast({{ dbt.dateadd('day', 1 - run_rate_days, 'dim_date.date_day') }} as date)
                then dim_date.month_start_date
            else cast({{ dbt.dateadd('day', 1 - run_rate_days, 'dim_date.date_day') }} as date)
        end as lookback_start_date,
        cast({{ dbt.dateadd('day', 1 - run_rate_days, 'dim_date.date_day') }} as date)
            as run_rate_start_date
    from dim_date
    cross join report_window
    where
        dim_date.date_day >= report_window.window_start_date
        and dim_date.date_day <= report_window.as_of_date

),

user_days as (

    select
        dim_user.user_id,
        dim_user.monthly_goal_cents,
        report_days.report_date,
        report_days.month_start_date,
        report_days.lookback_start_date,
        report_days.run_rate_start_date
    from dim_user
    cross join report_days

),

user_daily_revenue as (

    select
        fct_revenue.user_id,
        fct_revenue.revenue_date,
        cast(sum(fct_revenue.revenue_cents) as {{ dbt.type_bigint() }}) as revenue_cents,
        max(case when fct_revenue.is_estimated then 1 else 0 end) as has_estimate
    from fct_revenue
    cross join report_window
    where
        fct_revenue.revenue_date <= report_window.as_of_date
        -- the earliest lookback_start_date of any report day in the window
        and fct_revenue.revenue_date >= cast(
            {{ dbt.dateadd('day', 1 - run_rate_days, 'report_window.window_start_date') }} as date
        )
    group by
        fct_revenue.user_id,
        fct_revenue.revenue_date

),

user_daily_videos as (

    select
        user_id,
        published_date,
        count(*) as video_count
    from dim_video
    group by
        user_id,
        published_date

),

user_day_revenue as (

    select
        user_days.user_id,
        user_days.report_date,
        sum(
            case
                when user_daily_revenue.revenue_date = user_days.report_date
                    then user_daily_revenue.revenue_cents
                else 0
            end
        ) as revenue_cents,
        sum(
            case
                when user_daily_revenue.revenue_date >= user_days.month_start_date
                    then user_daily_revenue.revenue_cents
                else 0
            end
        ) as month_to_date_revenue_cents,
        sum(
            case
                when user_daily_revenue.revenue_date >= user_days.run_rate_start_date
                    then user_daily_revenue.revenue_cents
                else 0
            end
        ) as revenue_30d_cents,
        max(
            case
                when user_daily_revenue.revenue_date = user_days.report_date
                    then user_daily_revenue.has_estimate
                else 0
            end
        ) as has_estimate
    from user_days
    left join user_daily_revenue
        on
            user_days.user_id = user_daily_revenue.user_id
            and user_days.report_date >= user_daily_revenue.revenue_date
            and user_days.lookback_start_date <= user_daily_revenue.revenue_date
    group by
        user_days.user_id,
        user_days.report_date

),

user_day_videos as (

    select
        user_days.user_id,
        user_days.report_date,
        sum(
            case
                when user_daily_videos.published_date = user_days.report_date
                    then user_daily_videos.video_count
                else 0
            end
        ) as videos_published,
        sum(coalesce(user_daily_videos.video_count, 0)) as total_videos
    from user_days
    left join user_daily_videos
        on
            user_days.user_id = user_daily_videos.user_id
            and user_days.report_date >= user_daily_videos.published_date
    group by
        user_days.user_id,
        user_days.report_date

),

final as (

    select
        {{ surrogate_key(['user_days.user_id', 'user_days.report_date']) }} as user_daily_report_id,
        user_days.user_id,
        cast(user_day_videos.videos_published as {{ dbt.type_bigint() }}) as videos_published,
        cast(user_day_videos.total_videos as {{ dbt.type_bigint() }}) as total_videos,
        cast(coalesce(user_day_revenue.revenue_cents, 0) as {{ dbt.type_bigint() }}) as revenue_cents,
        cast(coalesce(user_day_revenue.month_to_date_revenue_cents, 0) as {{ dbt.type_bigint() }})
            as month_to_date_revenue_cents,
        cast(coalesce(user_day_revenue.revenue_30d_cents, 0) as {{ dbt.type_bigint() }}) as revenue_30d_cents,
        user_days.monthly_goal_cents,
        {{ goal_progress_pct(
            'coalesce(user_day_revenue.month_to_date_revenue_cents, 0)',
            'user_days.monthly_goal_cents',
        ) }} as goal_progress_pct,
        {{ days_to_goal(
            'user_days.monthly_goal_cents',
            'coalesce(user_day_revenue.month_to_date_revenue_cents, 0)',
            'coalesce(user_day_revenue.revenue_30d_cents, 0)',
            run_rate_days
        ) }} as days_to_goal,
        {{ cents_to_usd('coalesce(user_day_revenue.revenue_cents, 0)') }} as revenue_usd,
        coalesce(user_day_revenue.has_estimate, 0) = 1 as is_estimated,
        user_days.report_date
    from user_days
    left join user_day_revenue
        on
            user_days.user_id = user_day_revenue.user_id
            and user_days.report_date = user_day_revenue.report_date
    left join user_day_videos
        on
            user_days.user_id = user_day_videos.user_id
            and user_days.report_date = user_day_videos.report_date

)

select * from final
