with source as (
    select * from {{ source('raw', 'volym') }}
),

final as (
    select
        {{ finsam_key(['delivery_id', 'source_row']) }} as volym_row_key,
        {{ delivery_columns() }},
        cast(ar as integer) as ar,
        cast(period_slut as date) as period_slut,
        cast(kon as varchar) as kon,
        cast(antal as integer) as antal
    from source
)

select * from final
