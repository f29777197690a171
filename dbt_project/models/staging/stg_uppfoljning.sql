{#- Follow-up after exit rows as delivered (every delivery, superseded ones
    included), typed. raw.uppfoljning (contract 1.2) is created by ensure_schema
    like every raw table, so a warehouse that never had a follow-up reads it empty. -#}
with source as (
    select * from {{ source('raw', 'uppfoljning') }}
),

final as (
    select
        {{ finsam_key(['delivery_id', 'source_row']) }} as uppfoljning_row_key,
        {{ delivery_columns() }},
        cast(person_key as varchar) as person_key,
        cast(person_key_source as varchar) as person_key_source,
        cast(startdatum as date) as startdatum,
        cast(uppfoljningsdatum as date) as uppfoljningsdatum,
        cast(uppfoljning_efter as integer) as uppfoljning_efter,
        cast(sysselsattning as varchar) as sysselsattning,
        cast(forsorjning as varchar) as forsorjning
    from source
)

select * from final
