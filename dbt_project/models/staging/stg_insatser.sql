with source as (
    select * from {{ source('raw', 'insatser') }}
),

final as (
    select
        {{ finsam_key(['delivery_id', 'source_row']) }} as insatser_row_key,
        cast(delivery_id as varchar) as delivery_id,
        cast(association_code as varchar) as association_code,
        cast(intervention_code as varchar) as intervention_code,
        cast(period as varchar) as period,
        cast(period_start as date) as period_start,
        cast(period_end as date) as period_end,
        cast(received_at as timestamp) as received_at,
        cast(source_row as integer) as source_row,
        cast(insats_kod as varchar) as insats_kod,
        cast(namn as varchar) as namn,
        cast(inriktning as varchar) as inriktning,
        cast(malgrupp as varchar) as malgrupp,
        cast(matmetod as varchar) as matmetod,
        cast(startdatum as date) as startdatum,
        cast(slutdatum as date) as slutdatum,
        cast(platser as integer) as platser,
        cast(planerat_antal as integer) as planerat_antal,
        cast(huvudman as varchar) as huvudman,
        cast(agare_epost as varchar) as agare_epost,
        cast(esf as boolean) as esf,
        coalesce(cast(rapportering as varchar), 'T') as rapportering
    from source
)

select * from final
