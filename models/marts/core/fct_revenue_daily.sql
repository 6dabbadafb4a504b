{{
    config(
        indexes=[
            {'columns': ['revenue_date'], 'unique': true},
        ],
    )
}}

with

fct_revenue as (
    select
        revenue_cents,
        is_estimated,
        revenue_date
    from {{ ref('fct_revenue') }}
),

final as (
    select
        revenue_date,
        count(*) as video_day_count,
        cast(sum(case when is_estimated then 1 else 0 end) as {{ dbt.type_bigint() }})
            as estimated_video_day_count,
        cast(sum(revenue_cents) as {{ dbt.type_bigint() }}) as revenue_cents,
        cast(
            sum(case when is_estimated then revenue_cents else 0 end) as {{ dbt.type_bigint() }}
        ) as estimated_revenue_cents
    from fct_revenue
    group by revenue_date
)

select * from final
