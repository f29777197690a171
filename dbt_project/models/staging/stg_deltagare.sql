with source as (
    select * from {{ source('raw', 'deltagare') }}
),

final as (
    select
        {{ finsam_key(['delivery_id', 'source_row']) }} as deltagare_row_key,
        {{ delivery_columns() }},
        cast(person_key as varchar) as person_key,
        cast(person_key_source as varchar) as person_key_source,
        coalesce(cast(is_anonymous as boolean), person_key is null) as is_anonymous,
        cast(kon as varchar) as kon,
        cast(fodelsear as integer) as fodelsear,
        cast(kommun as varchar) as kommun,
        cast(startdatum as date) as startdatum,
        cast(slutdatum as date) as slutdatum,
        cast(remittent as varchar) as remittent,
        cast(forsorjning_fore as varchar) as forsorjning_fore,
        cast(forsorjning_efter as varchar) as forsorjning_efter,
        cast(sysselsattning_fore as varchar) as sysselsattning_fore,
        cast(sysselsattning_efter as varchar) as sysselsattning_efter,
        cast(omfattning_efter as integer) as omfattning_efter,
        cast(utbildning as varchar) as utbildning,
        cast(tid_offentlig_forsorjning as varchar) as tid_offentlig_forsorjning,
        cast(avslutsanledning as varchar) as avslutsanledning
    from source
)

select * from final
