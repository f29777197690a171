{{ config(**finsam_incremental()) }}
{#- Time in the intervention (start to exit, in months) of those who left, per
    intervention x period x measure window: by sex (age_band = 'ALL'), by age band at start
    (kon = 'ALL') for every age-band scheme of var('finsam_age_band_schemes'), and for
    everyone (both 'ALL'). Sex x age band together, to date, is in
    rpt_intervention_outcomes_by_group. The median is given for the in_period window (the
    exits of the period); to date only the average. Rows without exits are left out.
    Period types: var finsam_breakdown_period_types. -#}
{%- set schemes = var('finsam_age_band_schemes') %}
{%- set groups = ['age_band_scheme', 'kon', 'age_band'] %}
with period_completeness as (
    select * from {{ ref('period_completeness') }}
    where {{ is_breakdown_period_type() }} and {{ association_scope() }}
),

int_episode_periods as (
    select * from {{ ref('int_episode_periods') }}
    where slutdatum is not null and {{ association_scope() }}
),

leavers as (
    {%- for scheme in schemes %}
    select
        association_code,
        intervention_code,
        {{ episode_period_columns('int_episode_periods', breakdown_period_types()) }},
        months_in_intervention,
        coalesce(kon, 'X') as kon,
        '{{ scheme }}' as age_band_scheme,
        {{ kpi_age_band('age_at_start', scheme) }} as age_band
    from int_episode_periods
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

long_form as (
    {%- for kon, age_band in [("'ALL'", 'age_band'), ('kon', "'ALL'"), ("'ALL'", "'ALL'")] %}
    select
        association_code, intervention_code, {{ episode_period_columns('leavers', breakdown_period_types()) }},
        months_in_intervention, age_band_scheme,
        {{ kon }} as kon,
        {{ age_band }} as age_band
    from leavers
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

exits as (
    {{ period_events('long_form', 'exit', groups, {
        'exits': 'count(*)',
        'months_in_intervention_sum': 'sum(months_in_intervention)',
        'median_months_in_intervention': 'cast(' ~ finsam_median('months_in_intervention') ~ ' as decimal(10, 2))',
    }, breakdown_period_types()) }}
),

categories as (
    select distinct association_code, intervention_code, age_band_scheme, kon, age_band
    from long_form
),

grid as (
    select
        {{ period_columns('period_completeness') }},
        categories.age_band_scheme,
        categories.kon,
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
    from grid
    left join exits
        on {{ period_join('grid', 'exits', groups) }}
),

running as (
    select
        per_period.*,
        {{ running_total('exits') }} as exits_to_date,
        {{ running_total('months_in_intervention_sum') }} as months_in_intervention_sum_to_date
    from per_period
    {{ running_window(groups) }}
),

windows as (
    select
        {{ period_columns('running') }},
        'in_period' as measure_window,
        age_band_scheme,
        kon,
        age_band,
        exits,
        months_in_intervention_sum,
        median_months_in_intervention
    from running
    where exits > 0

    union all

    select
        {{ period_columns('running') }},
        'to_date' as measure_window,
        age_band_scheme,
        kon,
        age_band,
        exits_to_date as exits,
        months_in_intervention_sum_to_date as months_in_intervention_sum,
        cast(null as decimal(10, 2)) as median_months_in_intervention
    from running
    where exits_to_date > 0
),

final as (
    select
        {{ finsam_key(['period_key', 'measure_window', 'age_band_scheme', 'kon', 'age_band']) }} as time_period_key,
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
        kon,
        age_band,
        cast(exits as bigint) as exits,
        {{ average_of_sum('months_in_intervention_sum', 'exits') }} as avg_months_in_intervention,
        median_months_in_intervention
    from windows
)

select * from final
