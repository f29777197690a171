{{ config(**finsam_incremental()) }}
{#- Intervention x period type x period end: the standard follow-up figures
    (enrolled, active, exits by category, share to work/studies/rehab), for the calendar
    period types, from the intervention's first episode to the end of its participant data.
    Exits by category, the share and the time in the intervention count to date (from the
    start); new_in_period and exits_in_period count the period itself. Reshaped from
    rpt_outcomes_by_period (which has both windows for every period type, with the
    period's completeness) and kept for its readers. -#}
with rpt_outcomes_by_period as (
    select * from {{ ref('rpt_outcomes_by_period') }}
    where period_type in ('month', 'tertial', 'half_year', 'year') and {{ association_scope() }}
),

int_intervention_spans as (
    select * from {{ ref('int_intervention_spans') }}
    where {{ association_scope() }}
),

to_date as (
    select * from rpt_outcomes_by_period
    where measure_window = 'to_date'
),

in_period as (
    select * from rpt_outcomes_by_period
    where measure_window = 'in_period'
),

final as (
    select
        {{ finsam_key([
            'to_date.association_code', 'to_date.intervention_code', 'to_date.period_type', 'to_date.period_end'
        ]) }} as outcome_key,
        to_date.intervention_key,
        to_date.association_code,
        to_date.intervention_code,
        to_date.period_type,
        to_date.period_label,
        to_date.period_start,
        to_date.period_end,
        to_date.participants as enrolled_to_date,
        to_date.active_at_period_end,
        in_period.entrants as new_in_period,
        to_date.exits as exits_to_date,
        in_period.exits as exits_in_period,
        to_date.early_dropouts,
        to_date.exits_excl_dropouts,
        to_date.exits_to_work,
        to_date.exits_to_subsidised_work as to_subsidised_work,
        to_date.exits_to_studies as to_studies,
        to_date.exits_to_rehab as to_rehab,
        to_date.exits_to_sje_ake as to_sje_ake,
        to_date.exits_to_other as to_other,
        to_date.exits_to_work_studies_rehab,
        to_date.avg_months_in_intervention,
        to_date.median_months_in_intervention,
        to_date.share_of_exits_excl_dropouts_to_work_studies_rehab as share_work_studies_rehab
    from to_date
    inner join in_period
        on to_date.period_key = in_period.period_key
    inner join int_intervention_spans
        on to_date.association_code = int_intervention_spans.association_code
        and to_date.intervention_code = int_intervention_spans.intervention_code
    where to_date.period_end >= int_intervention_spans.first_episode_start
        and to_date.period_end <= int_intervention_spans.data_through
)

select * from final
