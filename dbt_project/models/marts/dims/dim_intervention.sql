{#- Interventions with the history of their attributes: one row per
    attribute version (valid_from .. valid_to), from every current insatser
    delivery in period order. Interventions that deliver data but are missing
    from the register get a placeholder row (in_register = false). -#}
with stg_insatser as (
    select * from {{ ref('stg_insatser') }}
),

int_deliveries_current as (
    select * from {{ ref('int_deliveries_current') }}
),

register_rows as (
    select
        stg_insatser.association_code,
        coalesce(stg_insatser.insats_kod, stg_insatser.intervention_code) as intervention_code,
        stg_insatser.namn,
        stg_insatser.inriktning,
        stg_insatser.malgrupp,
        stg_insatser.matmetod,
        stg_insatser.startdatum,
        stg_insatser.slutdatum,
        stg_insatser.platser,
        stg_insatser.planerat_antal,
        stg_insatser.huvudman,
        stg_insatser.agare_epost,
        stg_insatser.esf,
        stg_insatser.rapportering,
        stg_insatser.mal_deltagare_per_ar as target_participants_per_year,
        stg_insatser.mal_andel_arbete_studier_rehab as target_share_work_studies_rehab_percent,
        stg_insatser.max_manader as target_max_months_in_intervention,
        stg_insatser.period_start as delivery_period_start,
        stg_insatser.period_end as delivery_period_end,
        stg_insatser.received_at,
        stg_insatser.source_row
    from stg_insatser
    inner join int_deliveries_current
        on stg_insatser.delivery_id = int_deliveries_current.delivery_id
        and int_deliveries_current.kind = 'insatser'
        and stg_insatser.association_code = int_deliveries_current.association_code
        and stg_insatser.intervention_code = int_deliveries_current.intervention_code
        and stg_insatser.period = int_deliveries_current.period
    where int_deliveries_current.is_current
),

one_per_delivery_period as (
    select
        register_rows.*,
        {{ finsam_key(['namn', 'inriktning', 'malgrupp', 'matmetod', 'startdatum', 'slutdatum', 'platser', 'planerat_antal', 'huvudman', 'agare_epost', 'esf', 'rapportering', 'target_participants_per_year', 'target_share_work_studies_rehab_percent', 'target_max_months_in_intervention']) }} as attribute_hash,
        row_number() over (
            partition by association_code, intervention_code, delivery_period_end
            order by received_at desc, source_row desc
        ) as row_rank
    from register_rows
),

ordered as (
    select
        one_per_delivery_period.*,
        lag(attribute_hash) over (
            partition by association_code, intervention_code
            order by delivery_period_end, received_at
        ) as previous_hash
    from one_per_delivery_period
    where row_rank = 1
),

changes as (
    select *
    from ordered
    where previous_hash is null or previous_hash <> attribute_hash
),

versions as (
    select
        changes.*,
        lead(delivery_period_start) over (
            partition by association_code, intervention_code
            order by delivery_period_end, received_at
        ) as next_valid_from,
        row_number() over (
            partition by association_code, intervention_code
            order by delivery_period_end, received_at
        ) as version_number
    from changes
),

registered as (
    select
        association_code,
        intervention_code,
        version_number,
        delivery_period_start as valid_from,
        cast({{ dbt.dateadd('day', -1, 'next_valid_from') }} as date) as valid_to,
        next_valid_from is null as is_current,
        true as in_register,
        namn,
        inriktning,
        malgrupp,
        matmetod,
        startdatum,
        slutdatum,
        platser,
        planerat_antal,
        huvudman,
        agare_epost,
        esf,
        rapportering,
        target_participants_per_year,
        target_share_work_studies_rehab_percent,
        target_max_months_in_intervention
    from versions
),

unregistered as (
    select distinct
        int_deliveries_current.association_code,
        int_deliveries_current.intervention_code
    from int_deliveries_current
    left join registered
        on int_deliveries_current.association_code = registered.association_code
        and int_deliveries_current.intervention_code = registered.intervention_code
    where registered.intervention_code is null
),

placeholders as (
    select
        association_code,
        intervention_code,
        1 as version_number,
        cast(null as date) as valid_from,
        cast(null as date) as valid_to,
        true as is_current,
        false as in_register,
        cast(null as varchar) as namn,
        cast(null as varchar) as inriktning,
        cast(null as varchar) as malgrupp,
        cast(null as varchar) as matmetod,
        cast(null as date) as startdatum,
        cast(null as date) as slutdatum,
        cast(null as integer) as platser,
        cast(null as integer) as planerat_antal,
        cast(null as varchar) as huvudman,
        cast(null as varchar) as agare_epost,
        cast(null as boolean) as esf,
        cast(null as varchar) as rapportering,
        cast(null as integer) as target_participants_per_year,
        cast(null as integer) as target_share_work_studies_rehab_percent,
        cast(null as integer) as target_max_months_in_intervention
    from unregistered
),

unioned as (
    select * from registered
    union all
    select * from placeholders
),

final as (
    select
        {{ finsam_key(['association_code', 'intervention_code', 'version_number']) }} as intervention_version_key,
        {{ finsam_key(['association_code', 'intervention_code']) }} as intervention_key,
        unioned.*
    from unioned
)

select * from final
