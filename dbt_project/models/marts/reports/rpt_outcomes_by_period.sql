{{ config(**finsam_incremental()) }}
{#- Intervention x period (every period type, every due period) x measure window: the
    standard follow-up figures. 'in_period' counts the period itself, 'to_date' from the
    intervention's first day to the period's end (macros/period_figures.sql). Every due
    period has both rows, zeros included, with the period's completeness status. -#}
{%- set exit_measures = {
    'exits': 'count(*)',
    'early_dropouts': count_where('is_early_dropout'),
    'exits_to_work': count_where("exit_category = 'work'"),
    'exits_to_subsidised_work': count_where("exit_category = 'subsidised_work'"),
    'exits_to_studies': count_where("exit_category = 'studies'"),
    'exits_to_rehab': count_where("exit_category = 'rehab'"),
    'exits_to_sje_ake': count_where("exit_category = 'sje_ake'"),
    'exits_to_other': count_where("exit_category = 'other'"),
    'exits_to_work_studies_rehab': count_where('is_work_studies_rehab'),
    'exits_to_work_or_studies': count_where('is_work_or_studies'),
    'months_in_intervention_sum': 'sum(months_in_intervention)',
    'median_months_in_intervention': 'cast(' ~ finsam_median('months_in_intervention') ~ ' as decimal(10, 2))',
    'max_months_in_intervention': 'max(months_in_intervention)',
    'last_exit_date': 'max(end_date)',
} %}
{%- set counted = [
    'exits', 'early_dropouts', 'exits_to_work', 'exits_to_subsidised_work', 'exits_to_studies', 'exits_to_rehab',
    'exits_to_sje_ake', 'exits_to_other', 'exits_to_work_studies_rehab', 'exits_to_work_or_studies', 'months_in_intervention_sum',
] %}
with period_completeness as (
    select * from {{ ref('period_completeness') }}
    where {{ association_scope() }}
),

int_episode_periods as (
    select * from {{ ref('int_episode_periods') }}
    where {{ association_scope() }}
),

exit_rows as (
    select
        association_code,
        intervention_code,
        end_date,
        months_in_intervention
    from int_episode_periods
    where exit_project_to_date is not null
),

medians_to_date as (
    {{ running_median_by_date('exit_rows', 'end_date', 'months_in_intervention', ['association_code', 'intervention_code']) }}
),

entries as (
    {{ period_events('int_episode_periods', 'entry', [], {'entrants': 'count(*)'}) }}
),

exits as (
    {{ period_events('int_episode_periods', 'exit', [], exit_measures) }}
),

per_period as (
    select
        {{ period_columns('period_completeness') }},
        coalesce(entries.entrants, 0) as entrants,
        {%- for column in counted %}
        coalesce(exits.{{ column }}, 0) as {{ column }},
        {%- endfor %}
        exits.median_months_in_intervention,
        exits.max_months_in_intervention,
        exits.last_exit_date
    from period_completeness
    left join entries
        on {{ period_join('period_completeness', 'entries') }}
    left join exits
        on {{ period_join('period_completeness', 'exits') }}
),

running as (
    select
        per_period.*,
        {{ running_total('entrants') }} as entrants_to_date,
        {%- for column in counted %}
        {{ running_total(column) }} as {{ column }}_to_date,
        {%- endfor %}
        max(last_exit_date) over running as last_exit_date_to_date,
        max(max_months_in_intervention) over running as max_months_in_intervention_to_date
    from per_period
    {{ running_window() }}
),

running_with_median as (
    select
        running.*,
        cast(medians_to_date.median_to_date as decimal(10, 2)) as median_months_in_intervention_to_date
    from running
    left join medians_to_date
        on running.association_code = medians_to_date.association_code
        and running.intervention_code = medians_to_date.intervention_code
        and running.last_exit_date_to_date = medians_to_date.end_date
),

windows as (
    select
        {{ period_columns('running_with_median') }},
        'in_period' as measure_window,
        entrants_to_date - entrants - (exits_to_date - exits) as carried_in,
        entrants,
        entrants_to_date - exits_to_date as active_at_period_end,
        {%- for column in counted %}
        {{ column }},
        {%- endfor %}
        median_months_in_intervention,
        max_months_in_intervention
    from running_with_median

    union all

    select
        {{ period_columns('running_with_median') }},
        'to_date' as measure_window,
        0 as carried_in,
        entrants_to_date as entrants,
        entrants_to_date - exits_to_date as active_at_period_end,
        {%- for column in counted %}
        {{ column }}_to_date as {{ column }},
        {%- endfor %}
        median_months_in_intervention_to_date as median_months_in_intervention,
        max_months_in_intervention_to_date as max_months_in_intervention
    from running_with_median
),

final as (
    select
        {{ finsam_key(['period_key', 'measure_window']) }} as outcome_period_key,
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
        cast(carried_in + entrants as bigint) as participants,
        cast(carried_in as bigint) as carried_in,
        cast(entrants as bigint) as entrants,
        cast(active_at_period_end as bigint) as active_at_period_end,
        cast(exits as bigint) as exits,
        cast(early_dropouts as bigint) as early_dropouts,
        cast(exits - early_dropouts as bigint) as exits_excl_dropouts,
        cast(exits_to_work as bigint) as exits_to_work,
        cast(exits_to_subsidised_work as bigint) as exits_to_subsidised_work,
        cast(exits_to_studies as bigint) as exits_to_studies,
        cast(exits_to_rehab as bigint) as exits_to_rehab,
        cast(exits_to_sje_ake as bigint) as exits_to_sje_ake,
        cast(exits_to_other as bigint) as exits_to_other,
        cast(exits_to_work_studies_rehab as bigint) as exits_to_work_studies_rehab,
        cast(exits_to_work_or_studies as bigint) as exits_to_work_or_studies,
        {{ share_of_exits_excl_dropouts_to_work_studies_rehab(
            'exits_to_work_studies_rehab', 'exits - early_dropouts'
        ) }} as share_of_exits_excl_dropouts_to_work_studies_rehab,
        {{ share_of_exits_to_work_or_studies('exits_to_work_or_studies', 'exits') }} as share_of_exits_to_work_or_studies,
        {{ average_of_sum('months_in_intervention_sum', 'exits') }} as avg_months_in_intervention,
        median_months_in_intervention,
        cast(max_months_in_intervention as decimal(10, 2)) as max_months_in_intervention
    from windows
)

select * from final
