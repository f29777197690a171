{{ config(**finsam_incremental()) }}
{#- The same figures as rpt_intervention_outcomes, by kön and (standard) age band: per
    calendar period from the intervention's first episode to the end of its participant
    data, for every group with someone enrolled by the period's end. Computed from the
    entry and exit events (macros/period_figures.sql), to date unless named _in_period. -#}
{%- set groups = ['sex', 'age_band'] %}
{%- set types = calendar_period_types() %}
{%- set exit_measures = {
    'exits': 'count(*)',
    'early_dropouts': count_where('is_early_dropout'),
    'exits_to_work': count_where("exit_category = 'work'"),
    'to_subsidised_work': count_where("exit_category = 'subsidised_work'"),
    'to_studies': count_where("exit_category = 'studies'"),
    'to_rehab': count_where("exit_category = 'rehab'"),
    'to_sje_ake': count_where("exit_category = 'sje_ake'"),
    'to_other': count_where("exit_category = 'other'"),
    'exits_to_work_studies_rehab': count_where('is_work_studies_rehab'),
    'months_in_intervention_sum': 'sum(months_in_intervention)',
    'last_exit_date': 'max(end_date)',
} %}
{%- set counted = [
    'exits', 'early_dropouts', 'exits_to_work', 'to_subsidised_work', 'to_studies', 'to_rehab', 'to_sje_ake', 'to_other',
    'exits_to_work_studies_rehab', 'months_in_intervention_sum',
] %}
with period_completeness as (
    select * from {{ ref('period_completeness') }}
    where period_type in ('month', 'tertial', 'half_year', 'year') and {{ association_scope() }}
),

int_intervention_spans as (
    select * from {{ ref('int_intervention_spans') }}
    where {{ association_scope() }}
),

int_episode_periods as (
    select * from {{ ref('int_episode_periods') }}
    where {{ association_scope() }}
),

episodes as (
    select
        association_code,
        intervention_code,
        {{ episode_period_columns('int_episode_periods', types) }},
        end_date,
        coalesce(sex, 'X') as sex,
        age_band,
        is_early_dropout,
        exit_category,
        is_work_studies_rehab,
        months_in_intervention
    from int_episode_periods
),

entries as (
    {{ period_events('episodes', 'entry', groups, {'entrants': 'count(*)'}, types) }}
),

exits as (
    {{ period_events('episodes', 'exit', groups, exit_measures, types) }}
),

exit_episodes as (
    select * from episodes
    where exit_year is not null
),

medians_to_date as (
    {{ running_median_by_date(
        'exit_episodes', 'end_date', 'months_in_intervention', ['association_code', 'intervention_code', 'sex', 'age_band']
    ) }}
),

periods as (
    select period_completeness.*
    from period_completeness
    inner join int_intervention_spans
        on period_completeness.association_code = int_intervention_spans.association_code
        and period_completeness.intervention_code = int_intervention_spans.intervention_code
    where period_completeness.period_end >= int_intervention_spans.first_episode_start
        and period_completeness.period_end <= int_intervention_spans.data_through
),

group_values as (
    select distinct
        association_code,
        intervention_code,
        sex,
        age_band
    from episodes
),

grid as (
    select
        periods.association_code,
        periods.intervention_code,
        periods.intervention_key,
        periods.period_type,
        periods.period_label,
        periods.period_start,
        periods.period_end,
        group_values.sex,
        group_values.age_band
    from periods
    inner join group_values
        on periods.association_code = group_values.association_code
        and periods.intervention_code = group_values.intervention_code
),

per_period as (
    select
        grid.*,
        coalesce(entries.entrants, 0) as entrants,
        {%- for column in counted %}
        coalesce(exits.{{ column }}, 0) as {{ column }},
        {%- endfor %}
        exits.last_exit_date
    from grid
    left join entries
        on {{ period_join('grid', 'entries', groups) }}
    left join exits
        on {{ period_join('grid', 'exits', groups) }}
),

running as (
    select
        per_period.*,
        {{ running_total('entrants') }} as enrolled_to_date,
        {%- for column in counted %}
        {{ running_total(column) }} as {{ column }}_to_date,
        {%- endfor %}
        max(last_exit_date) over running as last_exit_date_to_date
    from per_period
    {{ running_window(groups) }}
),

final as (
    select
        {{ finsam_key([
            'running.association_code', 'running.intervention_code', 'running.period_type', 'running.period_end',
            'running.sex', 'running.age_band'
        ]) }} as outcome_group_key,
        running.intervention_key,
        running.association_code,
        running.intervention_code,
        running.period_type,
        running.period_label,
        running.period_start,
        running.period_end,
        running.sex,
        running.age_band,
        cast(running.enrolled_to_date as bigint) as enrolled_to_date,
        cast(running.enrolled_to_date - running.exits_to_date as bigint) as active_at_period_end,
        cast(running.entrants as bigint) as new_in_period,
        cast(running.exits_to_date as bigint) as exits_to_date,
        cast(running.exits as bigint) as exits_in_period,
        cast(running.early_dropouts_to_date as bigint) as early_dropouts,
        cast(running.exits_to_date - running.early_dropouts_to_date as bigint) as exits_excl_dropouts,
        {%- for column in [
            'exits_to_work', 'to_subsidised_work', 'to_studies', 'to_rehab', 'to_sje_ake', 'to_other', 'exits_to_work_studies_rehab'
        ] %}
        cast(running.{{ column }}_to_date as bigint) as {{ column }},
        {%- endfor %}
        {{ average_of_sum('running.months_in_intervention_sum_to_date', 'running.exits_to_date') }} as avg_months_in_intervention,
        cast(medians_to_date.median_to_date as decimal(10, 2)) as median_months_in_intervention,
        {{ share_of_exits_excl_dropouts_to_work_studies_rehab(
            'running.exits_to_work_studies_rehab_to_date', 'running.exits_to_date - running.early_dropouts_to_date'
        ) }} as share_work_studies_rehab
    from running
    left join medians_to_date
        on running.association_code = medians_to_date.association_code
        and running.intervention_code = medians_to_date.intervention_code
        and running.sex = medians_to_date.sex
        and running.age_band = medians_to_date.age_band
        and running.last_exit_date_to_date = medians_to_date.end_date
    where running.enrolled_to_date > 0
)

select * from final
