{#- ===========================================================================
    Incremental per association.

    The models that grow with the delivered rows (episodes, their facts and the
    outcome reports) are computed per association: nothing in them crosses from
    one association to another. `ingestion.load` queues the associations whose
    deliveries it loaded in meta.build_queue (same transaction as the rows);
    an incremental run deletes those associations' rows and inserts them again,
    and leaves every other association's rows as they are. `ingestion.build`
    empties the queue once dbt has succeeded, and runs with --full-refresh when
    the dbt project itself changed.

    No queue table, or '*' in it (`finsam forget`), means every association:
    the result is always the same as a full build.

      config:  {{ config(**finsam_incremental()) }}
      filter:  where {{ association_scope() }}   (on the model's first inputs)
=========================================================================== -#}

{% macro finsam_incremental() -%}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'append',
        'on_schema_change': 'fail',
        'pre_hook': "{{ delete_association_scope() }}",
    }) }}
{%- endmacro %}

{#- The queued association codes, or none for every association. -#}
{% macro changed_associations() -%}
    {%- set declared = source('meta', 'build_queue') -%}
    {%- if not execute or declared is none -%}
        {{ return(none) }}  {#- parsing, or a unit test (no sources there) -#}
    {%- endif -%}
    {%- set queue = adapter.get_relation(database=declared.database, schema=declared.schema, identifier=declared.identifier) -%}
    {%- if queue is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set codes = run_query(
        'select distinct association_code from ' ~ queue ~ " where stage = 'build' order by 1"
    ).columns[0].values() | list -%}
    {%- if '*' in codes -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(codes) }}
{%- endmacro %}

{% macro association_scope(column='association_code') -%}
    {%- if this is not none and is_incremental() -%}  {#- unit tests have no `this` -#}
        {%- set changed = changed_associations() -%}
    {%- else -%}
        {%- set changed = none -%}
    {%- endif -%}
    {%- if changed is none -%}
        true
    {%- elif changed | length == 0 -%}
        false
    {%- else -%}
        {{ column }} in ({% for code in changed %}'{{ code | replace("'", "") }}'{% if not loop.last %}, {% endif %}{% endfor %})
    {%- endif -%}
{%- endmacro %}

{% macro delete_association_scope() -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ association_scope() }}
    {%- endif -%}
{%- endmacro %}
