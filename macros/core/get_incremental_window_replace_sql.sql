{#
    The `window_replace` incremental strategy: deletes every row of the target whose
    `window_column` is at or after the window start, then inserts the recomputed rows. Rows of
    the window that the recomputation no longer produces (withdrawn upstream, or later than a
    replayed as_of) disappear, and a rerun is byte-identical. The window start is, in order: the
    macro the model's `window_start_macro` config names (called now, at execution: a config
    value is rendered once, at parse time, when ref() does not yet resolve), the model's
    `window_start` config (a SQL expression), or incremental_window_start of the window column.
    The model must select exactly the rows from that same start.
#}
{% macro get_incremental_window_replace_sql(arg_dict) %}
    {%- set window_column = config.get('window_column') -%}
    {%- if not window_column -%}
        {{ exceptions.raise_compiler_error(
            "incremental_strategy 'window_replace' needs the config window_column "
            ~ "(the column the recomputed window is on)."
        ) }}
    {%- endif -%}
    {%- set start_macro = config.get('window_start_macro') -%}
    {%- if start_macro and context.get(start_macro) is none -%}
        {{ exceptions.raise_compiler_error(
            "window_start_macro '" ~ start_macro ~ "' is not a macro of the project: name the "
            ~ "macro that returns the window start (e.g. revenue_window_start)."
        ) }}
    {%- endif -%}
    {%- if start_macro -%}
        {%- set window_start = context.get(start_macro)() -%}
    {%- else -%}
        {%- set window_start = config.get('window_start') or incremental_window_start(window_column) -%}
    {%- endif -%}
    {%- set columns_csv = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    delete from {{ arg_dict['target_relation'] }}
    where {{ window_column }} >= {{ window_start }};

    insert into {{ arg_dict['target_relation'] }} ({{ columns_csv }})
    select {{ columns_csv }}
    from {{ arg_dict['temp_relation'] }}
{% endmacro %}
