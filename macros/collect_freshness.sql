{#
    Returns dbt's freshness snapshot for a source (max_loaded_at, snapshotted_at), pinned to
    `as_of()` instead of the server clock: with the var `as_of` set, `dbt source freshness` is
    deterministic. Rows stamped after as_of (future-dated, dirty) are ignored, so they cannot
    make a stale source look fresh. Overrides dbt-postgres's implementation through dispatch
    (for the `dbt` namespace the root project is searched first).
#}
{% macro postgres__collect_freshness(source, loaded_at_field, filter) %}
    {% call statement('collect_freshness', fetch_result=True, auto_begin=False) -%}
        select
            max({{ loaded_at_field }}) as max_loaded_at,
            {{ as_of() }} as snapshotted_at
        from {{ source }}
        where {{ loaded_at_field }} <= {{ as_of() }}
        {%- if filter %}
            and ({{ filter }})
        {%- endif %}
    {%- endcall %}
    {{ return(load_result('collect_freshness')) }}
{% endmacro %}

{#- Spark: the same query (as_of() is the `as_of` var there, which the wrapper passes). -#}
{% macro spark__collect_freshness(source, loaded_at_field, filter) %}
    {{ return(postgres__collect_freshness(source, loaded_at_field, filter)) }}
{% endmacro %}
