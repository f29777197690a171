{{ config(**finsam_incremental()) }}
{#- One row per participant episode; FELREG episodes excluded (see
    audit_excluded_episodes). Columns in English from here on; the export
    contract's Swedish names (kon, startdatum, avslutsanledning, ...) stay in
    staging and int_participation_episodes. -#}
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
        kon as sex,
        fodelsear as birth_year,
        age_at_start,
        age_band,
        kommun as municipality_code,
        remittent as referrer,
        startdatum as start_date,
        slutdatum as end_date,
        days_in_intervention,
        months_in_intervention,
        forsorjning_fore as support_before,
        forsorjning_efter as support_after,
        sysselsattning_fore as employment_before,
        sysselsattning_efter_derived as employment_after,
        omfattning_efter as employment_extent_after,
        utbildning as education,
        tid_offentlig_forsorjning as time_on_public_support,
        avslutsanledning as exit_reason,
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
