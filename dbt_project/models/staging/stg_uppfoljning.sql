{#- Follow-up after exit rows as delivered (every delivery, superseded ones
    included), typed. raw.uppfoljning exists from contract 1.2 on; before the
    first load of a warehouse that never had one, this view is empty. -#}
{%- set uppfoljning = optional_source('raw', 'uppfoljning') %}
with source as (
    {%- if uppfoljning is none %}
    select
        cast(null as varchar) as delivery_id,
        cast(null as varchar) as association_code,
        cast(null as varchar) as intervention_code,
        cast(null as varchar) as period,
        cast(null as date) as period_start,
        cast(null as date) as period_end,
        cast(null as timestamp) as received_at,
        cast(null as integer) as source_row,
        cast(null as varchar) as person_key,
        cast(null as varchar) as person_key_source,
        cast(null as date) as startdatum,
        cast(null as date) as uppfoljningsdatum,
        cast(null as integer) as uppfoljning_efter,
        cast(null as varchar) as sysselsattning,
        cast(null as varchar) as forsorjning
    where 1 = 0
    {%- else %}
    select * from {{ uppfoljning }}
    {%- endif %}
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
