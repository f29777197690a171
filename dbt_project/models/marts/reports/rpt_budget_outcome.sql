{#- Budget, actual to date, difference, forecast and granted amount per
    intervention, year and period end, with cost per participant and per exit
    to work or studies (participants active during the year up to period_end).
    The ratios are null, with the reason in a column, when the participant data
    does not reach period_end (e.g. the intervention's latest participant
    delivery was refused: a full year's cost over part of a year's participants). -#}
{%- set ratio_null_reason -%}
    (case
        when budget_totals.actual is null then 'no_actuals'
        when int_intervention_spans.intervention_code is null then 'no_participant_data'
        when int_intervention_spans.data_through is null or int_intervention_spans.data_through < budget_totals.period_end
            then 'participant_data_incomplete'
        when participants.participants_year_to_date = 0 then 'no_participants'
    end)
{%- endset %}
with fct_budget as (
    select * from {{ ref('fct_budget') }}
),

fct_participation as (
    select * from {{ ref('fct_participation') }}
),

int_budget_rows_current as (
    select * from {{ ref('int_budget_rows_current') }}
),

int_intervention_spans as (
    select * from {{ ref('int_intervention_spans') }}
),

granted_totals as (
    select
        association_code,
        intervention_code,
        ar as year,
        period_slut as period_end,
        sum(budget) as granted_total
    from int_budget_rows_current
    where radtyp = 'BEVILJAT'
    group by association_code, intervention_code, ar, period_slut
),

budget_totals as (
    select
        association_code,
        intervention_code,
        year,
        period_end,
        sum(budget) as budget,
        sum(actual) as actual,
        sum(difference_reported) as difference_reported,
        sum(difference_computed) as difference_computed,
        {{ count_where("difference_mismatch") }} as mismatched_lines,
        sum(forecast) as forecast
    from fct_budget
    group by association_code, intervention_code, year, period_end
),

participants as (
    select
        budget_totals.association_code,
        budget_totals.intervention_code,
        budget_totals.year,
        budget_totals.period_end,
        count(fct_participation.episode_key) as participants_year_to_date,
        {{ count_where(
            "fct_participation.is_work_or_studies and "
            ~ kpi_is_exited_in('fct_participation.end_date', 'make_date(budget_totals.year, 1, 1)', 'budget_totals.period_end')
        ) }} as exits_to_work_or_studies_year_to_date
    from budget_totals
    left join fct_participation
        on budget_totals.association_code = fct_participation.association_code
        and budget_totals.intervention_code = fct_participation.intervention_code
        and {{ kpi_is_active_during(
            'fct_participation.start_date', 'fct_participation.end_date', 'make_date(budget_totals.year, 1, 1)', 'budget_totals.period_end'
        ) }}
    group by budget_totals.association_code, budget_totals.intervention_code, budget_totals.year, budget_totals.period_end
),

final as (
    select
        {{ finsam_key([
            'budget_totals.association_code', 'budget_totals.intervention_code', 'budget_totals.year', 'budget_totals.period_end'
        ]) }} as budget_outcome_key,
        {{ finsam_key(['budget_totals.association_code', 'budget_totals.intervention_code']) }} as intervention_key,
        budget_totals.association_code,
        budget_totals.intervention_code,
        budget_totals.year,
        budget_totals.period_end,
        budget_totals.budget,
        budget_totals.actual,
        budget_totals.difference_reported,
        budget_totals.difference_computed,
        budget_totals.mismatched_lines,
        budget_totals.forecast,
        granted_totals.granted_total as granted,
        budget_totals.budget - granted_totals.granted_total as budget_minus_granted,
        coalesce(budget_totals.budget <> granted_totals.granted_total, false) as budget_differs_from_granted,
        participants.participants_year_to_date,
        participants.exits_to_work_or_studies_year_to_date,
        int_intervention_spans.data_through as participant_data_through,
        case
            when {{ ratio_null_reason }} is null
                then {{ safe_divide('budget_totals.actual', 'participants.participants_year_to_date') }}
        end as cost_per_participant,
        {{ ratio_null_reason }} as cost_per_participant_null_reason,
        case
            when {{ ratio_null_reason }} is null
                then {{ safe_divide('budget_totals.actual', 'participants.exits_to_work_or_studies_year_to_date') }}
        end as cost_per_exit_to_work_or_studies,
        coalesce(
            {{ ratio_null_reason }},
            case when participants.exits_to_work_or_studies_year_to_date = 0 then 'no_exits_to_work_or_studies' end
        ) as cost_per_exit_to_work_or_studies_null_reason
    from budget_totals
    left join granted_totals
        on budget_totals.association_code = granted_totals.association_code
        and budget_totals.intervention_code = granted_totals.intervention_code
        and budget_totals.year = granted_totals.year
        and budget_totals.period_end = granted_totals.period_end
    left join participants
        on budget_totals.association_code = participants.association_code
        and budget_totals.intervention_code = participants.intervention_code
        and budget_totals.year = participants.year
        and budget_totals.period_end = participants.period_end
    left join int_intervention_spans
        on budget_totals.association_code = int_intervention_spans.association_code
        and budget_totals.intervention_code = int_intervention_spans.intervention_code
)

select * from final
