{{ config(**finsam_incremental()) }}
{#- Intervention x period type x period end: the standard follow-up figures
    (enrolled, active, exits by category, share to work/studies/rehab). -#}
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
        {{ outcome_aggregates() }}
    from int_participation_status_by_period
    group by association_code, intervention_code, period_type, period_label, period_start, period_end
),

final as (
    select
        {{ finsam_key(['association_code', 'intervention_code', 'period_type', 'period_end']) }} as outcome_key,
        {{ finsam_key(['association_code', 'intervention_code']) }} as intervention_key,
        aggregated.*,
        {{ outcome_shares() }}
    from aggregated
)

select * from final
