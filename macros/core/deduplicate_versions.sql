{#
    Returns a query keeping one row per key of `relation`: the first in `order_by` (e.g.
    ['updated_at desc nulls last'] keeps the latest version, ['called_at asc nulls last'] the
    first delivery). Each kept row has the relation's columns plus
    - version_count: the rows of its key (1 when it had no duplicate), and version_number (1);
    - with `hash_columns`: row_hash, the surrogate_key of those columns. It breaks ties in
      `order_by` (row_hash asc), and rows whose first key column is null are kept apart unless
      identical (their row_hash joins the key), so a row without an id is never merged with a
      different one;
    - with `flag_conflicts` (needs hash_columns): has_conflicting_duplicates, true when the
      key's rows are not all identical.
    The staging models' dedupe step: `deduplicated as ({{ deduplicate_versions('source', ...) }})`.
#}
{% macro deduplicate_versions(relation, key_columns, order_by, hash_columns=none, flag_conflicts=false) -%}
    {%- if flag_conflicts and not hash_columns -%}
        {{ exceptions.raise_compiler_error("deduplicate_versions: flag_conflicts needs hash_columns") }}
    {%- endif -%}
    {%- set partition = key_columns | list -%}
    {%- set ordering = order_by | list -%}
    {%- if hash_columns -%}
        {%- do partition.append('case when ' ~ key_columns[0] ~ ' is null then row_hash end') -%}
        {%- do ordering.append('row_hash asc') -%}
    {%- endif -%}
    {%- set versions = 'partition by ' ~ partition | join(', ') -%}
    select *
    from (
        select
            hashed.*,
            row_number() over (
                {{ versions }}
                order by {{ ordering | join(', ') }}
            ) as version_number,
            count(*) over ({{ versions }}) as version_count
            {%- if flag_conflicts %},
            min(hashed.row_hash) over ({{ versions }})
            <> max(hashed.row_hash) over ({{ versions }}) as has_conflicting_duplicates
            {%- endif %}
        from (
            select
                {{ relation }}.*
                {%- if hash_columns %},
                {{ surrogate_key(hash_columns) }} as row_hash
                {%- endif %}
            from {{ relation }}
        ) as hashed
    ) as ranked
    -- "<= 1" rather than "= 1": PostgreSQL estimates a third of the rows kept, not 0.5 %,
    -- so joins downstream hash instead of looping (same result: row numbers start at 1)
    where version_number <= 1
{%- endmacro %}
