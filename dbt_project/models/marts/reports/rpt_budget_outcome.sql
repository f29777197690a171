{#- Budget, actual to date, difference, forecast and granted amount per
    intervention, year and period end, with cost per participant and per exit
    to work or studies (participants active in the year up to period_slut). -#}
with fct_budget as (
    select * from {{ ref('fct_budget') }}
),

fct_participation as (
    select * from {{ ref('fct_participation') }}
),

int_budget_rows_current as (
    select * from {{ ref('int_budget_rows_current') }}
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
        sum(case when fct_participation.is_work_or_studies
                  and fct_participation.slutdatum >= cast(cast(budget_totals.ar as varchar) || '-01-01' as date)
                  and fct_participation.slutdatum <= budget_totals.period_slut
             then 1 else 0 end) as exits_to_work_or_studies_year_to_date
    from budget_totals
    left join fct_participation
        on budget_totals.association_code = fct_participation.association_code
        and budget_totals.intervention_code = fct_participation.intervention_code
        and fct_participation.startdatum <= budget_totals.period_slut
        and (fct_participation.slutdatum is null
             or fct_participation.slutdatum >= cast(cast(budget_totals.ar as varchar) || '-01-01' as date))
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
        {{ safe_divide('budget_totals.utfall', 'participants.participants_year_to_date') }} as cost_per_participant,
        {{ safe_divide('budget_totals.utfall', 'participants.exits_to_work_or_studies_year_to_date') }} as cost_per_exit_to_work_or_studies
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
)

select * from final
