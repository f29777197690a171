{#- Budget rows (every radtyp) of the current budget deliveries, with the period end of the
    delivery they came from. The one place the facts and reports select current budget rows. -#}
with stg_budget as (
    select * from {{ ref('stg_budget') }}
),

int_deliveries_current as (
    select * from {{ ref('int_deliveries_current') }}
    where kind = 'budget' and is_current
),

final as (
    select
        stg_budget.*,
        int_deliveries_current.period_end as delivery_period_end
    from stg_budget
    inner join int_deliveries_current
        on stg_budget.delivery_id = int_deliveries_current.delivery_id
        and stg_budget.association_code = int_deliveries_current.association_code
        and stg_budget.intervention_code = int_deliveries_current.intervention_code
        and stg_budget.period = int_deliveries_current.period
)

select * from final
