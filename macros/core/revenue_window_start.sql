{#
    Returns a date expression: where fct_revenue's incremental run starts recomputing (and
    window_replace deletes and reinserts) by revenue_date. A revenue day changes when a new
    version of it lands (an estimate refreshed, the actual finalised, a correction of any day),
    or when its video's validity or owner changes (a video, channel or user landing late, or a
    video or channel corrected). So the window starts at the earliest of
    - the business date of incremental_window_start('loaded_at') (the latest version stored, or
      a replay's earlier as_of, minus the lookback): every day whose validity depends on the
      clock (dated or landed after as_of or the server clock) is on or after it;
    - the earliest revenue_date among the versions landed since that instant (withdrawn ones
      too, after a replay to an earlier as_of), whatever their day;
    - the earliest revenue_date of a video whose row, its channel's or its user's landed since
      then (the latest version's updated_at, else published_at or created_at; a user's
      created_at). A new video's days are on or after the first date above anyway.
    Filtering int_revenue_validated on revenue_date (a partition column of the staging dedup)
    reaches the raw scan, so the recomputation reads only the window's versions.
#}
{% macro revenue_window_start() -%}
    {%- set landed_since = incremental_window_start('loaded_at') -%}
    (
        select
            least(
                {{ to_business_date(landed_since) }},
                min(loads.revenue_date)
            )
        from {{ ref('stg_raw__revenue_loads') }} as loads
        where
            loads.loaded_at >= {{ landed_since }}
            or loads.video_id in (
                select videos.video_id
                from {{ ref('stg_raw__videos') }} as videos
                left join {{ ref('stg_raw__channels') }} as channels
                    on videos.channel_id = channels.channel_id
                left join {{ ref('stg_raw__users') }} as users
                    on channels.user_id = users.user_id
                where
                    coalesce(videos.updated_at, videos.published_at) >= {{ landed_since }}
                    or coalesce(channels.updated_at, channels.created_at) >= {{ landed_since }}
                    or users.created_at >= {{ landed_since }}
            )
    )
{%- endmacro %}
