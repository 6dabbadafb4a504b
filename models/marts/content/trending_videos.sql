{{
    config(
        indexes=[
            {'columns': ['trending_rank']},
            {'columns': ['channel_id']},
            {'columns': ['video_id'], 'unique': true},
        ]
    )
}}

{#-
    The last 24 hours' videos ranked by trending score (macro trending_score): every video with a
    stats collection in (as_of - 24 h, as_of], its latest collection's hourly view delta as view
    velocity, its latest engagement rate, and its age at as_of. Dashboards show trending_rank <= 5.
-#}

with

fct_video_performance as (

    select
        video_id,
        views,
        views_delta,
        engagement_rate,
        collected_at
    from {{ ref('fct_video_performance') }}
    where
        collected_at > {{ dbt.dateadd('hour', -24, as_of()) }}
        and collected_at <= {{ as_of() }}

),

dim_video as (

    select
        video_id,
        channel_id,
        user_id,
        video_title,
        published_at
    from {{ ref('dim_video') }}

),

dim_channel as (

    select
        channel_id,
        channel_title
    from {{ ref('dim_channel') }}

),

ordered_collections as (

    select
        video_id,
        views,
        views_delta,
        engagement_rate,
        collected_at,
        row_number() over (partition by video_id order by collected_at desc) as recency_number,
        sum(views_delta) over (partition by video_id) as views_gained_24h
    from fct_video_performance

),

latest_collections as (

    select
        video_id,
        views,
        views_delta as view_velocity_per_hour,
        views_gained_24h,
        engagement_rate,
        collected_at as last_collected_at
    from ordered_collections
    where recency_number = 1

),

scored as (

    select
        latest_collections.video_id,
        dim_video.channel_id,
        dim_video.user_id,
        dim_video.video_title,
        dim_channel.channel_title,
        latest_collections.views,
        latest_collections.views_gained_24h,
        latest_collections.view_velocity_per_hour,
        latest_collections.engagement_rate,
        {{ minutes_between('dim_video.published_at', as_of()) }} / 60.0 as age_hours,
        dim_video.published_at,
        latest_collections.last_collected_at
    from latest_collections
    inner join dim_video
        on latest_collections.video_id = dim_video.video_id
    left join dim_channel
        on dim_video.channel_id = dim_channel.channel_id

),

scores as (

    select
        *,
        cast(
            {{ trending_score('view_velocity_per_hour', 'engagement_rate', 'age_hours') }}
            as {{ dbt.type_numeric() }}
        ) as trending_score
    from scored

),

final as (

    select
        video_id,
        channel_id,
        user_id,
        video_title,
        channel_title,
        row_number() over (order by trending_score desc, video_id asc) as trending_rank,
        trending_score,
        views,
        views_gained_24h,
        view_velocity_per_hour,
        cast(engagement_rate as {{ dbt.type_numeric() }}) as engagement_rate,
        cast(age_hours as {{ dbt.type_numeric() }}) as age_hours,
        published_at,
        last_collected_at
    from scores

)

select * from final
