{#- Episodes excluded from every count (FELREG), kept for audit. -#}
with int_participation_episodes as (
    select * from {{ ref('int_participation_episodes') }}
),

final as (
    select
        episode_key,
        association_code,
        intervention_code,
        is_anonymous,
        startdatum as start_date,
        slutdatum as end_date,
        avslutsanledning as exit_reason,
        'FELREG' as exclusion_reason,
        delivered_period,
        delivery_id,
        source_row
    from int_participation_episodes
    where is_felreg
)

select * from final
