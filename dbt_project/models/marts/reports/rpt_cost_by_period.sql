{#- Cost per participant and per exit to work or studies, per intervention x period (every
    type) x measure window. The actual cost of a window is read from the budget deliveries'
    actuals (year to date at period_end, rpt_budget_outcome.actual):

      cost of [start, end] = the actuals to `end` in its year
                           + the full-year actuals (period_end 31 December) of every earlier
                             year from the start's year
                           - the actuals to the day before `start` in its year (0 on 1 January)

    'to_date' counts from 1 January of the intervention's first year. A ratio is null, with
    the reason in a column, when its inputs do not cover the same period: no actuals at the
    window's end, at the day before its start or for a full year in between, participant
    data that does not reach the period's end (completeness_status quarantined or
    missing_delivery), or nobody to divide by. -#}
with rpt_outcomes_by_period as (
    select * from {{ ref('rpt_outcomes_by_period') }}
),

rpt_budget_outcome as (
    select * from {{ ref('rpt_budget_outcome') }}
    where actual is not null
),

int_intervention_spans as (
    select * from {{ ref('int_intervention_spans') }}
),

int_period_ends as (
    select * from {{ ref('int_period_ends') }}
    where period_type = 'year'
),

actuals as (
    select
        association_code,
        intervention_code,
        year,
        period_end,
        actual
    from rpt_budget_outcome
),

full_years as (
    select
        int_intervention_spans.association_code,
        int_intervention_spans.intervention_code,
        int_period_ends.year,
        actuals.actual as full_year_actual
    from int_intervention_spans
    inner join int_period_ends
        on int_period_ends.year >= {{ year_of('int_intervention_spans.project_start') }} - 2
        and int_period_ends.year <= {{ year_of('int_intervention_spans.report_end') }}
    left join actuals
        on int_intervention_spans.association_code = actuals.association_code
        and int_intervention_spans.intervention_code = actuals.intervention_code
        and actuals.year = int_period_ends.year
        and actuals.period_end = int_period_ends.period_end
),

years_running as (
    select
        association_code,
        intervention_code,
        year,
        sum(coalesce(full_year_actual, 0)) over running_years as full_years_actual_to_year,
        sum(case when full_year_actual is not null then 1 else 0 end) over running_years as full_years_to_year
    from full_years
    window running_years as (
        partition by association_code, intervention_code
        order by year
        rows between unbounded preceding and current row
    )
),

windows as (
    select
        rpt_outcomes_by_period.*,
        case
            when rpt_outcomes_by_period.measure_window = 'to_date'
                then make_date({{ year_of('int_intervention_spans.project_start') }}, 1, 1)
            else rpt_outcomes_by_period.period_start
        end as cost_from
    from rpt_outcomes_by_period
    inner join int_intervention_spans
        on rpt_outcomes_by_period.association_code = int_intervention_spans.association_code
        and rpt_outcomes_by_period.intervention_code = int_intervention_spans.intervention_code
),

costed as (
    select
        windows.*,
        at_end.actual as actual_to_end,
        case
            when {{ month_of('windows.cost_from') }} = 1 and extract(day from windows.cost_from) = 1 then 0
            else before_start.actual
        end as actual_before_start,
        {{ year_of('windows.period_end') }} - {{ year_of('windows.cost_from') }} as full_years_needed,
        years_before_end.full_years_to_year - years_before_start.full_years_to_year as full_years_found,
        years_before_end.full_years_actual_to_year - years_before_start.full_years_actual_to_year as full_years_actual
    from windows
    left join actuals as at_end
        on windows.association_code = at_end.association_code
        and windows.intervention_code = at_end.intervention_code
        and at_end.period_end = windows.period_end
    left join actuals as before_start
        on windows.association_code = before_start.association_code
        and windows.intervention_code = before_start.intervention_code
        and before_start.period_end = {{ add_days('windows.cost_from', -1) }}
        and before_start.year = {{ year_of('windows.cost_from') }}
    left join years_running as years_before_end
        on windows.association_code = years_before_end.association_code
        and windows.intervention_code = years_before_end.intervention_code
        and years_before_end.year = {{ year_of('windows.period_end') }} - 1
    left join years_running as years_before_start
        on windows.association_code = years_before_start.association_code
        and windows.intervention_code = years_before_start.intervention_code
        and years_before_start.year = {{ year_of('windows.cost_from') }} - 1
),

reasoned as (
    select
        costed.*,
        case
            when actual_to_end is null then 'no_actuals_at_period_end'
            when actual_before_start is null then 'no_actuals_before_period_start'
            when coalesce(full_years_found, -1) <> full_years_needed then 'no_full_year_actuals'
        end as cost_missing_reason,
        case
            when actual_to_end is not null and actual_before_start is not null
                and coalesce(full_years_found, -1) = full_years_needed
                then actual_to_end + coalesce(full_years_actual, 0) - actual_before_start
        end as actual_cost
    from costed
),

final as (
    select
        {{ finsam_key(['period_key', 'measure_window']) }} as cost_period_key,
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
        cost_from,
        actual_cost,
        participants,
        exits_to_work_or_studies,
        case
            when cost_missing_reason is null and completeness_status in ('complete', 'late') and participants > 0
                then {{ safe_divide('actual_cost', 'participants') }}
        end as cost_per_participant,
        case
            when cost_missing_reason is not null then cost_missing_reason
            when completeness_status not in ('complete', 'late') then 'participant_data_incomplete'
            when participants = 0 then 'no_participants'
        end as cost_per_participant_null_reason,
        case
            when cost_missing_reason is null and completeness_status in ('complete', 'late') and exits_to_work_or_studies > 0
                then {{ safe_divide('actual_cost', 'exits_to_work_or_studies') }}
        end as cost_per_exit_to_work_or_studies,
        case
            when cost_missing_reason is not null then cost_missing_reason
            when completeness_status not in ('complete', 'late') then 'participant_data_incomplete'
            when exits_to_work_or_studies = 0 then 'no_exits_to_work_or_studies'
        end as cost_per_exit_to_work_or_studies_null_reason
    from reasoned
)

select * from final
