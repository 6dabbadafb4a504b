-- The hourly monitor's cost check (playbook HourlyMonitor.check_cost_thresholds), fixed: the
-- clock hours of the last 60 minutes before as_of with their cost per video and status
-- (OK / WATCH / WARNING / OVER_BUDGET), one row per hour instead of "one of two rows", then
-- the videos whose cost events fall in those hours, costliest first (where the spike is).

with

cost_rollup_hourly as (

    select * from {{ ref('cost_rollup_hourly') }}

),

fct_costs as (

    select * from {{ ref('fct_costs') }}

),

alert_hours as (

    select
        incurred_hour,
        cost_status,
        video_count,
        total_cost_cents,
        cost_per_video_usd
    from cost_rollup_hourly
    where is_in_alert_window

),

videos_in_alert_hours as (

    select
        alert_hours.incurred_hour,
        alert_hours.cost_status,
        alert_hours.cost_per_video_usd as hour_cost_per_video_usd,
        fct_costs.video_id,
        count(*) as cost_event_count,
        sum(fct_costs.amount_cents) as video_cost_in_hour_cents
    from alert_hours
    inner join fct_costs
        on alert_hours.incurred_hour = fct_costs.incurred_hour
    where fct_costs.incurred_at <= {{ as_of() }}
    group by
        alert_hours.incurred_hour,
        alert_hours.cost_status,
        alert_hours.cost_per_video_usd,
        fct_costs.video_id

)

select * from videos_in_alert_hours
order by incurred_hour desc, video_cost_in_hour_cents desc
