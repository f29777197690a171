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

{#- ===========================================================================
    publish_dense(report, key, key_columns, categories, keys, counts, derived, copies, fills, where,
                  period_match, period_where, grid_where, periods_from)

    publish_suppressed over a dense copy of a report by category and period: every category
    an intervention has had (columns `categories`, in any of the report's periods: a category
    left out of one period type would say 0 there), in every period
    rpt_outcomes_by_period has for the intervention (its rows matching `period_where`; by
    default the report's period types, each measure window). A report leaves out the rows of a
    category with no one in a period; published, that absence says "0", which the method hides
    like 1-4, and it tells when a category's people came and left (docs/disclosure.md, "Absent
    rows"). A report row belongs to a period by `period_match` ({report column: SQL on
    `periods`}; by default the period key and the measure window); `periods_from` replaces the
    periods (SQL that may read `report`), e.g. `years_of_interventions`. `grid_where` (SQL on `periods`
    and `categories`) leaves out what the report never has, e.g. a matrix's inner cells in a
    period type that has only its margins. The added rows are zeros:
      counts  : 0, or `fills[column]` (SQL on `periods`, the outcome table's row of the period,
                `categories` and `report`)
      copies  : {column: SQL}: a figure every row copies, on the report's rows too, e.g. the
                period's total from the outcome table (`periods.exits`)
      others  : null (shares, averages), the period's columns from the outcome table
    A report's own rows are kept as they are (`keeps_every_row_of` checks it); `key` is
    finsam_key(key_columns) over the grid, which equals the report's key on its rows.
=========================================================================== -#}
{% macro publish_dense(
    report, key, key_columns, categories, keys, counts, derived={}, copies={}, fills={}, where='true',
    period_match={'period_key': 'periods.period_key', 'measure_window': 'periods.measure_window'},
    period_where='period_type in (select distinct report.period_type from report)',
    grid_where='true',
    periods_from=none
) -%}
    {%- set period_columns = [
        'period_key', 'intervention_key', 'period_type', 'period_label',
        'period_start', 'period_end', 'measure_window', 'completeness_status', 'data_through'
    ] -%}
    {%- set source = {'association_code': 'periods.association_code', 'intervention_code': 'periods.intervention_code'} -%}
    {%- for column in keys + key_columns if column not in source -%}
        {%- if column in categories -%}
            {%- do source.update({column: 'categories.' ~ column}) -%}
        {%- elif column in period_match -%}
            {%- do source.update({column: period_match[column]}) -%}
        {%- elif column in period_columns -%}
            {%- do source.update({column: 'coalesce(report.' ~ column ~ ', periods.' ~ column ~ ')'}) -%}
        {%- else -%}
            {%- do source.update({column: 'report.' ~ column}) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set key_sources = [] -%}
    {%- for column in key_columns -%}
        {%- do key_sources.append(source[column]) -%}
    {%- endfor -%}
    {%- set selected = [] -%}
    {%- for column in keys -%}
        {%- if column == key -%}
            {%- do selected.append(finsam_key(key_sources) ~ ' as ' ~ column) -%}
        {%- else -%}
            {%- do selected.append(source[column] ~ ' as ' ~ column) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for column in counts -%}
        {%- if column in copies -%}
            {%- do selected.append(copies[column] ~ ' as ' ~ column) -%}
        {%- else -%}
            {%- do selected.append('coalesce(report.' ~ column ~ ', ' ~ fills.get(column, '0') ~ ') as ' ~ column) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for column in derived -%}
        {%- do selected.append('report.' ~ column ~ ' as ' ~ column) -%}
    {%- endfor -%}
    {%- set dense -%}
    (
        with report as (
            select * from {{ report }}
            where {{ where }}
        ),

        periods as (
            {%- if periods_from is none %}
            select * from {{ ref('rpt_outcomes_by_period') }}
            where {{ association_scope() }}
                and {{ period_where }}
            {%- else %}
            {{ periods_from }}
            {%- endif %}
        ),

        categories as (
            select distinct
                association_code,
                intervention_code,
                {{ categories | join(', ') }}
            from report
        ),

        grid as (
            select
                {{ selected | join(',\n                ') }}
            from periods
            inner join categories
                on periods.association_code = categories.association_code
                and periods.intervention_code = categories.intervention_code
            left join report
                on periods.association_code = report.association_code
                and periods.intervention_code = report.intervention_code
                {%- for column, expression in period_match.items() %}
                and {{ expression }} = report.{{ column }}
                {%- endfor %}
                {%- for column in categories %}
                and categories.{{ column }} = report.{{ column }}
                {%- endfor %}
            where {{ grid_where }}
        )

        select * from grid
    ) as dense_report
    {%- endset -%}
    {{ publish_suppressed(dense, keys=keys, counts=counts, derived=derived) }}
{%- endmacro %}

{#- The periods of a breakdown by year (exit year, start year): every calendar year the outcome table
    has for an intervention, and every year the report itself has (a year not yet ended, which the
    outcome table leaves out, has its rows too), as `periods.year`. For publish_dense's `periods_from`. -#}
{% macro years_of_interventions(year_column) -%}
    select
        association_code,
        intervention_code,
        {{ year_of('period_end') }} as year
    from {{ ref('rpt_outcomes_by_period') }}
    where {{ association_scope() }}
        and period_type = 'year'
        and measure_window = 'in_period'

    union

    select
        association_code,
        intervention_code,
        {{ year_column }} as year
    from report
{%- endmacro %}
