{#- Interventions with the history of their attributes: one row per
    attribute version (valid_from .. valid_to), from every current insatser
    delivery in period order. Interventions that deliver data but are missing
    from the register get a placeholder row (in_register = false).
    The current register: an association's register delivery chosen by the
    rule the landing checks use (ingestion/core/rawzone.py current_registers,
    written to meta.current_registers by every load); in_current_register marks
    the interventions it lists, and their is_current row holds its attributes. -#}
with stg_insatser as (
    select * from {{ ref('stg_insatser') }}
),

int_deliveries_current as (
    select * from {{ ref('int_deliveries_current') }}
),

current_registers as (
    select * from {{ source('meta', 'current_registers') }}
),

register_rows as (
    select
        stg_insatser.association_code,
        coalesce(stg_insatser.insats_kod, stg_insatser.intervention_code) as intervention_code,
        stg_insatser.namn as intervention_name,
        stg_insatser.inriktning as focus,
        stg_insatser.malgrupp as target_group,
        stg_insatser.matmetod as measurement_method,
        stg_insatser.startdatum as start_date,
        stg_insatser.slutdatum as end_date,
        stg_insatser.platser as places,
        stg_insatser.planerat_antal as planned_participants,
        stg_insatser.huvudman as lead_organisation,
        stg_insatser.agare_epost as owner_email,
        stg_insatser.esf as is_esf_funded,
        stg_insatser.rapportering as reporting,
        stg_insatser.mal_deltagare_per_ar as target_participants_per_year,
        stg_insatser.mal_andel_arbete_studier_rehab as target_share_work_studies_rehab_percent,
        stg_insatser.max_manader as target_max_months_in_intervention,
        stg_insatser.period_start as delivery_period_start,
        stg_insatser.period_end as delivery_period_end,
        stg_insatser.delivery_id,
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

current_register as (
    select distinct
        register_rows.association_code,
        register_rows.intervention_code
    from register_rows
    inner join current_registers
        on register_rows.association_code = current_registers.association_code
        and register_rows.delivery_id = current_registers.delivery_id
),

one_per_delivery_period as (
    select
        register_rows.*,
        {{ finsam_key([
            'intervention_name', 'focus', 'target_group', 'measurement_method', 'start_date', 'end_date', 'places',
            'planned_participants', 'lead_organisation', 'owner_email', 'is_esf_funded', 'reporting',
            'target_participants_per_year', 'target_share_work_studies_rehab_percent', 'target_max_months_in_intervention'
        ]) }} as attribute_hash,
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

listed_versions as (
    select
        versions.*,
        current_register.intervention_code is not null as in_current_register
    from versions
    left join current_register
        on versions.association_code = current_register.association_code
        and versions.intervention_code = current_register.intervention_code
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
        intervention_name,
        focus,
        target_group,
        measurement_method,
        start_date,
        end_date,
        places,
        planned_participants,
        lead_organisation,
        owner_email,
        is_esf_funded,
        reporting,
        target_participants_per_year,
        target_share_work_studies_rehab_percent,
        target_max_months_in_intervention,
        in_current_register
    from listed_versions
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
        cast(null as varchar) as intervention_name,
        cast(null as varchar) as focus,
        cast(null as varchar) as target_group,
        cast(null as varchar) as measurement_method,
        cast(null as date) as start_date,
        cast(null as date) as end_date,
        cast(null as integer) as places,
        cast(null as integer) as planned_participants,
        cast(null as varchar) as lead_organisation,
        cast(null as varchar) as owner_email,
        cast(null as boolean) as is_esf_funded,
        cast(null as varchar) as reporting,
        cast(null as integer) as target_participants_per_year,
        cast(null as integer) as target_share_work_studies_rehab_percent,
        cast(null as integer) as target_max_months_in_intervention,
        false as in_current_register
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
