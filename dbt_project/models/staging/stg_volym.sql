with source as (
    select * from {{ source('raw', 'volym') }}
),

final as (
    select
        {{ finsam_key(['delivery_id', 'source_row']) }} as volym_row_key,
        cast(delivery_id as varchar) as delivery_id,
        cast(association_code as varchar) as association_code,
        cast(intervention_code as varchar) as intervention_code,
        cast(period as varchar) as period,
        cast(period_start as date) as period_start,
        cast(period_end as date) as period_end,
        cast(received_at as timestamp) as received_at,
        cast(source_row as integer) as source_row,
        cast(ar as integer) as ar,
        cast(period_slut as date) as period_slut,
        cast(kon as varchar) as kon,
        cast(antal as integer) as antal
    from source
)

select * from final
