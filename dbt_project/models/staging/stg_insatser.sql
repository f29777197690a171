{#- The target columns came with contract version 1.1; a warehouse table made before them
    (or by hand) reads as null targets. -#}
{%- set target_columns = ['mal_deltagare_per_ar', 'mal_andel_arbete_studier_rehab', 'max_manader'] -%}
{%- set present = [] -%}
{%- if execute -%}
    {%- for column in adapter.get_columns_in_relation(source('raw', 'insatser')) -%}
        {%- do present.append(column.name | lower) -%}
    {%- endfor -%}
{%- endif %}
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
        -- the cadence as delivered, folded (lower case, accents and punctuation gone) to T, H, M, A;
        -- empty or unknown is tertial (T)
        case trim(regexp_replace(
            translate(lower(coalesce(cast(rapportering as varchar), '')), 'åäàáâãéèêëíìîïóòôõöúùûüýç', 'aaaaaaeeeeiiiiooooouuuuyc'),
            '[^a-z0-9]+', ' ', 'g'
        ))
            when 'h' then 'H'
            when 'halvar' then 'H'
            when 'm' then 'M'
            when 'manad' then 'M'
            when 'a' then 'A'
            when 'ar' then 'A'
            when 'helar' then 'A'
            else 'T'
        end as rapportering,
        {%- for column in target_columns %}
        cast({{ column if column in present else 'null' }} as integer) as {{ column }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from source
)

select * from final
