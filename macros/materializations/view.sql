{#
    The view materialization on PostgreSQL: `create or replace view` in place of dbt's default
    (create a new view, rename the old one to a backup, then `drop ... cascade` the backup), so
    rebuilding a view keeps the views that read it. dbt's default silently drops every dependent
    view the run did not select: `ytempire monthly` (`+monthly_report ...` rebuilds the staging
    views) dropped analytics.api_quota_usage, job_status and the other dashboard views until the
    next hourly run.

    PostgreSQL replaces a view in place only when the new column list starts with the old one
    (same names and types); a change of columns (a deploy) raises invalid_table_definition, and
    only then the view is dropped (cascade, as dbt does) and created again: a dependent view
    outside the run's selection is rebuilt by the next build that selects it. A relation that is
    not a view yet, or --full-refresh, takes dbt's default path.
#}
{%- materialization view, adapter='postgres' -%}

  {%- set existing_relation = load_cached_relation(this) -%}
  {%- if existing_relation is none or not existing_relation.is_view or should_full_refresh() -%}
    {{ return(materialization_view_default()) }}
  {%- endif -%}
  {%- set target_relation = this.incorporate(type='view') -%}
  {%- set grant_config = config.get('grants') -%}

  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  {{ run_hooks(pre_hooks, inside_transaction=True) }}

  {% call statement('main') -%}
    {{ ytempire_replace_view_sql(target_relation, sql) }}
  {%- endcall %}

  {%- set should_revoke = should_revoke(existing_relation, full_refresh_mode=True) -%}
  {%- do apply_grants(target_relation, grant_config, should_revoke=should_revoke) -%}
  {%- do persist_docs(target_relation, model) -%}

  {{ run_hooks(post_hooks, inside_transaction=True) }}
  {{ adapter.commit() }}
  {{ run_hooks(post_hooks, inside_transaction=False) }}

  {{ return({'relations': [target_relation]}) }}

{%- endmaterialization -%}


{% macro ytempire_replace_view_sql(relation, sql) -%}
  {%- if config.get('contract').enforced -%}
    {{ get_assert_columns_equivalent(sql) }}
  {%- endif -%}
do $ytempire_view$
begin
    execute $ytempire_sql$ create or replace view {{ relation.render() }} as (
{{ sql }}
    ) $ytempire_sql$;
exception when invalid_table_definition then
    execute $ytempire_sql$ drop view {{ relation.render() }} cascade $ytempire_sql$;
    execute $ytempire_sql$ create view {{ relation.render() }} as (
{{ sql }}
    ) $ytempire_sql$;
end
$ytempire_view$
{%- endmacro %}
