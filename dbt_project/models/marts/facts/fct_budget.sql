{#- Cost lines from current budget deliveries, with the owner's reported
    difference next to the computed one (budget - actual) and the board's
    granted amount when a BEVILJAT line exists for the same cost type. Columns
    in English; the delivery's Swedish names (ar, utfall, prognos, ...) stay
    in staging. -#}
with current_rows as (
    select * from {{ ref('int_budget_rows_current') }}
),

cost_lines as (
    select * from current_rows
    where radtyp = 'KOSTNAD'
),

contract_budget_rule as (
    select * from {{ ref('contract_budget_rule') }}
),

granted as (
    select
        delivery_id,
        ar,
        kostnadsslag,
        sum(budget) as granted
    from current_rows
    where radtyp = 'BEVILJAT' and kostnadsslag is not null
    group by delivery_id, ar, kostnadsslag
),

final as (
    select
        cost_lines.budget_row_key as budget_line_key,
        {{ finsam_key(['cost_lines.association_code', 'cost_lines.intervention_code']) }} as intervention_key,
        cost_lines.association_code,
        cost_lines.intervention_code,
        cost_lines.ar as year,
        cost_lines.period_slut as period_end,
        cost_lines.kostnadsslag as cost_type,
        cost_lines.rad_text as line_text,
        cost_lines.budget,
        cost_lines.utfall as actual,
        cost_lines.differens as difference_reported,
        cost_lines.budget - coalesce(cost_lines.utfall, 0) as difference_computed,
        {#- The budget rule, decided once in contract.yml `budget_rule` (read here from its seed and by
            the landing check): the reported difference must be budget − actuals within the tolerance;
            a line without actuals has no difference to check yet. -#}
        coalesce(
            cost_lines.utfall is not null
            and abs(cost_lines.differens - (cost_lines.budget - cost_lines.utfall)) >= contract_budget_rule.difference_tolerance,
            false
        ) as difference_mismatch,
        cost_lines.prognos as forecast,
        granted.granted,
        cost_lines.period,
        cost_lines.delivery_id,
        cost_lines.source_row
    from cost_lines
    cross join contract_budget_rule
    left join granted
        on cost_lines.delivery_id = granted.delivery_id
        and cost_lines.ar = granted.ar
        and cost_lines.kostnadsslag = granted.kostnadsslag
)

select * from final
