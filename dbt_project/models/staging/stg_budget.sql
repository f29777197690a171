with source as (
    select * from {{ source('raw', 'budget') }}
),

final as (
    select
        {{ finsam_key(['delivery_id', 'source_row']) }} as budget_row_key,
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
