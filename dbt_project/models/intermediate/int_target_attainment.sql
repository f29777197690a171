{#- Targets set in the intervention register (contract 1.1, seed contract_targets) against the
    outcome of each year, operating year and project to date (rpt_outcomes_by_period, measure
    window in_period: the period itself). One row per intervention x period x target the
    register sets, with the counts the outcome is computed from (basis_numerator,
    basis_denominator: for the public version's suppression). The outcomes are the period
    mart's own figures, so each share keeps its one definition in macros/kpi.sql:

      PARTICIPANTS_PER_YEAR     participants (active on at least one day of the period);
                                year and operating year only, and only a period the
                                intervention ran in full
      SHARE_WORK_STUDIES_REHAB  share_of_exits_excl_dropouts_to_work_studies_rehab; the
                                register's percent / 100
      MAX_MONTHS                max_months_in_intervention of those who left in the period

    The register version is the one valid at the period's end (the first one for a period
    before the first register). met is null, with a Swedish note, when the period's data is
    not complete (completeness_status not complete or late), when a yearly target meets a
    period the intervention did not run in full, or when there is nothing to measure. -#}
with contract_targets as (
    select * from {{ ref('contract_targets') }}
),

dim_intervention as (
    select * from {{ ref('dim_intervention') }}
    where in_register
),

rpt_outcomes_by_period as (
    select * from {{ ref('rpt_outcomes_by_period') }}
    where measure_window = 'in_period'
        and period_type in ('year', 'operating_year', 'project_to_date')
),

with_register as (
    select
        rpt_outcomes_by_period.*,
        dim_intervention.start_date as intervention_start,
        dim_intervention.end_date as intervention_end,
        dim_intervention.target_participants_per_year,
        dim_intervention.target_share_work_studies_rehab_percent,
        dim_intervention.target_max_months_in_intervention,
        {{ register_version_rank('rpt_outcomes_by_period.outcome_period_key', 'rpt_outcomes_by_period.period_end') }} as version_rank
    from rpt_outcomes_by_period
    inner join dim_intervention
        on rpt_outcomes_by_period.association_code = dim_intervention.association_code
        and rpt_outcomes_by_period.intervention_code = dim_intervention.intervention_code
),

register_at_period_end as (
    select * from with_register
    where version_rank = 1
),

outcomes as (
    select
        register_at_period_end.*,
        'PARTICIPANTS_PER_YEAR' as target_code,
        cast(target_participants_per_year as decimal(18, 4)) as target_value,
        cast(participants as decimal(18, 4)) as actual_value,
        participants as basis_numerator,
        participants as basis_denominator,
        case
            when intervention_start > period_start
                then 'Insatsen startade ' || cast(intervention_start as varchar) || ', efter periodens början; målet gäller ett helt år.'
            when intervention_end < period_end
                then 'Insatsen slutade ' || cast(intervention_end as varchar) || ', före periodens slut; målet gäller ett helt år.'
        end as not_measurable_note
    from register_at_period_end
    where target_participants_per_year is not null
        and period_type in ('year', 'operating_year')

    union all

    select
        register_at_period_end.*,
        'SHARE_WORK_STUDIES_REHAB' as target_code,
        cast(target_share_work_studies_rehab_percent / 100.0 as decimal(18, 4)) as target_value,
        cast(share_of_exits_excl_dropouts_to_work_studies_rehab as decimal(18, 4)) as actual_value,
        exits_to_work_studies_rehab as basis_numerator,
        exits_excl_dropouts as basis_denominator,
        case
            when exits_excl_dropouts = 0 then 'Inga avslut (utom tidiga avhopp) under perioden.'
        end as not_measurable_note
    from register_at_period_end
    where target_share_work_studies_rehab_percent is not null

    union all

    select
        register_at_period_end.*,
        'MAX_MONTHS' as target_code,
        cast(target_max_months_in_intervention as decimal(18, 4)) as target_value,
        cast(max_months_in_intervention as decimal(18, 4)) as actual_value,
        exits as basis_numerator,
        exits as basis_denominator,
        case
            when exits = 0 then 'Inga avslut under perioden.'
        end as not_measurable_note
    from register_at_period_end
    where target_max_months_in_intervention is not null
),

final as (
    select
        {{ finsam_key(['outcomes.outcome_period_key', 'outcomes.target_code']) }} as target_attainment_key,
        outcomes.association_code,
        outcomes.intervention_code,
        outcomes.period_type,
        outcomes.period_label,
        outcomes.period_start,
        outcomes.period_end,
        outcomes.completeness_status,
        outcomes.target_code,
        contract_targets.label_sv as target_label,
        contract_targets.comparison,
        outcomes.target_value,
        outcomes.actual_value,
        cast(outcomes.basis_numerator as bigint) as basis_numerator,
        cast(outcomes.basis_denominator as bigint) as basis_denominator,
        case
            when outcomes.completeness_status = 'quarantined'
                then 'Periodens deltagardata är ofullständiga: en leverans ligger i karantän. Målet bedöms inte.'
            when outcomes.completeness_status not in ('complete', 'late')
                then 'Periodens deltagardata är ofullständiga: en leverans saknas. Målet bedöms inte.'
            else outcomes.not_measurable_note
        end as note
    from outcomes
    inner join contract_targets
        on outcomes.target_code = contract_targets.target_code
)

select
    final.*,
    case
        when note is not null or actual_value is null then null
        when comparison = 'at_most' then actual_value <= target_value
        else actual_value >= target_value
    end as met
from final
