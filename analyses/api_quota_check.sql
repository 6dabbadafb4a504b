-- Troubleshooting guide, "Issue: API Quota Exceeded" step 1, "Check current quota usage"
-- (analytics.check_api_quota()), against api_quota_usage: today's units used, remaining of
-- the daily quota, the share used, the projection to the end of the day at the current hourly
-- rate and the status from the vars (api_quota_warning_units / api_quota_critical_units); then
-- the previous days, newest first, to see whether the pattern is new.

with

api_quota_usage as (

    select * from {{ ref('api_quota_usage') }}

),

final as (

    select
        usage_date,
        is_current_day,
        quota_status,
        projected_quota_status,
        request_count,
        units_used,
        units_remaining,
        quota_used_pct,
        units_last_hour,
        projected_units_end_of_day
    from api_quota_usage

)

select * from final
order by is_current_day desc, usage_date desc
