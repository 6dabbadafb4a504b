-- Troubleshooting guide, "Issue: High Costs Per Video" step 1, "Review cost breakdown":
--     SELECT * FROM analytics.v_cost_analysis WHERE total_cost > 3.00 ORDER BY total_cost DESC;
-- against video_cost_analysis: every video whose total cost is beyond the warning var
-- (cost_per_video_warning_cents, $3.00), costliest first, with its breakdown by category so
-- the category that drives the overrun (duplicate LLM calls, API calls...) stands out.
-- Run: ytempire dbt -- compile -s cost_analysis_over_budget, then the compiled SQL in psql.

with

video_cost_analysis as (

    select * from {{ ref('video_cost_analysis') }}

),

final as (

    select
        video_id,
        channel_id,
        user_id,
        video_title,
        cost_status,
        cost_event_count,
        llm_script_cost_cents,
        voice_cost_cents,
        thumbnail_cost_cents,
        render_cost_cents,
        api_calls_cost_cents,
        other_cost_cents,
        total_cost_cents,
        total_cost_usd,
        published_at,
        last_cost_at
    from video_cost_analysis
    where total_cost_cents > {{ var('cost_per_video_warning_cents') }}

)

select * from final
order by total_cost_cents desc
