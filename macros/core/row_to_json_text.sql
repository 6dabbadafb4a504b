{#
    Returns a json object as text, built from the given column expressions (key = column name):
    how `dq_quarantined_rows` keeps the whole row it kept out of a fact, readable and comparable.
#}
{% macro row_to_json_text(columns) -%}
    {{ return(adapter.dispatch('row_to_json_text', 'ytempire')(columns)) }}
{%- endmacro %}

{% macro default__row_to_json_text(columns) -%}
    {%- set parts = ["'{'"] -%}
    {%- for column in columns -%}
        {%- do parts.append("'\"" ~ column ~ "\": '") -%}
        {%- do parts.append("coalesce('\"' || cast(" ~ column ~ " as " ~ dbt.type_string() ~ ") || '\"', 'null')") -%}
        {%- if not loop.last -%}{%- do parts.append("', '") -%}{%- endif -%}
    {%- endfor -%}
    {%- do parts.append("'}'") -%}
    {{ dbt.concat(parts) }}
{%- endmacro %}

{% macro postgres__row_to_json_text(columns) -%}
    cast(json_build_object(
        {%- for column in columns %}
        '{{ column }}', {{ column }}{{ "," if not loop.last }}
        {%- endfor %}
    ) as text)
{%- endmacro %}

{#- Spark: to_json of a struct, nulls kept and timestamps in ISO 8601 with their offset, as
    PostgreSQL's json_build_object writes them (the same object, read back). -#}
{% macro spark__row_to_json_text(columns) -%}
    to_json(
        named_struct(
            {%- for column in columns %}
            '{{ column }}', {{ column }}{{ "," if not loop.last }}
            {%- endfor %}
        ),
        map('ignoreNullFields', 'false', 'timestampFormat', "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX")
    )
{%- endmacro %}
