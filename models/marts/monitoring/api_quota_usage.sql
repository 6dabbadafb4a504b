{#-
    Per business day: YouTube Data API units used (every request, failed ones too: the API
    charges them), remaining of the daily quota, share used, and for the current day the
    projected end-of-day use at the current hourly rate (units of the last 60 minutes per hour
    for the hours left). Status from units used against the api_quota_*_units vars.
-#}

with

requests_by_day as (

    select
        quota_units,
        called_at,
        usage_date
    from {{ ref('fct_api_usage') }}
    where called_at <= {{ as_of() }}

),

daily_usage as (

    select
        usage_date,
        count(*) as request_count,
        sum(quota_units) as units_used,
        sum(
            case
                when called_at > {{ dbt.dateadd('hour', -1, as_of()) }} then quota_units
                else 0
            end
        ) as units_last_hour
    from requests_by_day
    group by usage_date

),

projections as (

    select
        usage_date,
        request_count,
        units_used,
        usage_date = {{ to_business_date(as_of()) }} as is_current_day,
        case
            when usage_date = {{ to_business_date(as_of()) }}
                then units_last_hour
        end as units_last_hour,
        case
            when usage_date = {{ to_business_date(as_of()) }}
                then {{ minutes_between(as_of(), business_day_start(
                    dbt.dateadd('day', 1, to_business_date(as_of())), 0)) }} / 60.0
            else 0
        end as hours_left_in_day
    from daily_usage

),

projected as (

    select
        usage_date,
        request_count,
        units_used,
        units_last_hour,
        hours_left_in_day,
        units_used + coalesce(units_last_hour, 0) * hours_left_in_day
            as projected_units_end_of_day,
        is_current_day
    from projections

),

final as (

    select
        usage_date,
        {{ threshold_status(
            'units_used', var('api_quota_warning_units'), var('api_quota_critical_units')
        ) }} as quota_status,
        {{ threshold_status(
            'projected_units_end_of_day',
            var('api_quota_warning_units'),
            var('api_quota_critical_units')
        ) }} as projected_quota_status,
        request_count,
        units_used,
        {{ var('api_quota_daily_units') }} - units_used as units_remaining,
        cast(
            100.0 * units_used / {{ var('api_quota_daily_units') }} as {{ dbt.type_numeric() }}
        ) as quota_used_pct,
        units_last_hour,
        cast(hours_left_in_day as {{ dbt.type_numeric() }}) as hours_left_in_day,
        cast(projected_units_end_of_day as {{ dbt.type_numeric() }})
            as projected_units_end_of_day,
        is_current_day
    from projected

)

select * from final
