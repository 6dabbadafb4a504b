{#
    Dropping a relation on PostgreSQL, one drop at a time per database.

    dbt swaps a rebuilt table in by renaming the old one to a backup and then
    `drop table <backup> cascade`, which also drops every view that reads it. Two tables built by
    concurrent threads that share a dependent view (morning_summary reads dim_channel and
    dashboard_performance) then drop that view from both sides at once, each holding its own
    table and waiting for the other's: PostgreSQL aborts one with "deadlock detected", a failed
    model on clean data (an hourly run paged DATA_INTEGRITY for it). Every drop here first takes
    one advisory lock of the database, so the cascades run one after the other; the lock is a
    session lock released as soon as the drop statement ends (also when it fails), never held
    across the rest of the model's transaction.
#}
{% macro postgres__drop_relation(relation) -%}
    {% call statement('drop_relation', auto_begin=False) -%}
        {{ ytempire_serialized_drop_sql(get_drop_sql(relation)) }}
    {%- endcall %}
{%- endmacro %}


{% macro ytempire_serialized_drop_sql(drop_sql) -%}
do $ytempire_drop$
begin
    perform pg_advisory_lock({{ ytempire_drop_lock_key() }});
    begin
        execute $ytempire_sql$ {{ drop_sql }} $ytempire_sql$;
    exception when others then
        perform pg_advisory_unlock({{ ytempire_drop_lock_key() }});
        raise;
    end;
    perform pg_advisory_unlock({{ ytempire_drop_lock_key() }});
end
$ytempire_drop$
{%- endmacro %}


{% macro ytempire_drop_lock_key() -%}
    hashtext('ytempire.drop_relation')
{%- endmacro %}
