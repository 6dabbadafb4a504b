{{
    config(
        indexes=[
            {'columns': ['api_usage_id'], 'unique': true},
            {'columns': ['called_at']},
            {'columns': ['usage_date']},
        ],
    )
}}

{#- The YouTube Data API requests, one row per request (the staging dedup), stored with their
    business date and indexed on both times: the quota and freshness views read the day they
    need from here instead of deduplicating all of raw.api_usage on every read. Nothing relative
    to an instant is stored; the views filter called_at <= as_of() when read. -#}

with

stg_raw__api_usage as (
    select
        request_id,
        endpoint,
        status,
        quota_units,
        called_at
    from {{ ref('stg_raw__api_usage') }}
),

final as (
    select
        {{ surrogate_key(['request_id', 'endpoint', 'status', 'quota_units', 'called_at']) }}
            as api_usage_id,
        request_id,
        endpoint,
        status,
        quota_units,
        {{ to_business_date('called_at') }} as usage_date,
        called_at
    from stg_raw__api_usage
)

select * from final
