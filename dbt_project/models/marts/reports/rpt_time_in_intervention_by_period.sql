{{ config(**finsam_incremental()) }}
{#- Time in the intervention (start to exit, in months) of those who left, per
    intervention x period x measure window: by sex (age_band = 'ALL'), by age band at start
    (sex = 'ALL') for every age-band scheme of var('finsam_age_band_schemes'), and for
    everyone (both 'ALL'). Sex x age band together, to date, is in
    rpt_intervention_outcomes_by_group. The median is given for the in_period window (the
    exits of the period); to date only the average. Rows without exits are left out.
    Period types: var finsam_breakdown_period_types.
    Internal figures (pub_rpt_time_in_intervention_by_period does not publish them): the exits
    by length of stay (exits_stay_<from>_<to>: more than <from> and at most <to> months, the
    first bucket from 0, the last more than 24) and exits_beyond_max_months, those who stayed
    longer than the register's max_manader (the register version valid on the exit day; the
    first version for an exit before it); target_max_months_in_intervention is the one valid at
    the period's end (as in int_target_attainment). -#}
{%- set schemes = var('finsam_age_band_schemes') %}
{%- set stay_buckets = [('0_3', 0, 3), ('3_6', 3, 6), ('6_12', 6, 12), ('12_18', 12, 18), ('18_24', 18, 24), ('over_24', 24, none)] %}
{%- set extra = [] %}
{%- for name, low, high in stay_buckets %}{% do extra.append('exits_stay_' ~ name) %}{% endfor %}
{%- do extra.extend(['exits_beyond_max_months', 'exits_with_max_months']) %}
{%- set groups = ['age_band_scheme', 'sex', 'age_band'] %}
{# sqlfluff: the indent of a select-list loop with whitespace control ({%- for %}) cannot be placed
   by layout.indent (it flips between two levels), so that rule is off for this file. #}
-- noqa: disable=LT02
with period_completeness as (
    select * from {{ ref('period_completeness') }}
    where {{ is_breakdown_period_type() }} and {{ association_scope() }}
),

int_episode_periods as (
    select * from {{ ref('int_episode_periods') }}
    where end_date is not null and {{ association_scope() }}
),

dim_intervention as (
    select
        association_code,
        intervention_code,
        valid_from,
        target_max_months_in_intervention
    from {{ ref('dim_intervention') }}
    where in_register
),

episode_targets as (
    select
        int_episode_periods.episode_key,
        dim_intervention.target_max_months_in_intervention,
        {{ register_version_rank('int_episode_periods.episode_key', 'int_episode_periods.end_date') }} as version_rank
    from int_episode_periods
    inner join dim_intervention
        on int_episode_periods.association_code = dim_intervention.association_code
        and int_episode_periods.intervention_code = dim_intervention.intervention_code
),

episodes as (
    select
        int_episode_periods.*,
        episode_targets.target_max_months_in_intervention as max_months_target
    from int_episode_periods
    left join episode_targets
        on int_episode_periods.episode_key = episode_targets.episode_key
        and episode_targets.version_rank = 1
),

period_targets as (
    select
        period_completeness.period_key,
        dim_intervention.target_max_months_in_intervention,
        {{ register_version_rank('period_completeness.period_key', 'period_completeness.period_end') }} as version_rank
    from period_completeness
    inner join dim_intervention
        on period_completeness.association_code = dim_intervention.association_code
        and period_completeness.intervention_code = dim_intervention.intervention_code
),

leavers as (
    {%- for scheme in schemes %}
    select
        association_code,
        intervention_code,
        {{ episode_period_columns('episodes', breakdown_period_types()) }},
        months_in_intervention,
        max_months_target,
        coalesce(sex, 'X') as sex,
        '{{ scheme }}' as age_band_scheme,
        {{ kpi_age_band('age_at_start', scheme) }} as age_band
    from episodes
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

long_form as (
    {%- for sex, age_band in [("'ALL'", 'age_band'), ('sex', "'ALL'"), ("'ALL'", "'ALL'")] %}
    select
        association_code, intervention_code, {{ episode_period_columns('leavers', breakdown_period_types()) }},
        months_in_intervention, max_months_target, age_band_scheme,
        {{ sex }} as sex,
        {{ age_band }} as age_band
    from leavers
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

{% set exit_measures = {
    'exits': 'count(*)',
    'months_in_intervention_sum': 'sum(months_in_intervention)',
    'median_months_in_intervention': 'cast(' ~ finsam_median('months_in_intervention') ~ ' as decimal(10, 2))',
    'exits_beyond_max_months': 'sum(case when months_in_intervention > max_months_target then 1 else 0 end)',
    'exits_with_max_months': 'count(max_months_target)',
} %}
{%- for name, low, high in stay_buckets %}
{%- set condition = ('months_in_intervention > ' ~ low) if low > 0 else 'true' %}
{%- if high is not none %}{% set condition = condition ~ ' and months_in_intervention <= ' ~ high %}{% endif %}
{%- do exit_measures.update({'exits_stay_' ~ name: 'sum(case when ' ~ condition ~ ' then 1 else 0 end)'}) %}
{%- endfor %}
exits as (
    {{ period_events('long_form', 'exit', groups, exit_measures, breakdown_period_types()) }}
),

categories as (
    select distinct
        association_code,
        intervention_code,
        age_band_scheme,
        sex,
        age_band
    from long_form
),

grid as (
    select
        {{ period_columns('period_completeness') }},
        categories.age_band_scheme,
        categories.sex,
        categories.age_band
    from period_completeness
    inner join categories
        on period_completeness.association_code = categories.association_code
        and period_completeness.intervention_code = categories.intervention_code
),

per_period as (
    select
        grid.*,
        coalesce(exits.exits, 0) as exits,
        coalesce(exits.months_in_intervention_sum, 0) as months_in_intervention_sum,
        exits.median_months_in_intervention
        {%- for name in extra %},
        coalesce(exits.{{ name }}, 0) as {{ name }}
        {%- endfor %}
    from grid
    left join exits
        on {{ period_join('grid', 'exits', groups) }}
),

running as (
    select
        per_period.*,
        {{ running_total('exits') }} as exits_to_date,
        {{ running_total('months_in_intervention_sum') }} as months_in_intervention_sum_to_date
        {%- for name in extra %},
        {{ running_total(name) }} as {{ name }}_to_date
        {%- endfor %}
    from per_period
    {{ running_window(groups) }}
),

windows as (
    select
        {{ period_columns('running') }},
        'in_period' as measure_window,
        age_band_scheme,
        sex,
        age_band,
        exits,
        months_in_intervention_sum,
        median_months_in_intervention
        {%- for name in extra %},
        {{ name }}
        {%- endfor %}
    from running
    where exits > 0

    union all

    select
        {{ period_columns('running') }},
        'to_date' as measure_window,
        age_band_scheme,
        sex,
        age_band,
        exits_to_date as exits,
        months_in_intervention_sum_to_date as months_in_intervention_sum,
        cast(null as decimal(10, 2)) as median_months_in_intervention
        {%- for name in extra %},
        {{ name }}_to_date as {{ name }}
        {%- endfor %}
    from running
    where exits_to_date > 0
),

windows_with_target as (
    select
        windows.*,
        period_targets.target_max_months_in_intervention
    from windows
    left join period_targets
        on windows.period_key = period_targets.period_key
        and period_targets.version_rank = 1
),

final as (
    select
        {{ finsam_key(['period_key', 'measure_window', 'age_band_scheme', 'sex', 'age_band']) }} as time_period_key,
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
        age_band_scheme,
        sex,
        age_band,
        cast(exits as bigint) as exits,
        {{ average_of_sum('months_in_intervention_sum', 'exits') }} as avg_months_in_intervention,
        median_months_in_intervention
        {%- for name in extra %},
        cast({{ name }} as bigint) as {{ name }}
        {%- endfor %},
        cast(target_max_months_in_intervention as integer) as target_max_months_in_intervention
    from windows_with_target
)

select * from final
