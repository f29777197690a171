{#- ===========================================================================
    Report periods. The period types every period report covers:

      month, tertial, half_year, year   calendar periods (file-name labels 2016-05, 2016T2, 2016H1, 2016)
      operating_year                    twelve months from the intervention's own first day
                                        (its register startdatum, or seeds/intervention_operating_years)
      project_to_date                   from the intervention's first day to its latest reported day

    A date falls in exactly one period of each type; period_start_of() gives that period's
    first day, so episodes are put in their periods by an equality join on
    (intervention, period_type, period_start), never by a date-range join.
=========================================================================== -#}

{% macro period_types() -%}
    {{ return(['month', 'tertial', 'half_year', 'year', 'operating_year', 'project_to_date']) }}
{%- endmacro %}

{#- Calendar period types, as in int_period_ends. -#}
{% macro calendar_period_types() -%}
    {{ return(['month', 'tertial', 'half_year', 'year']) }}
{%- endmacro %}

{% macro add_days(date_expression, days) -%}
    cast({{ dbt.dateadd('day', days, date_expression) }} as date)
{%- endmacro %}

{% macro add_months(date_expression, months) -%}
    cast({{ dbt.dateadd('month', months, date_expression) }} as date)
{%- endmacro %}

{% macro add_years(date_expression, years) -%}
    cast({{ dbt.dateadd('year', years, date_expression) }} as date)
{%- endmacro %}

{#- The operating year (of an intervention whose operating years start on the day
    `anchor`, any year) that contains a date: its first day. -#}
{% macro operating_year_start_of(date_expression, anchor) -%}
    case
        when {{ date_expression }} >= {{ add_years(anchor, year_of(date_expression) ~ ' - ' ~ year_of(anchor)) }}
            then {{ add_years(anchor, year_of(date_expression) ~ ' - ' ~ year_of(anchor)) }}
        else {{ add_years(anchor, year_of(date_expression) ~ ' - ' ~ year_of(anchor) ~ ' - 1') }}
    end
{%- endmacro %}

{#- First day of the period of `period_type` that contains the date. `anchor` (the
    intervention's operating-year first day) and `project_start` are expressions used
    by operating_year and project_to_date. -#}
{% macro period_start_of(period_type, date_expression, anchor='null', project_start='null') -%}
    {%- if period_type == 'month' -%}
        make_date({{ year_of(date_expression) }}, {{ month_of(date_expression) }}, 1)
    {%- elif period_type == 'tertial' -%}
        make_date({{ year_of(date_expression) }}, case when {{ month_of(date_expression) }} <= 4 then 1 when {{ month_of(date_expression) }} <= 8 then 5 else 9 end, 1)
    {%- elif period_type == 'half_year' -%}
        make_date({{ year_of(date_expression) }}, case when {{ month_of(date_expression) }} <= 6 then 1 else 7 end, 1)
    {%- elif period_type == 'year' -%}
        make_date({{ year_of(date_expression) }}, 1, 1)
    {%- elif period_type == 'operating_year' -%}
        {{ operating_year_start_of(date_expression, anchor) }}
    {%- elif period_type == 'project_to_date' -%}
        {{ project_start }}
    {%- else -%}
        {{ exceptions.raise_compiler_error('unknown period type ' ~ period_type) }}
    {%- endif -%}
{%- endmacro %}

{#- Last day of the reporting-cadence period (register column rapportering: M month,
    T tertial, H half-year, A year; anything else tertial) that contains the date: a
    delivery covering that date was due `finsam_overdue_days` after it. -#}
{% macro cadence_period_end_of(cadence, date_expression) -%}
    {{ add_days(add_months(
        'make_date(' ~ year_of(date_expression) ~ ', case '
        ~ "when " ~ cadence ~ " = 'M' then " ~ month_of(date_expression) ~ ' '
        ~ "when " ~ cadence ~ " = 'H' then case when " ~ month_of(date_expression) ~ ' <= 6 then 6 else 12 end '
        ~ "when " ~ cadence ~ " = 'A' then 12 "
        ~ 'else case when ' ~ month_of(date_expression) ~ ' <= 4 then 4 when ' ~ month_of(date_expression) ~ ' <= 8 then 8 else 12 end '
        ~ 'end, 1)', 1), -1) }}
{%- endmacro %}

{#- Days after a period's end that its delivery is due: var finsam_overdue_days, which the pipeline
    sets from FINSAM_OVERDUE_DAYS (ingestion/warehouse/build.py, dbt_vars); the tracking step writes the
    same setting to meta.tracking_as_of for delivery_status. -#}
{% macro overdue_days() -%}
    {{ var('finsam_overdue_days') | int }}
{%- endmacro %}
