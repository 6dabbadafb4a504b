{#-
    Reconciliation: for every user, the sum of user_daily_reports.revenue_cents over the current
    month (report dates from the first day of as_of's month through as_of's date) equals
    user_revenue_tracking.current_month_revenue_cents. Both are defined on the same dates, and
    every run restates the current month's daily rows, so they agree by definition. Returns the
    users that disagree.
-#}
with

user_daily_reports as (

    select
        user_id,
        revenue_cents,
        report_date
    from {{ ref('user_daily_reports') }}

),

user_revenue_tracking as (

    select
        user_id,
        current_month_revenue_cents,
        as_of_date
    from {{ ref('user_revenue_tracking') }}

),

reporting_dates as (

    select
        {{ to_business_date(as_of()) }} as as_of_date,
        cast({{ dbt.date_trunc('month', to_business_date(as_of())) }} as date) as month_start_date

),

daily_sums as (

    select
        user_daily_reports.user_id,
        sum(user_daily_reports.revenue_cents) as daily_revenue_cents
    from user_daily_reports
    cross join reporting_dates
    where
        user_daily_reports.report_date >= reporting_dates.month_start_date
        and user_daily_reports.report_date <= reporting_dates.as_of_date
    group by user_daily_reports.user_id

),

final as (

    select
        coalesce(user_revenue_tracking.user_id, daily_sums.user_id) as user_id,
        user_revenue_tracking.current_month_revenue_cents,
        daily_sums.daily_revenue_cents
    from user_revenue_tracking
    full outer join daily_sums
        on user_revenue_tracking.user_id = daily_sums.user_id
    where
        coalesce(user_revenue_tracking.current_month_revenue_cents, 0)
        != coalesce(daily_sums.daily_revenue_cents, 0)

)

select * from final
