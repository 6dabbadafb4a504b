{#
    Returns the md5 hex digest of the given column expressions cast to text and joined with '-'
    (a null becomes the empty string): the project's surrogate keys, e.g. surrogate_key(['video_id',
    'collected_hour']). Timestamps render in the session time zone, which the wrapper pins to UTC.
#}
{% macro surrogate_key(columns) -%}
    {%- set parts = [] -%}
    {%- for column in columns -%}
        {%- do parts.append("coalesce(cast(" ~ column ~ " as " ~ dbt.type_string() ~ "), '')") -%}
        {%- if not loop.last -%}
            {%- do parts.append("'-'") -%}
        {%- endif -%}
    {%- endfor -%}
    {{ dbt.hash(dbt.concat(parts)) }}
{%- endmacro %}
