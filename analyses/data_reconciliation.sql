-- Troubleshooting guide, "Issue: Data Discrepancy" ("numbers don't match between reports"):
-- step 1 "verify data freshness" and step 3 "run reconciliation queries"
-- (analytics.check_data_accuracy()), against the marts. One row per check: the figure from the
-- mart, the same figure from what it is built on, the difference, and whether it is ok (equal;
-- for freshness: at most the DELAYED threshold).
-- The dbt tests assert_monthly_revenue_equals_fct_revenue, assert_monthly_cost_equals_fct_costs,
-- assert_cost_rollup_daily_total_equals_its_categories and
-- assert_user_daily_reports_sum_to_current_month_revenue enforce the same equalities.

with

monthly_report as (

    select * from {{ ref('monthly_report') }}

),

cost_rollup_daily as (

    select * from {{ ref('cost_rollup_daily') }}

),

user_revenue_tracking as (

    select * from {{ ref('user_revenue_tracking') }}

),

user_daily_reports as (

    select * from {{ ref('user_daily_reports') }}

),

fct_revenue as (

    select * from {{ ref('fct_revenue') }}

),

fct_costs as (

    select * from {{ ref('fct_costs') }}

),

fct_video_performance as (

    select * from {{ ref('fct_video_performance') }}

),

reporting_dates as (

    select
        {{ to_business_date(as_of()) }} as as_of_date,
        cast({{ dbt.date_trunc('month', to_business_date(as_of())) }} as date) as month_start_date

),

fact_totals as (

    select
        (
            select sum(fct_revenue.revenue_cents)
            from fct_revenue
            cross join reporting_dates
            where fct_revenue.revenue_date <= reporting_dates.as_of_date
        ) as revenue_cents,
        (
            select sum(fct_costs.amount_cents)
            from fct_costs
            where fct_costs.incurred_at <= {{ as_of() }}
        ) as cost_cents,
        (
            select max(fct_video_performance.collected_at)
            from fct_video_performance
        ) as last_collected_at

),

mart_totals as (

    select
        (select sum(monthly_report.revenue_cents) from monthly_report) as monthly_revenue_cents,
        (select sum(monthly_report.cost_cents) from monthly_report) as monthly_cost_cents,
        (
            select sum(cost_rollup_daily.total_cost_cents)
            from cost_rollup_daily
            where cost_rollup_daily.is_total_row
        ) as daily_total_cost_cents,
        (
            select sum(user_revenue_tracking.lifetime_revenue_cents)
            from user_revenue_tracking
        ) as lifetime_revenue_cents,
        (
            select sum(user_revenue_tracking.current_month_revenue_cents)
            from user_revenue_tracking
        ) as current_month_revenue_cents,
        (
            select sum(user_daily_reports.revenue_cents)
            from user_daily_reports
            cross join reporting_dates
            where
                user_daily_reports.report_date >= reporting_dates.month_start_date
                and user_daily_reports.report_date <= reporting_dates.as_of_date
        ) as daily_reports_month_revenue_cents

),

checks as (

    select
        'revenue: monthly_report vs fct_revenue' as check_name,
        'equal' as check_kind,
        mart_totals.monthly_revenue_cents as mart_value,
        fact_totals.revenue_cents as source_value
    from mart_totals cross join fact_totals

    union all

    select
        'costs: monthly_report vs fct_costs' as check_name,
        'equal' as check_kind,
        mart_totals.monthly_cost_cents as mart_value,
        fact_totals.cost_cents as source_value
    from mart_totals cross join fact_totals

    union all

    select
        'costs: cost_rollup_daily TOTAL rows vs fct_costs' as check_name,
        'equal' as check_kind,
        mart_totals.daily_total_cost_cents as mart_value,
        fact_totals.cost_cents as source_value
    from mart_totals cross join fact_totals

    union all

    select
        'revenue: user_revenue_tracking lifetime vs fct_revenue' as check_name,
        'equal' as check_kind,
        mart_totals.lifetime_revenue_cents as mart_value,
        fact_totals.revenue_cents as source_value
    from mart_totals cross join fact_totals

    union all

    select
        'revenue this month: user_daily_reports vs user_revenue_tracking' as check_name,
        'equal' as check_kind,
        mart_totals.daily_reports_month_revenue_cents as mart_value,
        mart_totals.current_month_revenue_cents as source_value
    from mart_totals

    union all

    -- freshness: total minutes since the latest hourly performance row (not the interval's
    -- minutes field), against the DELAYED threshold var
    select
        'freshness: minutes since the last fct_video_performance collection' as check_name,
        'at_most' as check_kind,
        {{ dbt.datediff('fact_totals.last_collected_at', as_of(), 'minute') }} as mart_value,  -- noqa: LT05
        {{ var('freshness_video_stats_warn_minutes') }} as source_value
    from fact_totals

),

final as (

    select
        check_name,
        mart_value,
        source_value as reference_value,
        coalesce(mart_value, 0) - coalesce(source_value, 0) as difference,
        case
            when check_kind = 'at_most' then mart_value <= source_value
            else coalesce(mart_value, 0) = coalesce(source_value, 0)
        end as is_ok
    from checks

)

select * from final
