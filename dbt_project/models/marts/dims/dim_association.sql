{#- Associations: every code seen in deliveries or in the registry
    (meta.registry_associations, written by every load). -#}
with int_deliveries_current as (
    select * from {{ ref('int_deliveries_current') }}
),

registry_associations as (
    select * from {{ source('meta', 'registry_associations') }}
),

registry as (
    select
        cast(association_code as varchar) as association_code,
        cast(name as varchar) as association_name,
        cast(county_code as varchar) as county_code,
        cast(municipalities as varchar) as municipalities,
        cast(data_team_email as varchar) as data_team_email
    from registry_associations
),

delivered as (
    select
        association_code,
        min(received_at) as first_delivery_at,
        max(received_at) as last_delivery_at,
        count(distinct delivery_id) as deliveries
    from int_deliveries_current
    group by association_code
),

codes as (
    select association_code from registry
    union
    select association_code from delivered
),

final as (
    select
        codes.association_code,
        coalesce(registry.association_name, codes.association_code) as association_name,
        registry.county_code,
        registry.municipalities,
        registry.data_team_email,
        registry.association_code is not null as in_registry,
        delivered.first_delivery_at,
        delivered.last_delivery_at,
        coalesce(delivered.deliveries, 0) as deliveries
    from codes
    left join registry
        on codes.association_code = registry.association_code
    left join delivered
        on codes.association_code = delivered.association_code
)

select * from final
