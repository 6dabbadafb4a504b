{#- The incremental window as a predicate: `column >= incremental_window_start(column)` on an
    incremental run, `true` on a full build. One expression either way, so the model's SQL has
    the same shape (and lints the same) whether or not its table exists yet. -#}
{% macro incremental_window_filter(column) -%}
    {%- if is_incremental() -%}
        {{ column }} >= {{ incremental_window_start(column) }}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}
