{#
    Operation: move raw.api_usage rows called more than var retention_api_usage_days before
    as_of() into raw.api_usage_archive (created when missing: the same columns plus archived_at),
    in ONE statement (delete ... returning feeding the insert), so a stop half way loses nothing
    and copies nothing twice. Returns the count it reports (stored under `run_token` when given,
    as part of `step`). Usage: dbt run-operation archive_api_usage. PostgreSQL only.
#}
{% macro archive_api_usage(run_token=none, step=none) -%}
    {{ return(adapter.dispatch('archive_api_usage', 'ytempire')(run_token, step)) }}
{%- endmacro %}

{% macro default__archive_api_usage(run_token, step) -%}
    {{ postgres_only('archive_api_usage') }}
{%- endmacro %}

{% macro postgres__archive_api_usage(run_token, step) -%}
    {%- set days = var('retention_api_usage_days') -%}
    {%- set source_relation = adapter.get_relation(database=target.database, schema='raw', identifier='api_usage') -%}
    {%- if source_relation is none -%}
        {%- do maintenance_report('archive_api_usage', {'table': 'raw.api_usage', 'archived': 0,
            'skipped': 'table does not exist'}, run_token, step) -%}
        {{ return(0) }}
    {%- endif -%}
    {%- do run_query(
        "create table if not exists raw.api_usage_archive (like " ~ source_relation ~ " including defaults);"
        ~ " alter table raw.api_usage_archive add column if not exists archived_at timestamp with time zone"
    ) -%}
    {%- set columns = adapter.get_columns_in_relation(source_relation) | map(attribute='name')
        | map('replace', '"', '""') | list -%}
    {%- set column_list = '"' ~ columns | join('", "') ~ '"' -%}
    {%- set result = run_query(
        "with moved as ("
        ~ " delete from " ~ source_relation
        ~ " where called_at < (" ~ as_of() ~ " - interval '" ~ (days | int) ~ " days')"
        ~ " returning " ~ column_list
        ~ "), archived as ("
        ~ " insert into raw.api_usage_archive (" ~ column_list ~ ", archived_at)"
        ~ " select " ~ column_list ~ ", " ~ as_of() ~ " from moved returning 1"
        ~ ") select count(*) from archived"
    ) -%}
    {%- set archived = result.columns[0].values()[0] | int -%}
    {%- do maintenance_report('archive_api_usage', {'table': source_relation | string,
        'archive': 'raw.api_usage_archive', 'archived': archived, 'retention_days': days | int},
        run_token, step) -%}
    {{ return(archived) }}
{%- endmacro %}
