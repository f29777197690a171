{#- ===========================================================================
    Period figures without an episode x period table.

    Each episode is an entry event (start_date) and, once ended, an exit event
    (end_date); int_episode_periods gives the first day of the period each falls in, for
    every period type (period_start_of). period_events() counts the events per
    (intervention, period type, period) - an equality join on the period's first day - and
    the reports add them up over the periods in order (running_total). For a period
    [start, end] of an intervention:

      entrants      started in the period
      exits         ended in the period
      carried_in    active the day before the period started
                    = entrants before the period - exits before the period
      participants  active on at least one day of the period (kpi_is_active_during)
                    = carried_in + entrants
      active_at_period_end = entrants to date - exits to date (kpi_is_active_at)

    measure_window 'in_period' counts the period itself; 'to_date' counts from the
    intervention's first day to the period's end (carried_in = 0, participants =
    entrants = everyone enrolled by the end, exits = every exit by the end). Both
    equal, by construction, the straightforward per-episode definitions in kpi.sql;
    tests/test_period_marts.py holds them equal for random periods.

    The source relation must carry association_code, intervention_code and the
    entry_<type> / exit_<type> columns of int_episode_periods.
=========================================================================== -#}

{% macro period_events(source, event, group_columns, measures, types=none) -%}
    {%- for period_type in (types or period_types()) %}
    select
        association_code,
        intervention_code,
        '{{ period_type }}' as period_type,
        {{ event }}_{{ period_type }} as period_start,
        {%- for column in group_columns %}
        {{ column }},
        {%- endfor %}
        {%- for name, expression in measures.items() %}
        {{ expression }} as {{ name }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from {{ source }}
    where {{ event }}_{{ period_type }} is not null
    group by
        association_code,
        intervention_code,
        {{ event }}_{{ period_type }}
        {%- for column in group_columns %},
        {{ column }}
        {%- endfor %}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
{%- endmacro %}

{#- The entry_<type> and exit_<type> columns of int_episode_periods, for a select list. -#}
{% macro episode_period_columns(relation, types=none) -%}
    {%- for period_type in (types or period_types()) -%}
        {{ relation }}.entry_{{ period_type }}, {{ relation }}.exit_{{ period_type }}{% if not loop.last %}, {% endif %}
    {%- endfor -%}
{%- endmacro %}

{#- The period types of the breakdown reports (var finsam_breakdown_period_types). -#}
{% macro breakdown_period_types() -%}
    {%- set types = var('finsam_breakdown_period_types') -%}
    {%- for period_type in types if period_type not in period_types() -%}
        {{ exceptions.raise_compiler_error('finsam_breakdown_period_types: unknown period type ' ~ period_type) }}
    {%- endfor -%}
    {{ return(types) }}
{%- endmacro %}

{#- A filter on a period relation: only the breakdown reports' period types. -#}
{% macro is_breakdown_period_type(column='period_type') -%}
    {{ column }} in ({% for period_type in breakdown_period_types() %}'{{ period_type }}'{% if not loop.last %}, {% endif %}{% endfor %})
{%- endmacro %}

{#- A filter on the support transitions' rows: the margins (support at start, support at exit) in
    every period type, the whole start x exit matrix only in the period types of var
    finsam_support_matrix_period_types (the matrix is the largest breakdown). -#}
{% macro in_support_matrix(period_type, support_before, support_after) -%}
    ({{ support_before }} = 'ALL'
        or {{ support_after }} = 'ALL'
        or {{ period_type }} in (
            {%- for type in var('finsam_support_matrix_period_types') -%}
            '{{ type }}'{% if not loop.last %}, {% endif %}
            {%- endfor -%}
        ))
{%- endmacro %}

{#- Sum of a column over this and every earlier period of the same series. -#}
{% macro running_total(column) -%}
    sum({{ column }}) over running
{%- endmacro %}

{#- The window running_total() uses: one series per intervention, period type and
    the report's breakdown columns, in period order. -#}
{% macro running_window(group_columns=[]) -%}
    window running as (
        partition by association_code, intervention_code, period_type{% for column in group_columns %}, {{ column }}{% endfor %}
        order by period_start
        rows between unbounded preceding and current row
    )
{%- endmacro %}

{#- Join columns of a period: (association, intervention, period type, first day). -#}
{% macro period_join(left, right, group_columns=[]) -%}
    {{ left }}.association_code = {{ right }}.association_code
        and {{ left }}.intervention_code = {{ right }}.intervention_code
        and {{ left }}.period_type = {{ right }}.period_type
        and {{ left }}.period_start = {{ right }}.period_start
        {%- for column in group_columns %}
        and {{ left }}.{{ column }} = {{ right }}.{{ column }}
        {%- endfor %}
{%- endmacro %}

{#- The completeness columns every period report carries (from period_completeness). -#}
{% macro period_columns(relation) -%}
        {{ relation }}.period_key,
        {{ relation }}.intervention_key,
        {{ relation }}.association_code,
        {{ relation }}.intervention_code,
        {{ relation }}.period_type,
        {{ relation }}.period_label,
        {{ relation }}.period_start,
        {{ relation }}.period_end,
        {{ relation }}.completeness_status,
        {{ relation }}.data_through
{%- endmacro %}

{#- Median of `value_column` over every row up to each date, per partition: one row per
    (partition, date) with median_to_date. The period reports join it on the last exit date
    up to a period's end (a running max over the periods), so a median "to date" needs no
    episode x period rows. DuckDB computes it as a window; elsewhere as a self-join. -#}
{% macro running_median_by_date(source, date_column, value_column, partition_columns) -%}
    {{ return(adapter.dispatch('running_median_by_date', 'finsam')(source, date_column, value_column, partition_columns)) }}
{%- endmacro %}

{% macro duckdb__running_median_by_date(source, date_column, value_column, partition_columns) -%}
    select distinct
        {%- for column in partition_columns %}
        {{ column }},
        {%- endfor %}
        {{ date_column }},
        median({{ value_column }}) over (
            partition by {{ partition_columns | join(', ') }}
            order by {{ date_column }}
            range between unbounded preceding and current row
        ) as median_to_date
    from {{ source }}
    where {{ date_column }} is not null
{%- endmacro %}

{% macro default__running_median_by_date(source, date_column, value_column, partition_columns) -%}
    select
        {%- for column in partition_columns %}
        upto.{{ column }},
        {%- endfor %}
        upto.{{ date_column }},
        {{ finsam_median('earlier.' ~ value_column) }} as median_to_date
    from (
        select distinct {{ partition_columns | join(', ') }}, {{ date_column }}
        from {{ source }}
        where {{ date_column }} is not null
    ) as upto
    inner join {{ source }} as earlier
        on earlier.{{ date_column }} <= upto.{{ date_column }}
        {%- for column in partition_columns %}
        and earlier.{{ column }} = upto.{{ column }}
        {%- endfor %}
    group by {% for column in partition_columns %}upto.{{ column }}, {% endfor %}upto.{{ date_column }}
{%- endmacro %}

{#- An average from a sum (two decimals) and a count, rounded half up to two decimals:
    exact on DuckDB and PostgreSQL alike (a double division would round 3.745 down). -#}
{% macro average_of_sum(sum_column, count_column) -%}
    case
        when {{ count_column }} > 0 then cast(
            cast(floor((2 * round({{ sum_column }} * 100) + {{ count_column }}) / (2.0 * {{ count_column }})) as decimal(18, 0)) * 0.01
            as decimal(10, 2))
    end
{%- endmacro %}
