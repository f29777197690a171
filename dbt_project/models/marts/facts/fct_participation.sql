{{ config(**finsam_incremental()) }}
{#- One row per participant episode; FELREG episodes excluded (see
    audit_excluded_episodes). -#}
with int_participation_episodes as (
    select * from {{ ref('int_participation_episodes') }}
),

final as (
    select
        episode_key,
        {{ finsam_key(['association_code', 'intervention_code']) }} as intervention_key,
        association_code,
        intervention_code,
        person_key,
        is_anonymous,
        kon,
        fodelsear,
        age_at_start,
        age_band,
        kommun,
        remittent,
        startdatum,
        slutdatum,
        days_in_intervention,
        months_in_intervention,
        forsorjning_fore,
        forsorjning_efter,
        sysselsattning_fore,
        sysselsattning_efter_derived as sysselsattning_efter,
        omfattning_efter,
        utbildning,
        tid_offentlig_forsorjning,
        avslutsanledning,
        exit_category,
        is_early_dropout,
        is_work_studies_rehab,
        is_work_or_studies,
        delivered_period,
        delivery_id
    from int_participation_episodes
    where not is_felreg and {{ association_scope() }}
)

select * from final
