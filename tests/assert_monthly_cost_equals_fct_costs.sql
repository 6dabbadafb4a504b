{#-
    Reconciliation: each month's monthly_report.cost_cents equals the sum of
    fct_costs.amount_cents incurred in that month (business date, through as_of()), and no
    month with costs is missing from the report. Returns the months that disagree.
-#}
with

fct_costs as (

    select
        amount_cents,
        incurred_date
    from {{ ref('fct_costs') }}
    where incurred_at <= {{ as_of() }}

),

monthly_report as (

    select
        month_start_date,
        cost_cents
    from {{ ref('monthly_report') }}

),

fact_months as (

    select
        cast({{ dbt.date_trunc('month', 'incurred_date') }} as date) as month_start_date,
        sum(amount_cents) as fact_cost_cents
    from fct_costs
    group by cast({{ dbt.date_trunc('month', 'incurred_date') }} as date)

),

final as (

    select
        coalesce(monthly_report.month_start_date, fact_months.month_start_date) as month_start_date,
        monthly_report.cost_cents as report_cost_cents,
        coalesce(fact_months.fact_cost_cents, 0) as fact_cost_cents
    from monthly_report
    full outer join fact_months
        on monthly_report.month_start_date = fact_months.month_start_date
    where
        monthly_report.month_start_date is null
        or monthly_report.cost_cents != coalesce(fact_months.fact_cost_cents, 0)

)

select * from final
