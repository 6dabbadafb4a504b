{#-
    The total cost of as_of's business day so far (cost_rollup_daily TOTAL row) is beyond
    daily_cost_budget_multiplier_critical x daily_cost_budget_cents: the escalation matrix's
    cost_overruns level 3 ("Daily costs > 2x budget"; meta escalation_level 3). Only the current
    day is evaluated, so the alert clears with the next day. The alert quotes the
    total_cost_usd of the returned row (max, USD).
-#}
-- depends_on: {{ ref('monitoring_clock') }}
{#- a parent that morning_summary does not read, so a failing cost alert never skips it (dbt skips
    a downstream model only when it depends on all of a failing test's parents) #}
{{
    config(
        severity='error',
        warn_if='>0',
        error_if='>0',
        store_failures=true,
        tags=['finance', 'hourly', 'threshold'],
        meta={
            'alert_type': 'DAILY_COST',
            'escalation': 'cost_overruns',
            'escalation_level': 3,
            'owner': 'analytics_engineer',
            'figure_column': 'total_cost_usd',
            'figure_agg': 'max',
            'figure_unit': 'USD',
        },
    )
}}

with

cost_rollup_daily as (

    select
        cost_date,
        video_count,
        total_cost_cents,
        total_cost_usd
    from {{ ref('cost_rollup_daily') }}
    where is_total_row

),

current_day as (

    select
        cost_date,
        video_count,
        total_cost_cents,
        total_cost_usd,
        {{ var('daily_cost_budget_cents') }} * {{ var('daily_cost_budget_multiplier_critical') }}
            as limit_cents
    from cost_rollup_daily
    where cost_date = {{ to_business_date(as_of()) }}

),

final as (

    select
        cost_date,
        video_count,
        total_cost_cents,
        total_cost_usd,
        limit_cents
    from current_day
    where total_cost_cents > limit_cents

)

select * from final
