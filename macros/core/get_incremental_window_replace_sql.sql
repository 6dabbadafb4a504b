{#
    The `window_replace` incremental strategy: deletes every row of the target whose
    `window_column` is at or after the window start, then inserts the recomputed rows. Rows of
    the window that the recomputation no longer produces (withdrawn upstream, or later than a
    replayed as_of) disappear, and a rerun is byte-identical. The window start is the model's
    `window_start` config (a SQL expression) or, by default, incremental_window_start of the
    window column. The model must select exactly the rows from that same start.
#}
{% macro get_incremental_window_replace_sql(arg_dict) %}
    {%- set window_column = config.get('window_column') -%}
    {%- if not window_column -%}
        {{ exceptions.raise_compiler_error(
            "incremental_strategy 'window_replace' needs the config window_column "
            ~ "(the column the recomputed window is on)."
        ) }}
    {%- endif -%}
    {%- set window_start = config.get('window_start') or incremental_window_start(window_column) -%}
    {%- set columns_csv = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    delete from {{ arg_dict['target_relation'] }}
    where {{ window_column }} >= {{ window_start }};

    insert into {{ arg_dict['target_relation'] }} ({{ columns_csv }})
    select {{ columns_csv }}
    from {{ arg_dict['temp_relation'] }}
{% endmacro %}
