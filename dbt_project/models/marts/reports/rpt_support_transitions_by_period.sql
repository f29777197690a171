{{ config(**finsam_incremental()) }}
{#- Support (försörjning) at start and at exit of those who left, per intervention x
    period x measure window, as delivered combinations (e.g. AKS+FBS): the distribution at
    start (support_after = 'ALL') and at exit (support_before = 'ALL') for every period type
    of var finsam_breakdown_period_types, and the matrix (start x exit pairs) for the period
    types of var finsam_support_matrix_period_types (by default year, operating_year and
    project_to_date: the matrix is the largest breakdown). Rows without exits are left out. -#}
{%- set groups = ['support_before', 'support_after'] %}
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
        coalesce(support_before, 'OKAND') as support_before,
        coalesce(support_after, 'OKAND') as support_after
    from int_episode_periods
),

long_form as (
    {%- for before, after in [('support_before', 'support_after'), ('support_before', "'ALL'"), ("'ALL'", 'support_after')] %}
    select
        association_code,
        intervention_code,
        {{ episode_period_columns('leavers', breakdown_period_types()) }},
        {{ before }} as support_before,
        {{ after }} as support_after
    from leavers
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

exits as (
    {{ period_events('long_form', 'exit', groups, {'exits': 'count(*)'}, breakdown_period_types()) }}
),

combinations as (
    select distinct
        association_code,
        intervention_code,
        support_before,
        support_after
    from long_form
),

grid as (
    select
        {{ period_columns('period_completeness') }},
        combinations.support_before,
        combinations.support_after
    from period_completeness
    inner join combinations
        on period_completeness.association_code = combinations.association_code
        and period_completeness.intervention_code = combinations.intervention_code
    where {{ in_support_matrix('period_completeness.period_type', 'combinations.support_before', 'combinations.support_after') }}
),

per_period as (
    select
        grid.*,
        coalesce(exits.exits, 0) as exits
    from grid
    left join exits
        on {{ period_join('grid', 'exits', groups) }}
),

running as (
    select
        per_period.*,
        {{ running_total('exits') }} as exits_to_date
    from per_period
    {{ running_window(groups) }}
),

windows as (
    select
        {{ period_columns('running') }},
        'in_period' as measure_window,
        support_before,
        support_after,
        exits
    from running
    where exits > 0

    union all

    select
        {{ period_columns('running') }},
        'to_date' as measure_window,
        support_before,
        support_after,
        exits_to_date as exits
    from running
    where exits_to_date > 0
),

marginals as (
    select
        period_key,
        measure_window,
        support_before,
        exits as exits_with_support_before
    from windows
    where support_before <> 'ALL' and support_after = 'ALL'
),

totals as (
    select
        windows.*,
        rpt_outcomes_by_period.exits as exits_total,
        case
            when windows.support_before = 'ALL' then rpt_outcomes_by_period.exits
            else marginals.exits_with_support_before
        end as exits_with_support_before
    from windows
    inner join rpt_outcomes_by_period
        on windows.period_key = rpt_outcomes_by_period.period_key
        and windows.measure_window = rpt_outcomes_by_period.measure_window
    left join marginals
        on windows.period_key = marginals.period_key
        and windows.measure_window = marginals.measure_window
        and windows.support_before = marginals.support_before
),

final as (
    select
        {{ finsam_key(['period_key', 'measure_window', 'support_before', 'support_after']) }} as transition_period_key,
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
        support_before,
        support_after,
        cast(exits as bigint) as exits,
        cast(exits_with_support_before as bigint) as exits_with_support_before,
        cast(exits_total as bigint) as exits_total,
        {{ safe_divide('exits', 'exits_with_support_before') }} as share_of_support_before,
        {{ safe_divide('exits', 'exits_total') }} as share_of_exits
    from totals
)

select * from final
