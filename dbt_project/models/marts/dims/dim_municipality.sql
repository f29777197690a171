{#- Swedish municipalities (SCB) with the association that covers each one,
    when the registry says so. -#}
{%- set registry = optional_source('meta', 'registry_associations') %}
with municipalities as (
    select * from {{ ref('municipalities') }}
),

{% if registry is not none -%}
coverage as (
    select
        municipalities.kommunkod,
        min(cast(registry.association_code as varchar)) as association_code,
        count(*) as covering_associations
    from municipalities
    inner join {{ registry }} as registry
        on position((',' || municipalities.kommunkod || ',') in (',' || replace(cast(registry.municipalities as varchar), ' ', '') || ',')) > 0
    group by municipalities.kommunkod
),
{%- else -%}
coverage as (
    select
        cast(null as varchar) as kommunkod,
        cast(null as varchar) as association_code,
        cast(null as integer) as covering_associations
    where 1 = 0
),
{%- endif %}

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
