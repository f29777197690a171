{{ config(**finsam_incremental()) }}
{#- Who took part, per intervention x period (every type) x measure window, in long form:
    one row per background dimension and category, with the participants during the
    window (active on any day of it), the entrants (the cohort by entry), the exits (the
    cohort by exit) and those active at its end. Every participant is in exactly one
    category of each dimension, so a dimension's rows add up to the period's figures in
    rpt_outcomes_by_period. Rows where nobody took part are left out.
    Internal figures (pub_rpt_profile_by_period does not publish them): per category the
    participants who are women and men (the age x sex chart reads them on the age_band rows)
    and their average age at start; per window the average, youngest and oldest age at start
    of all its participants (the *_age_at_start_total columns; the youngest and oldest are one
    person's age, so they never leave the internal marts). -#}
{%- set schemes = var('finsam_age_band_schemes') %}
{%- set dimensions = ['sex', 'age_band'] %}
{%- for scheme in schemes if scheme != 'standard' %}{% do dimensions.append('age_band_' ~ scheme) %}{% endfor %}
{%- do dimensions.extend(['education', 'time_on_public_support', 'referrer', 'support_before', 'municipality_code']) %}
{%- set groups = ['dimension', 'category'] %}
{%- set extra = ['women', 'men', 'age_sum', 'age_n'] %}
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
    where {{ association_scope() }}
),

long_form as (
    {%- for dimension in dimensions %}
    select
        association_code,
        intervention_code,
        {{ episode_period_columns('int_episode_periods', breakdown_period_types()) }},
        '{{ dimension }}' as dimension,
        {%- if dimension.startswith('age_band_') %}
        {{ kpi_age_band('age_at_start', dimension[9:]) }} as category
        {%- else %}
        coalesce(cast({{ dimension }} as varchar), 'OKAND') as category
        {%- endif %},
        sex,
        age_at_start
    from int_episode_periods
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

{% set person_measures = {
    'women': "sum(case when sex = 'K' then 1 else 0 end)",
    'men': "sum(case when sex = 'M' then 1 else 0 end)",
    'age_sum': 'sum(age_at_start)',
    'age_n': 'count(age_at_start)',
} %}
{%- set entry_measures = {'entrants': 'count(*)'} %}
{%- set exit_measures = {'exits': 'count(*)'} %}
{%- for name, expression in person_measures.items() %}
{%- do entry_measures.update({'entrants_' ~ name: expression}) %}
{%- do exit_measures.update({'exits_' ~ name: expression}) %}
{%- endfor %}
entries as (
    {{ period_events('long_form', 'entry', groups, entry_measures, breakdown_period_types()) }}
),

exits as (
    {{ period_events('long_form', 'exit', groups, exit_measures, breakdown_period_types()) }}
),

{# The age of everyone in a window: in_period those active on a day of it (entered by the
    period, not left before it), to_date every entrant up to its end. -#}
window_ages as (
    {%- for period_type in breakdown_period_types() %}
    select
        period_completeness.period_key,
        'in_period' as measure_window,
        int_episode_periods.age_at_start
    from period_completeness
    inner join int_episode_periods
        on period_completeness.association_code = int_episode_periods.association_code
        and period_completeness.intervention_code = int_episode_periods.intervention_code
    where period_completeness.period_type = '{{ period_type }}'
        and int_episode_periods.entry_{{ period_type }} <= period_completeness.period_start
        and (
            int_episode_periods.exit_{{ period_type }} is null
            or int_episode_periods.exit_{{ period_type }} >= period_completeness.period_start
        )

    union all

    select
        period_completeness.period_key,
        'to_date' as measure_window,
        int_episode_periods.age_at_start
    from period_completeness
    inner join int_episode_periods
        on period_completeness.association_code = int_episode_periods.association_code
        and period_completeness.intervention_code = int_episode_periods.intervention_code
    where period_completeness.period_type = '{{ period_type }}'
        and int_episode_periods.entry_{{ period_type }} <= period_completeness.period_start
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

age_totals as (
    select
        period_key,
        measure_window,
        sum(age_at_start) as age_sum_total,
        count(age_at_start) as age_n_total,
        min(age_at_start) as min_age_at_start_total,
        max(age_at_start) as max_age_at_start_total
    from window_ages
    group by period_key, measure_window
),

categories as (
    select distinct
        association_code,
        intervention_code,
        dimension,
        category
    from long_form
),

grid as (
    select
        {{ period_columns('period_completeness') }},
        categories.dimension,
        categories.category
    from period_completeness
    inner join categories
        on period_completeness.association_code = categories.association_code
        and period_completeness.intervention_code = categories.intervention_code
),

per_period as (
    select
        grid.*,
        coalesce(entries.entrants, 0) as entrants,
        coalesce(exits.exits, 0) as exits
        {%- for name in extra %},
        coalesce(entries.entrants_{{ name }}, 0) as entrants_{{ name }},
        coalesce(exits.exits_{{ name }}, 0) as exits_{{ name }}
        {%- endfor %}
    from grid
    left join entries
        on {{ period_join('grid', 'entries', groups) }}
    left join exits
        on {{ period_join('grid', 'exits', groups) }}
),

running as (
    select
        per_period.*,
        {{ running_total('entrants') }} as entrants_to_date,
        {{ running_total('exits') }} as exits_to_date
        {%- for name in extra %},
        {{ running_total('entrants_' ~ name) }} as entrants_{{ name }}_to_date,
        {{ running_total('exits_' ~ name) }} as exits_{{ name }}_to_date
        {%- endfor %}
    from per_period
    {{ running_window(groups) }}
),

windows as (
    select
        {{ period_columns('running') }},
        'in_period' as measure_window,
        dimension,
        category,
        entrants_to_date - entrants - (exits_to_date - exits) as carried_in,
        entrants,
        exits,
        entrants_to_date - exits_to_date as active_at_period_end
        {%- for name in extra %},
        entrants_{{ name }}_to_date - (exits_{{ name }}_to_date - exits_{{ name }}) as participants_{{ name }}
        {%- endfor %}
    from running

    union all

    select
        {{ period_columns('running') }},
        'to_date' as measure_window,
        dimension,
        category,
        0 as carried_in,
        entrants_to_date as entrants,
        exits_to_date as exits,
        entrants_to_date - exits_to_date as active_at_period_end
        {%- for name in extra %},
        entrants_{{ name }}_to_date as participants_{{ name }}
        {%- endfor %}
    from running
),

counted as (
    select
        windows.*,
        carried_in + entrants as participants
    from windows
    where carried_in + entrants > 0
),

totals as (
    select
        counted.*,
        rpt_outcomes_by_period.participants as participants_total,
        rpt_outcomes_by_period.entrants as entrants_total,
        rpt_outcomes_by_period.exits as exits_total,
        age_totals.age_sum_total,
        coalesce(age_totals.age_n_total, 0) as age_n_total,
        age_totals.min_age_at_start_total,
        age_totals.max_age_at_start_total
    from counted
    inner join rpt_outcomes_by_period
        on counted.period_key = rpt_outcomes_by_period.period_key
        and counted.measure_window = rpt_outcomes_by_period.measure_window
    left join age_totals
        on counted.period_key = age_totals.period_key
        and counted.measure_window = age_totals.measure_window
),

final as (
    select
        {{ finsam_key(['period_key', 'measure_window', 'dimension', 'category']) }} as profile_period_key,
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
        dimension,
        category,
        cast(participants as bigint) as participants,
        cast(carried_in as bigint) as carried_in,
        cast(entrants as bigint) as entrants,
        cast(exits as bigint) as exits,
        cast(active_at_period_end as bigint) as active_at_period_end,
        cast(participants_total as bigint) as participants_total,
        cast(entrants_total as bigint) as entrants_total,
        cast(exits_total as bigint) as exits_total,
        {{ safe_divide('participants', 'participants_total') }} as share_of_participants,
        {{ safe_divide('entrants', 'entrants_total') }} as share_of_entrants,
        {{ safe_divide('exits', 'exits_total') }} as share_of_exits,
        cast(participants_women as bigint) as participants_women,
        cast(participants_men as bigint) as participants_men,
        {{ average_of_sum('participants_age_sum', 'participants_age_n') }} as avg_age_at_start,
        {{ average_of_sum('age_sum_total', 'age_n_total') }} as avg_age_at_start_total,
        cast(min_age_at_start_total as integer) as min_age_at_start_total,
        cast(max_age_at_start_total as integer) as max_age_at_start_total
    from totals
)

select * from final
