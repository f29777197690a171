{#- Calendar 2000-01-01 .. 2035-12-31, generated in SQL (not a seed). -#}
with int_date_spine as (
    select * from {{ ref('int_date_spine') }}
),

final as (
    select * from int_date_spine
)

select * from final
