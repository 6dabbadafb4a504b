{#
    Returns the md5 hex digest of the given column expressions cast to text and joined with '-'
    (a null becomes the empty string): the project's surrogate keys, e.g. surrogate_key(['video_id',
    'collected_hour']). Timestamps render in the session time zone, which the wrapper pins to UTC
    (on Spark the `spark` target pins spark.sql.session.timeZone: see surrogate_key_text).
#}
{% macro surrogate_key(columns) -%}
    {%- set parts = [] -%}
    {%- for column in columns -%}
        {%- do parts.append("coalesce(" ~ surrogate_key_text(column) ~ ", '')") -%}
        {%- if not loop.last -%}
            {%- do parts.append("'-'") -%}
        {%- endif -%}
    {%- endfor -%}
    {{ dbt.hash(dbt.concat(parts)) }}
{%- endmacro %}

{#- One part of a surrogate key as text: PostgreSQL's cast to text. -#}
{% macro surrogate_key_text(column) -%}
    {{ return(adapter.dispatch('surrogate_key_text', 'ytempire')(column)) }}
{%- endmacro %}

{% macro default__surrogate_key_text(column) -%}
    cast({{ column }} as {{ dbt.type_string() }})
{%- endmacro %}

{#- Spark renders a timestamp as '2026-11-15 12:07:00' (no offset); PostgreSQL's timestamptz
    text in a UTC session ends '+00'. Appending it keeps every key identical on both engines
    (the session time zone is UTC on the `spark` target). -#}
{% macro spark__surrogate_key_text(column) -%}
    case
        when typeof({{ column }}) = 'timestamp'
            then concat(cast({{ column }} as string), '+00')
        else cast({{ column }} as string)
    end
{%- endmacro %}
