{#
    Returns a timestamp expression: where an incremental core fact starts recomputing. That is
    the latest `column` already in the model's table, or as_of() when that is earlier (a replay
    at an earlier instant), minus the lookback window (var `core_incremental_lookback_hours`,
    default 3), so that rows landing late are picked up. An empty table starts from the
    beginning. The window_replace strategy deletes every stored row from this instant on and
    inserts the recomputed ones, so the window is replaced, not merged.

    On Spark the window is replaced by day partitions (insert_overwrite, after
    drop_partitions_from): the start is widened to the beginning of its business day and
    computed once, when the model is compiled, into a literal, so the model's reads of its own
    table (the baseline rows before the window) do not move while its partitions are replaced.
#}
{% macro incremental_window_start(column) -%}
    {{ return(adapter.dispatch('incremental_window_start', 'ytempire')(column)) }}
{%- endmacro %}

{% macro default__incremental_window_start(column) -%}
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

{% macro spark__incremental_window_start(column) -%}
    {%- set start = default__incremental_window_start(column) -%}
    {%- set day_start = business_day_start(to_business_date(start)) -%}
    {#- only an incremental run reads its table (a full build's pre-hook argument is unused) -#}
    {%- if is_incremental() -%}
        {{ ytempire_spark_literal(day_start, 'timestamp') }}
    {%- else -%}
        cast({{ day_start }} as timestamp)
    {%- endif -%}
{%- endmacro %}
