{#
    Returns a timestamp expression: where an incremental core fact starts recomputing. That is
    the latest `column` already in the model's table, or as_of() when that is earlier (a replay
    at an earlier instant), minus the lookback window (var `core_incremental_lookback_hours`,
    default 3), so that rows landing late are picked up. An empty table starts from the
    beginning. The window_replace strategy deletes every stored row from this instant on and
    inserts the recomputed ones, so the window is replaced, not merged.
#}
{% macro incremental_window_start(column) -%}
    {%- set lookback_hours = var('core_incremental_lookback_hours', 3) | int -%}
    (
        select
            case
                when max({{ column }}) is null
                    then cast('1900-01-01' as {{ dbt.type_timestamp() }})
                else {{ dbt.dateadd(
                    'hour',
                    -1 * lookback_hours,
                    'least(max(' ~ column ~ '), ' ~ as_of() ~ ')',
                ) }}
            end
        from {{ this }}
    )
{%- endmacro %}
