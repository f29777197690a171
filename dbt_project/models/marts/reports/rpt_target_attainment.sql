{#- Target attainment: intervention x period (year, operating year, project to date) x target
    set in the intervention register, the target, the outcome and whether it was met (null,
    with the reason in note, when it cannot be judged). Built in int_target_attainment. -#}
with int_target_attainment as (
    select * from {{ ref('int_target_attainment') }}
),

final as (
    select
        association_code,
        intervention_code,
        period_type,
        period_label,
        period_start,
        period_end,
        target_code,
        target_label,
        target_value,
        actual_value,
        met,
        note
    from int_target_attainment
)

select * from final
