{#-
    Reconciliation: each month's monthly_report.revenue_cents equals the sum of
    fct_revenue.revenue_cents dated in that month (through as_of's date), and no month with
    revenue is missing from the report. Returns the months that disagree.
-#}
with

fct_revenue as (

    select
        revenue_cents,
        revenue_date
    from {{ ref('fct_revenue') }}
    where revenue_date <= {{ to_business_date(as_of()) }}

),

monthly_report as (

    select
        month_start_date,
        revenue_cents
    from {{ ref('monthly_report') }}

),

fact_months as (

    select
        cast({{ dbt.date_trunc('month', 'revenue_date') }} as date) as month_start_date,
        sum(revenue_cents) as fact_revenue_cents
    from fct_revenue
    group by cast({{ dbt.date_trunc('month', 'revenue_date') }} as date)

),

final as (

    select
        coalesce(monthly_report.month_start_date, fact_months.month_start_date) as month_start_date,
        monthly_report.revenue_cents as report_revenue_cents,
        coalesce(fact_months.fact_revenue_cents, 0) as fact_revenue_cents
    from monthly_report
    full outer join fact_months
        on monthly_report.month_start_date = fact_months.month_start_date
    where
        monthly_report.month_start_date is null
        or monthly_report.revenue_cents != coalesce(fact_months.fact_revenue_cents, 0)

)

select * from final
