with source as (
    select * from {{ source('raw', 'insatser') }}
),

final as (
    select
        {{ finsam_key(['delivery_id', 'source_row']) }} as insatser_row_key,
        {{ delivery_columns() }},
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
