{{
    config(
        indexes=[
            {'columns': ['month_start_date', 'cost_category'], 'unique': true},
        ],
    )
}}

{#-
    The monthly cost baseline update: per cost category and month, the distribution of the cost
    per video (a video's cost events of that category incurred in that month, summed), plus a
    TOTAL row per month over each video's total cost in the month. Percentiles are continuous
    (linear interpolation, macro `percentile`).
-#}

with

fct_costs as (

    select
        video_id,
        cost_category,
        amount_cents,
        incurred_date
    from {{ ref('fct_costs') }}
    where incurred_at <= {{ as_of() }}

),

reporting_dates as (

    select {{ to_business_date(as_of()) }} as as_of_date

),

video_category_costs as (

    select
        cast({{ dbt.date_trunc('month', 'incurred_date') }} as date) as month_start_date,
        cost_category,
        video_id,
        cast(sum(amount_cents) as {{ dbt.type_bigint() }}) as cost_cents
    from fct_costs
    group by
        cast({{ dbt.date_trunc('month', 'incurred_date') }} as date),
        cost_category,
        video_id

),

video_total_costs as (

    select
        month_start_date,
        'TOTAL' as cost_category,
        video_id,
        cast(sum(cost_cents) as {{ dbt.type_bigint() }}) as cost_cents
    from video_category_costs
    group by
        month_start_date,
        video_id

),

video_costs as (

    select * from video_category_costs
    union all
    select * from video_total_costs

),

baselines as (

    select
        month_start_date,
        cost_category,
        count(*) as video_count,
        cast(sum(cost_cents) as {{ dbt.type_bigint() }}) as total_cost_cents,
        min(cost_cents) as min_cost_per_video_cents,
        max(cost_cents) as max_cost_per_video_cents,
        {{ round_hundredths('cast(sum(cost_cents) as ' ~ dbt.type_numeric() ~ ') / count(*)') }}
            as avg_cost_per_video_cents,
        {{ round_hundredths(percentile('cost_cents', 0.5)) }}
            as median_cost_per_video_cents,
        {{ round_hundredths(percentile('cost_cents', 0.9)) }}
            as p90_cost_per_video_cents
    from video_costs
    group by
        month_start_date,
        cost_category

),

final as (

    select
        {{ surrogate_key(['baselines.month_start_date', 'baselines.cost_category']) }}
            as cost_baseline_id,
        baselines.cost_category,
        baselines.video_count,
        baselines.total_cost_cents,
        baselines.min_cost_per_video_cents,
        baselines.max_cost_per_video_cents,
        baselines.avg_cost_per_video_cents,
        baselines.median_cost_per_video_cents,
        baselines.p90_cost_per_video_cents,
        {{ cents_to_usd('baselines.median_cost_per_video_cents') }} as median_cost_per_video_usd,
        {{ cents_to_usd('baselines.p90_cost_per_video_cents') }} as p90_cost_per_video_usd,
        baselines.cost_category = 'TOTAL' as is_total_row,
        baselines.month_start_date < cast(
            {{ dbt.date_trunc('month', 'reporting_dates.as_of_date') }} as date
        ) as is_complete_month,
        baselines.month_start_date
    from baselines
    cross join reporting_dates

)

select * from final
