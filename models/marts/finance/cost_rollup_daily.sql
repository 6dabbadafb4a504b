{{
    config(
        indexes=[
            {'columns': ['cost_date', 'cost_category'], 'unique': true},
        ],
    )
}}

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

category_days as (

    select
        incurred_date as cost_date,
        cost_category,
        count(distinct video_id) as video_count,
        count(*) as cost_event_count,
        cast(sum(amount_cents) as {{ dbt.type_bigint() }}) as total_cost_cents,
        false as is_total_row
    from fct_costs
    group by
        incurred_date,
        cost_category

),

total_days as (

    -- a video has costs in several categories: the TOTAL row counts it once
    select
        incurred_date as cost_date,
        'TOTAL' as cost_category,
        count(distinct video_id) as video_count,
        count(*) as cost_event_count,
        cast(sum(amount_cents) as {{ dbt.type_bigint() }}) as total_cost_cents,
        true as is_total_row
    from fct_costs
    group by incurred_date

),

unioned as (

    select * from category_days
    union all
    select * from total_days

),

final as (

    select
        {{ surrogate_key(['cost_date', 'cost_category']) }} as cost_rollup_daily_id,
        cost_category,
        video_count,
        cost_event_count,
        total_cost_cents,
        {{ round_hundredths('cast(total_cost_cents as ' ~ dbt.type_numeric() ~ ') / nullif(video_count, 0)') }}
            as avg_cost_per_video_cents,
        {{ cents_to_usd('total_cost_cents') }} as total_cost_usd,
        {{ cents_to_usd('cast(total_cost_cents as ' ~ dbt.type_numeric() ~ ') / nullif(video_count, 0)') }}
            as avg_cost_per_video_usd,
        is_total_row,
        cost_date
    from unioned

)

select * from final
