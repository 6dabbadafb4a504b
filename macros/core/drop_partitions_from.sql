{#
    A pre-hook of the incremental models on Spark: on an incremental run, drops every partition
    of {{ this }} whose `partition_column` is at or after `start` (a SQL expression, fixed for
    the run: incremental_window_start). insert_overwrite (dynamic) then writes the recomputed
    partitions: together they replace the window exactly, as window_replace's delete + insert
    does on PostgreSQL; a day the recomputation no longer produces (withdrawn upstream, later
    than a replayed as_of) disappears. Returns no SQL (the statements run here); nothing on other
    engines, whose strategy deletes the window itself.
#}
{% macro drop_partitions_from(partition_column, start) -%}
    {{ return(adapter.dispatch('drop_partitions_from', 'ytempire')(partition_column, start)) }}
{%- endmacro %}

{% macro default__drop_partitions_from(partition_column, start) -%}
{%- endmacro %}

{% macro spark__drop_partitions_from(partition_column, start) -%}
    {%- if execute and is_incremental() -%}
        {%- set found = run_query(
            'select distinct typeof(' ~ partition_column ~ ') as type_name, cast('
            ~ partition_column ~ ' as string) as value from ' ~ this
            ~ ' where ' ~ partition_column ~ ' >= ' ~ start
        ) -%}
        {%- set partitions = [] -%}
        {%- for row in found.rows -%}
            {%- do partitions.append(
                'partition (' ~ partition_column ~ ' = ' ~ row['type_name'] ~ "'" ~ row['value'] ~ "')"
            ) -%}
        {%- endfor -%}
        {%- if partitions -%}
            {%- do run_query('alter table ' ~ this ~ ' drop if exists ' ~ partitions | join(', ')) -%}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
