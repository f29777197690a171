-- SCB's list: 290 municipalities in 21 counties; codes are four digits and
-- start with their county code.
with municipalities as (
    select * from {{ ref('municipalities') }}
),

summary as (
    select
        count(*) as municipalities,
        count(distinct lanskod) as counties,
        {{ count_where("length(kommunkod) <> 4 or substr(kommunkod, 1, 2) <> lanskod") }} as bad_codes
    from municipalities
)

select *
from summary
where municipalities <> 290 or counties <> 21 or bad_codes <> 0
