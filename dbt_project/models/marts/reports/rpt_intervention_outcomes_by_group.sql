{{ config(**finsam_incremental()) }}
{#- The same figures as rpt_intervention_outcomes, by kön and age band. -#}
with int_participation_status_by_period as (
    select * from {{ ref('int_participation_status_by_period') }}
    where {{ association_scope() }}
),

aggregated as (
    select
        association_code,
        intervention_code,
        period_type,
        period_label,
        period_start,
        period_end,
        coalesce(kon, 'X') as kon,
        age_band,
        {{ outcome_aggregates() }}
    from int_participation_status_by_period
    group by association_code, intervention_code, period_type, period_label, period_start, period_end, coalesce(kon, 'X'), age_band
),

final as (
    select
        {{ finsam_key(['association_code', 'intervention_code', 'period_type', 'period_end', 'kon', 'age_band']) }} as outcome_group_key,
        {{ finsam_key(['association_code', 'intervention_code']) }} as intervention_key,
        aggregated.*,
        {{ outcome_shares() }}
    from aggregated
)

select * from final
