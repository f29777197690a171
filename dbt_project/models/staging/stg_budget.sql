with source as (
    select * from {{ source('raw', 'budget') }}
),

final as (
    select
        {{ finsam_key(['delivery_id', 'source_row']) }} as budget_row_key,
        {{ delivery_columns() }},
        cast(ar as integer) as ar,
        cast(period_slut as date) as period_slut,
        cast(radtyp as varchar) as radtyp,
        cast(kostnadsslag as varchar) as kostnadsslag,
        cast(finansiar as varchar) as finansiar,
        cast(rad_text as varchar) as rad_text,
        cast(budget as decimal(18, 2)) as budget,
        cast(utfall as decimal(18, 2)) as utfall,
        cast(differens as decimal(18, 2)) as differens,
        cast(prognos as decimal(18, 2)) as prognos
    from source
)

select * from final
