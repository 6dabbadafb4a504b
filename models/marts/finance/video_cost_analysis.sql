{{
    config(
        indexes=[
            {'columns': ['video_id'], 'unique': true},
            {'columns': ['user_id']},
            {'columns': ['channel_id']},
            {'columns': ['total_cost_cents']},
        ],
    )
}}

{%- set categories = cost_categories() %}

with

dim_video as (

    select
        video_id,
        channel_id,
        user_id,
        video_title,
        published_date,
        published_at
    from {{ ref('dim_video') }}

),

fct_costs as (

    select
        video_id,
        cost_category,
        amount_cents,
        incurred_at
    from {{ ref('fct_costs') }}
    where incurred_at <= {{ as_of() }}

),

video_costs as (

    select
        video_id,
        {%- for category in categories %}
            sum(
                case when cost_category = '{{ category }}' then amount_cents else 0 end
            ) as {{ category }}_cost_cents,
        {%- endfor %}
        sum(
            case
                when cost_category not in (
                    {%- for category in categories %}
                        '{{ category }}'{{ ',' if not loop.last }}
                    {%- endfor %}
                ) then amount_cents
                else 0
            end
        ) as other_cost_cents,
        count(*) as cost_event_count,
        cast(sum(amount_cents) as {{ dbt.type_bigint() }}) as total_cost_cents,
        min(incurred_at) as first_cost_at,
        max(incurred_at) as last_cost_at
    from fct_costs
    group by video_id

),

final as (

    select
        dim_video.video_id,
        dim_video.channel_id,
        dim_video.user_id,
        dim_video.video_title,
        {{ cost_status('coalesce(video_costs.total_cost_cents, 0)') }} as cost_status,
        coalesce(video_costs.cost_event_count, 0) as cost_event_count,
        {%- for category in categories %}
            cast(coalesce(video_costs.{{ category }}_cost_cents, 0) as {{ dbt.type_bigint() }})
                as {{ category }}_cost_cents,
        {%- endfor %}
        cast(coalesce(video_costs.other_cost_cents, 0) as {{ dbt.type_bigint() }}) as other_cost_cents,
        coalesce(video_costs.total_cost_cents, 0) as total_cost_cents,
        {{ cents_to_usd('coalesce(video_costs.total_cost_cents, 0)') }} as total_cost_usd,
        (coalesce(video_costs.total_cost_cents, 0) > {{ var('cost_per_video_warning_cents') }})
            as is_over_budget,
        dim_video.published_date,
        dim_video.published_at,
        video_costs.first_cost_at,
        video_costs.last_cost_at
    from dim_video
    left join video_costs
        on dim_video.video_id = video_costs.video_id

)

select * from final
