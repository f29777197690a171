{#- ===========================================================================
    Small-count suppression for the `public` schema, in one place.

    publish_suppressed(relation, keys, counts, derived)
      keys    : columns copied as-is (dimensions of the report)
      counts  : count columns; a value below var('finsam_suppression_threshold')
                becomes null, with <col>_suppressed (boolean) and
                <col>_display (text, "<5") next to it
      derived : {column: [counts it is computed from]}; shares, averages and
                medians are nulled (and flagged) when any of those counts is
                suppressed
      where   : filter on the source report (incremental scope)
=========================================================================== -#}

{% macro is_small_count(column) -%}
    coalesce({{ column }} < {{ var('finsam_suppression_threshold') }}, false)
{%- endmacro %}

{% macro publish_suppressed(relation, keys, counts, derived={}, where='true') -%}
    {%- set threshold = var('finsam_suppression_threshold') -%}
    {%- set columns = [] -%}
    {%- for key in keys -%}
        {%- do columns.append(key) -%}
    {%- endfor -%}
    {%- for column in counts -%}
        {%- do columns.append('case when ' ~ is_small_count(column) ~ ' then null else ' ~ column ~ ' end as ' ~ column) -%}
        {%- do columns.append(is_small_count(column) ~ ' as ' ~ column ~ '_suppressed') -%}
        {%- do columns.append(
            "case when " ~ column ~ " is null then null when " ~ is_small_count(column) ~ " then '<" ~ threshold
            ~ "' else cast(" ~ column ~ " as varchar) end as " ~ column ~ "_display"
        ) -%}
    {%- endfor -%}
    {%- for column, sources in derived.items() -%}
        {%- set conditions = [] -%}
        {%- for source_column in sources -%}
            {%- do conditions.append(is_small_count(source_column)) -%}
        {%- endfor -%}
        {%- set any_small = '(' ~ (conditions | join(' or ')) ~ ')' -%}
        {%- do columns.append('case when ' ~ any_small ~ ' then null else ' ~ column ~ ' end as ' ~ column) -%}
        {%- do columns.append(any_small ~ ' as ' ~ column ~ '_suppressed') -%}
    {%- endfor -%}
with source_report as (
    select * from {{ relation }}
    where {{ where }}
),

final as (
    select
        {{ columns | join(',\n        ') }}
    from source_report
)

select * from final
{%- endmacro %}
