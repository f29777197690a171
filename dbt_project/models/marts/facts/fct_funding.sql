{#- Funding per association x year x funder from the latest current budget
    delivery of the year, with the share and the share the law expects
    (state 1/2, region 1/4, municipalities together 1/4). Amounts are taken
    as absolute values (some owners write funding as negative revenue). -#}
with int_budget_rows_current as (
    select * from {{ ref('int_budget_rows_current') }}
),

contract_funding_rule as (
    select * from {{ ref('contract_funding_rule') }}
),

funding_rows as (
    select * from int_budget_rows_current
    where radtyp = 'FINANSIERING'
),

latest_delivery_per_year as (
    select
        association_code,
        intervention_code,
        ar,
        max(delivery_period_end) as delivery_period_end
    from funding_rows
    group by association_code, intervention_code, ar
),

latest_rows as (
    select funding_rows.*
    from funding_rows
    inner join latest_delivery_per_year
        on funding_rows.association_code = latest_delivery_per_year.association_code
        and funding_rows.intervention_code = latest_delivery_per_year.intervention_code
        and funding_rows.ar = latest_delivery_per_year.ar
        and funding_rows.delivery_period_end = latest_delivery_per_year.delivery_period_end
),

per_funder as (
    select
        association_code,
        intervention_code,
        ar,
        coalesce(finansiar, 'OVRIG') as finansiar,
        {{ kpi_funder_group('finansiar') }} as funder_group,
        max(period_slut) as period_slut,
        sum(abs(budget)) as amount
    from latest_rows
    group by association_code, intervention_code, ar, coalesce(finansiar, 'OVRIG'), {{ kpi_funder_group('finansiar') }}
),

totals as (
    select
        per_funder.*,
        sum(amount) over (partition by association_code, intervention_code, ar) as total_amount,
        sum(amount) over (partition by association_code, intervention_code, ar, funder_group) as funder_group_amount
    from per_funder
),

final as (
    select
        {{ finsam_key(['totals.association_code', 'totals.intervention_code', 'totals.ar', 'totals.finansiar']) }} as funding_key,
        totals.association_code,
        totals.intervention_code,
        totals.ar,
        totals.period_slut,
        totals.finansiar,
        totals.funder_group,
        totals.amount,
        totals.total_amount,
        {{ safe_divide('totals.amount', 'totals.total_amount') }} as share,
        totals.funder_group_amount,
        {{ safe_divide('totals.funder_group_amount', 'totals.total_amount') }} as funder_group_share,
        contract_funding_rule.expected_share as expected_group_share,
        contract_funding_rule.tolerance,
        totals.intervention_code = 'ALL' as applies_funding_rule,
        coalesce(
            totals.intervention_code = 'ALL'
            and abs({{ safe_divide('totals.funder_group_amount', 'totals.total_amount') }} - contract_funding_rule.expected_share) > contract_funding_rule.tolerance,
            false
        ) as breaks_funding_rule
    from totals
    left join contract_funding_rule
        on totals.funder_group = contract_funding_rule.funder_group
)

select * from final
