{{ config(**finsam_incremental()) }}
{#- Who took part, per intervention x period (every type) x measure window, in long form:
    one row per background dimension and category, with the participants during the
    window (active on any day of it), the entrants (the cohort by entry), the exits (the
    cohort by exit) and those active at its end. Every participant is in exactly one
    category of each dimension, so a dimension's rows add up to the period's figures in
    rpt_outcomes_by_period. Rows where nobody took part are left out. -#}
{%- set schemes = var('finsam_age_band_schemes') %}
{%- set dimensions = ['kon', 'age_band'] %}
{%- for scheme in schemes if scheme != 'standard' %}{% do dimensions.append('age_band_' ~ scheme) %}{% endfor %}
{%- do dimensions.extend(['utbildning', 'tid_offentlig_forsorjning', 'remittent', 'forsorjning_fore', 'kommun']) %}
{%- set groups = ['dimension', 'category'] %}
{%- set measures = ['entrants', 'exits'] %}
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
        {%- endif %}
    from int_episode_periods
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

entries as (
    {{ period_events('long_form', 'entry', groups, {'entrants': 'count(*)'}, breakdown_period_types()) }}
),

exits as (
    {{ period_events('long_form', 'exit', groups, {'exits': 'count(*)'}, breakdown_period_types()) }}
),

categories as (
    select distinct association_code, intervention_code, dimension, category
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
        rpt_outcomes_by_period.exits as exits_total
    from counted
    inner join rpt_outcomes_by_period
        on counted.period_key = rpt_outcomes_by_period.period_key
        and counted.measure_window = rpt_outcomes_by_period.measure_window
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
        {{ safe_divide('exits', 'exits_total') }} as share_of_exits
    from totals
)

select * from final
