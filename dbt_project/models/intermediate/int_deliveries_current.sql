{#- Which delivery is current per (association, intervention, kind, period):
    the latest received one wins; earlier ones stay in raw, superseded. -#}
with stg_deltagare as (
    select * from {{ ref('stg_deltagare') }}
),

stg_insatser as (
    select * from {{ ref('stg_insatser') }}
),

stg_budget as (
    select * from {{ ref('stg_budget') }}
),

stg_volym as (
    select * from {{ ref('stg_volym') }}
),

deliveries as (
    {% for kind, relation in [
        ('deltagare', 'stg_deltagare'), ('insatser', 'stg_insatser'), ('budget', 'stg_budget'), ('volym', 'stg_volym')
    ] %}
    select
        '{{ kind }}' as kind,
        delivery_id,
        association_code,
        intervention_code,
        period,
        min(period_start) as period_start,
        max(period_end) as period_end,
        max(received_at) as received_at,
        count(*) as rows_delivered
    from {{ relation }}
    group by delivery_id, association_code, intervention_code, period
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

ranked as (
    select
        deliveries.*,
        row_number() over (
            partition by association_code, intervention_code, kind, period
            order by received_at desc, delivery_id desc
        ) as supersession_rank,
        count(*) over (
            partition by association_code, intervention_code, kind, period
        ) as deliveries_for_period
    from deliveries
),

final as (
    select
        {{ finsam_key(['kind', 'delivery_id', 'association_code', 'intervention_code', 'period']) }} as delivery_key,
        kind,
        delivery_id,
        association_code,
        intervention_code,
        period,
        period_start,
        period_end,
        received_at,
        rows_delivered,
        supersession_rank,
        deliveries_for_period,
        supersession_rank = 1 as is_current
    from ranked
)

select * from final
