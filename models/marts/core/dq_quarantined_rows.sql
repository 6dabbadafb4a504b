{%- set quarantined_sources = [
    {
        'source_table': 'raw.users',
        'model': 'stg_raw__users',
        'reason': "case when has_null_id then 'null_id' when created_at is null then 'null_timestamp'"
            ~ " when is_future then 'future_timestamp' end",
        'filter': 'not is_after_as_of or coalesce(is_future, false)',
        'video_id': 'null',
        'key_columns': ['user_id'],
        'columns': ['user_id', 'email', 'monthly_goal_cents', 'is_active', 'created_at'],
    },
    {
        'source_table': 'raw.channels',
        'model': 'int_channels_validated',
        'reason': 'quarantine_reason',
        'video_id': 'null',
        'key_columns': ['channel_id'],
        'columns': ['channel_id', 'user_id', 'channel_title', 'niche', 'is_active', 'created_at',
                    'updated_at'],
    },
    {
        'source_table': 'raw.videos',
        'model': 'int_videos_validated',
        'reason': 'quarantine_reason',
        'video_id': 'video_id',
        'key_columns': ['video_id'],
        'columns': ['video_id', 'channel_id', 'video_title', 'duration_seconds', 'published_at',
                    'updated_at'],
    },
    {
        'source_table': 'raw.video_stats',
        'model': 'int_video_stats_validated',
        'reason': 'quarantine_reason',
        'video_id': 'video_id',
        'key_columns': ['video_id', 'collected_at'],
        'columns': ['video_id', 'views', 'likes', 'comments', 'watch_minutes', 'collected_at'],
    },
    {
        'source_table': 'raw.revenue',
        'model': 'int_revenue_validated',
        'reason': 'quarantine_reason',
        'video_id': 'video_id',
        'key_columns': ['video_id', 'revenue_date'],
        'columns': ['video_id', 'revenue_date', 'estimated_cents', 'actual_cents', 'loaded_at'],
    },
    {
        'source_table': 'raw.costs',
        'model': 'int_costs_validated',
        'reason': 'quarantine_reason',
        'video_id': 'video_id',
        'key_columns': ['cost_id'],
        'columns': ['cost_id', 'video_id', 'cost_category', 'amount_cents', 'incurred_at'],
    },
] -%}

with

{% for quarantined in quarantined_sources %}
    {{ quarantined.model }} as (
        select
            row_hash,
            {{ quarantined.reason }} as reason,
            cast({{ quarantined.video_id }} as {{ dbt.type_bigint() }}) as video_id,
            {{ row_to_json_text(quarantined.key_columns) }} as row_key_json,
            {{ row_to_json_text(quarantined.columns) }} as row_json
        from {{ ref(quarantined.model) }}
        where {{ quarantined.get('filter', 'true') }}
    ),
{% endfor %}

unioned as (
    {%- for quarantined in quarantined_sources %}
        select
            '{{ quarantined.source_table }}' as source_table,
            reason,
            video_id,
            row_key_json,
            row_json,
            row_hash
        from {{ quarantined.model }}
        where reason is not null
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

final as (
    select
        {{ surrogate_key(['source_table', 'row_hash']) }} as quarantined_row_id,
        source_table,
        reason,
        video_id,
        row_key_json,
        row_json,
        {{ as_of() }} as detected_at
    from unioned
)

select * from final
