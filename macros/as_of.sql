{#
    Returns the instant every model treats as "now", as a timestamp with time zone.

    On PostgreSQL the pinned instant is a session setting, `ytempire.as_of`, read when the query
    runs: `ytempire --as-of X` starts dbt with PGOPTIONS='-c ytempire.as_of=X', so every
    connection of that run sees X and nothing compiled into a view keeps it; a query without the
    setting (a dashboard, the next run) gets current_timestamp. To pin a hand-run dbt the same
    way: PGOPTIONS='-c ytempire.as_of=2026-11-15T12:00:00+00:00' dbt build.

    The var `as_of` (compiled in as a literal) remains for unit tests, which override it, and for
    engines without session settings; the wrapper never sets it.
#}
{% macro as_of() -%}
    {{ return(adapter.dispatch('as_of', 'ytempire')()) }}
{%- endmacro %}

{% macro default__as_of() -%}
    {%- if var('as_of', none) -%}
        cast('{{ var("as_of") }}' as {{ dbt.type_timestamp() }})
    {%- else -%}
        {{ dbt.current_timestamp() }}
    {%- endif -%}
{%- endmacro %}

{% macro postgres__as_of() -%}
    {%- if var('as_of', none) -%}
        cast('{{ var("as_of") }}' as timestamp with time zone)
    {%- else -%}
        coalesce(
            cast(nullif(current_setting('ytempire.as_of', true), '') as timestamp with time zone),
            current_timestamp
        )
    {%- endif -%}
{%- endmacro %}
