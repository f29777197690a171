{{ config(**finsam_incremental()) }}
{#- Employment (sysselsättning) and its extent after exit of those who left, per
    intervention x period (every type) x measure window. employment_after is derived
    from the exit reason when not delivered (kpi_sysselsattning_efter). Rows without exits
    are left out. Period types: var finsam_breakdown_period_types. -#}
{%- set groups = ['employment_after'] %}
{%- set counted = ['exits', 'exits_with_extent', 'exits_full_time', 'omfattning_sum'] %}
{# sqlfluff: the indent of a select-list loop with whitespace control ({%- for %}) cannot be placed
   by layout.indent (it flips between two levels), so that rule is off for this file. #}
-- noqa: disable=LT02
with period_completeness as (
    select * from {{ ref('period_completeness') }}
    where {{ is_breakdown_period_type() }} and {{ association_scope() }}
),

rpt_outcomes_by_period as (
    select * from {{ ref('rpt_outcomes_by_period') }}
    where {{ is_breakdown_period_type() }} and {{ association_scope() }}
),

int_episode_periods as (
    select * from {{ ref('int_episode_periods') }}
    where end_date is not null and {{ association_scope() }}
),

leavers as (
    select
        association_code,
        intervention_code,
        {{ episode_period_columns('int_episode_periods', breakdown_period_types()) }},
        coalesce(employment_after, 'OKAND') as employment_after,
        employment_extent_after
    from int_episode_periods
),

exits as (
    {{ period_events('leavers', 'exit', groups, {
        'exits': 'count(*)',
        'exits_with_extent': count_where('employment_extent_after is not null'),
        'exits_full_time': count_where('employment_extent_after >= 100'),
        'omfattning_sum': 'sum(employment_extent_after)',
    }, breakdown_period_types()) }}
),

categories as (
    select distinct
        association_code,
        intervention_code,
        employment_after
    from leavers
),

grid as (
    select
        {{ period_columns('period_completeness') }},
        categories.employment_after
    from period_completeness
    inner join categories
        on period_completeness.association_code = categories.association_code
        and period_completeness.intervention_code = categories.intervention_code
),

per_period as (
    select
        grid.*,
        {%- for column in counted %}
        coalesce(exits.{{ column }}, 0) as {{ column }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from grid
    left join exits
        on {{ period_join('grid', 'exits', groups) }}
),

running as (
    select
        per_period.*,
        {%- for column in counted %}
        {{ running_total(column) }} as {{ column }}_to_date{% if not loop.last %},{% endif %}
        {%- endfor %}
    from per_period
    {{ running_window(groups) }}
),

windows as (
    select
        {{ period_columns('running') }},
        'in_period' as measure_window,
        employment_after,
        {%- for column in counted %}
        {{ column }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from running
    where exits > 0

    union all

    select
        {{ period_columns('running') }},
        'to_date' as measure_window,
        employment_after,
        {%- for column in counted %}
        {{ column }}_to_date as {{ column }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from running
    where exits_to_date > 0
),

totals as (
    select
        windows.*,
        rpt_outcomes_by_period.exits as exits_total
    from windows
    inner join rpt_outcomes_by_period
        on windows.period_key = rpt_outcomes_by_period.period_key
        and windows.measure_window = rpt_outcomes_by_period.measure_window
),

final as (
    select
        {{ finsam_key(['period_key', 'measure_window', 'employment_after']) }} as employment_period_key,
        period_key,
        intervention_key,
        association_code,
        intervention_code,
        period_type,
        period_label,
        period_start,
        period_end,
        measure_window,
        completeness_status,
        data_through,
        employment_after,
        cast(exits as bigint) as exits,
        cast(exits_with_extent as bigint) as exits_with_extent,
        cast(exits_full_time as bigint) as exits_full_time,
        cast(exits_total as bigint) as exits_total,
        cast({{ safe_divide('omfattning_sum', 'exits_with_extent') }} as decimal(10, 2)) as avg_employment_extent_after,
        {{ safe_divide('exits', 'exits_total') }} as share_of_exits
    from totals
)

select * from final
