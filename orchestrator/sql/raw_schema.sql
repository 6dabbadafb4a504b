-- The raw tables the upstream collectors land (DESIGN.md "Raw data the project reads").
-- No keys or constraints on purpose: raw data arrives at least once, late, and dirty;
-- staging deduplicates and flags. Money is integer cents; every timestamp is timestamptz (UTC).
create schema if not exists raw;

create table if not exists raw.users (
    user_id bigint,
    email text,
    is_active boolean,
    created_at timestamptz,
    monthly_goal_cents bigint
);

create table if not exists raw.channels (
    channel_id bigint,
    user_id bigint,
    title text,
    niche text,
    is_active boolean,
    created_at timestamptz,
    updated_at timestamptz
);

create table if not exists raw.videos (
    video_id bigint,
    channel_id bigint,
    title text,
    published_at timestamptz,
    duration_s integer,
    updated_at timestamptz
);

create table if not exists raw.video_stats (
    video_id bigint,
    collected_at timestamptz,
    views bigint,
    likes bigint,
    comments bigint,
    watch_minutes bigint
);

create table if not exists raw.revenue (
    video_id bigint,
    revenue_date date,
    estimated_cents bigint,
    actual_cents bigint,
    loaded_at timestamptz
);

create table if not exists raw.costs (
    cost_id bigint,
    video_id bigint,
    category text,
    amount_cents bigint,
    incurred_at timestamptz
);

create table if not exists raw.api_usage (
    request_id bigint,
    called_at timestamptz,
    endpoint text,
    quota_units integer,
    status text
);

create table if not exists raw.job_runs (
    run_id bigint,
    job_name text,
    started_at timestamptz,
    finished_at timestamptz,
    status text,
    error_message text
);

create table if not exists raw.query_log (
    query_id bigint,
    dashboard_name text,
    executed_at timestamptz,
    duration_ms integer
);

create table if not exists raw.cache_stats (
    collected_at timestamptz,
    keyspace_hits bigint,
    keyspace_misses bigint,
    used_memory_bytes bigint,
    keys bigint
);
