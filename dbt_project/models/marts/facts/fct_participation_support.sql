{{ config(**finsam_incremental()) }}
{#- Episode x before/after x support code (FELREG episodes excluded). -#}
with int_participation_support as (
    select * from {{ ref('int_participation_support') }}
    {%- if is_incremental() %}
    where
        episode_key in (
            select fct_participation.episode_key from {{ ref('fct_participation') }} as fct_participation
            where {{ association_scope() }}
        )
    {%- endif %}
),

fct_participation as (
    select * from {{ ref('fct_participation') }}
    where {{ association_scope() }}
),

final as (
    select
        int_participation_support.episode_support_key,
        int_participation_support.episode_key,
        fct_participation.association_code,
        fct_participation.intervention_code,
        int_participation_support.phase,
        int_participation_support.support_code,
        int_participation_support.support_label_sv,
        int_participation_support.support_combination,
        int_participation_support.codes_in_phase
    from int_participation_support
    inner join fct_participation
        on int_participation_support.episode_key = fct_participation.episode_key
)

select * from final
