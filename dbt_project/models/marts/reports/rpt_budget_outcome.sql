{#- Budget, actual to date, difference, forecast and granted amount per
    intervention, year and period end, with cost per participant and per exit
    to work or studies (participants active during the year up to period_slut).
    The ratios are null, with the reason in a column, when the participant data
    does not reach period_slut (e.g. the intervention's latest participant
    delivery was refused: a full year's cost over part of a year's participants). -#}
{%- set ratio_null_reason -%}
    (case
        when budget_totals.utfall is null then 'no_actuals'
        when int_intervention_spans.intervention_code is null then 'no_participant_data'
        when int_intervention_spans.data_through is null or int_intervention_spans.data_through < budget_totals.period_slut
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
        ar,
        period_slut,
        sum(budget) as beviljat_total
    from int_budget_rows_current
    where radtyp = 'BEVILJAT'
    group by association_code, intervention_code, ar, period_slut
),

budget_totals as (
    select
        association_code,
        intervention_code,
        ar,
        period_slut,
        sum(budget) as budget,
        sum(utfall) as utfall,
        sum(differens_reported) as differens_reported,
        sum(differens_computed) as differens_computed,
        {{ count_where("difference_mismatch") }} as mismatched_lines,
        sum(prognos) as prognos
    from fct_budget
    group by association_code, intervention_code, ar, period_slut
),

participants as (
    select
        budget_totals.association_code,
        budget_totals.intervention_code,
        budget_totals.ar,
        budget_totals.period_slut,
        count(fct_participation.episode_key) as participants_year_to_date,
        {{ count_where("fct_participation.is_work_or_studies and " ~ kpi_is_exited_in('fct_participation.slutdatum', 'make_date(budget_totals.ar, 1, 1)', 'budget_totals.period_slut')) }} as exits_to_work_or_studies_year_to_date
    from budget_totals
    left join fct_participation
        on budget_totals.association_code = fct_participation.association_code
        and budget_totals.intervention_code = fct_participation.intervention_code
        and {{ kpi_is_active_during('fct_participation.startdatum', 'fct_participation.slutdatum', 'make_date(budget_totals.ar, 1, 1)', 'budget_totals.period_slut') }}
    group by budget_totals.association_code, budget_totals.intervention_code, budget_totals.ar, budget_totals.period_slut
),

final as (
    select
        {{ finsam_key(['budget_totals.association_code', 'budget_totals.intervention_code', 'budget_totals.ar', 'budget_totals.period_slut']) }} as budget_outcome_key,
        {{ finsam_key(['budget_totals.association_code', 'budget_totals.intervention_code']) }} as intervention_key,
        budget_totals.association_code,
        budget_totals.intervention_code,
        budget_totals.ar,
        budget_totals.period_slut,
        budget_totals.budget,
        budget_totals.utfall,
        budget_totals.differens_reported,
        budget_totals.differens_computed,
        budget_totals.mismatched_lines,
        budget_totals.prognos,
        granted_totals.beviljat_total as beviljat,
        budget_totals.budget - granted_totals.beviljat_total as budget_minus_beviljat,
        coalesce(budget_totals.budget <> granted_totals.beviljat_total, false) as budget_differs_from_beviljat,
        participants.participants_year_to_date,
        participants.exits_to_work_or_studies_year_to_date,
        int_intervention_spans.data_through as participant_data_through,
        case
            when {{ ratio_null_reason }} is null
                then {{ safe_divide('budget_totals.utfall', 'participants.participants_year_to_date') }}
        end as cost_per_participant,
        {{ ratio_null_reason }} as cost_per_participant_null_reason,
        case
            when {{ ratio_null_reason }} is null
                then {{ safe_divide('budget_totals.utfall', 'participants.exits_to_work_or_studies_year_to_date') }}
        end as cost_per_exit_to_work_or_studies,
        coalesce({{ ratio_null_reason }}, case when participants.exits_to_work_or_studies_year_to_date = 0 then 'no_exits_to_work_or_studies' end) as cost_per_exit_to_work_or_studies_null_reason
    from budget_totals
    left join granted_totals
        on budget_totals.association_code = granted_totals.association_code
        and budget_totals.intervention_code = granted_totals.intervention_code
        and budget_totals.ar = granted_totals.ar
        and budget_totals.period_slut = granted_totals.period_slut
    left join participants
        on budget_totals.association_code = participants.association_code
        and budget_totals.intervention_code = participants.intervention_code
        and budget_totals.ar = participants.ar
        and budget_totals.period_slut = participants.period_slut
    left join int_intervention_spans
        on budget_totals.association_code = int_intervention_spans.association_code
        and budget_totals.intervention_code = int_intervention_spans.intervention_code
)

select * from final
