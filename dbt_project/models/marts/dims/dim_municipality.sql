{#- Swedish municipalities (SCB) with the association that covers each one,
    when the registry says so. -#}
with municipalities as (
    select * from {{ ref('municipalities') }}
),

registry_associations as (
    select * from {{ source('meta', 'registry_associations') }}
),

coverage as (
    select
        municipalities.kommunkod,
        min(cast(registry_associations.association_code as varchar)) as association_code,
        count(*) as covering_associations
    from municipalities
    inner join registry_associations
        on position(
            (',' || municipalities.kommunkod || ',')
            in (',' || replace(cast(registry_associations.municipalities as varchar), ' ', '') || ',')
        ) > 0
    group by municipalities.kommunkod
),

final as (
    select
        municipalities.kommunkod as municipality_code,
        municipalities.kommun_namn as municipality_name,
        municipalities.lanskod as county_code,
        municipalities.lan_namn as county_name,
        coverage.association_code,
        coalesce(coverage.covering_associations, 0) as covering_associations
    from municipalities
    left join coverage
        on municipalities.kommunkod = coverage.kommunkod
)

select * from final
