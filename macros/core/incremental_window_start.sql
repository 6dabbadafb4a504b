{#
    Returns a timestamp expression: where an incremental core fact starts recomputing, i.e. the
    latest `column` already in the model's table minus the lookback window (var
    `core_incremental_lookback_hours`, default 3), so that rows landing late are picked up.
    An empty table starts from the beginning. Only meaningful inside `{% if is_incremental() %}`.
#}
{% macro incremental_window_start(column) -%}
    {%- set lookback_hours = var('core_incremental_lookback_hours', 3) | int -%}
    (
        select
            coalesce(
                {{ dbt.dateadd('hour', -1 * lookback_hours, 'max(' ~ column ~ ')') }},
                cast('1900-01-01' as {{ dbt.type_timestamp() }})
            )
        from {{ this }}
    )
{%- endmacro %}
