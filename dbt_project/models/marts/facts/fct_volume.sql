{#- Counts from count-only (volym) interventions, current deliveries only. -#}
with stg_volym as (
    select * from {{ ref('stg_volym') }}
),

int_deliveries_current as (
    select * from {{ ref('int_deliveries_current') }}
    where kind = 'volym' and is_current
),

final as (
    select
        stg_volym.volym_row_key as volume_key,
        {{ finsam_key(['stg_volym.association_code', 'stg_volym.intervention_code']) }} as intervention_key,
        stg_volym.association_code,
        stg_volym.intervention_code,
        stg_volym.ar as year,
        stg_volym.period_slut as period_end,
        stg_volym.kon as sex,
        stg_volym.antal as participant_count,
        stg_volym.period,
        stg_volym.delivery_id
    from stg_volym
    inner join int_deliveries_current
        on stg_volym.delivery_id = int_deliveries_current.delivery_id
        and stg_volym.association_code = int_deliveries_current.association_code
        and stg_volym.intervention_code = int_deliveries_current.intervention_code
        and stg_volym.period = int_deliveries_current.period
)

select * from final
