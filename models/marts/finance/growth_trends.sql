{{
    config(
        indexes=[
            {'columns': ['month_start_date'], 'unique': true},
        ],
    )
}}

{#-
    Month-over-month growth of the monthly report's figures: for each, the month's value, the
    previous month's, and growth_pct (macro `growth_pct`: null when there is no previous month or
    it was zero). The current month is month-to-date (is_complete_month false).
-#}
{%- set metrics = [
    'user_count',
    'channel_count',
    'videos_published',
    'revenue_cents',
    'cost_cents',
    'profit_cents',
    'avg_revenue_per_user_cents',
] %}

with

monthly_report as (

    select
        month_start_date,
        is_complete_month,
        user_count,
        channel_count,
        videos_published,
        revenue_cents,
        cost_cents,
        profit_cents,
        avg_revenue_per_user_cents
    from {{ ref('monthly_report') }}

),

with_previous as (

    select
        month_start_date,
        is_complete_month,
        {%- for metric in metrics %}
            {{ metric }},
            lag({{ metric }}) over (order by month_start_date) as previous_{{ metric }},
        {%- endfor %}
        row_number() over (order by month_start_date) as month_number
    from monthly_report

),

final as (

    select
        {{ surrogate_key(['month_start_date']) }} as growth_trend_id,
        {%- for metric in metrics %}
            {{ metric }},
            previous_{{ metric }},
            {{ growth_pct(metric, 'previous_' ~ metric) }} as {{ metric | replace('_cents', '') }}_growth_pct,
        {%- endfor %}
        is_complete_month,
        month_start_date
    from with_previous

)

select * from final
