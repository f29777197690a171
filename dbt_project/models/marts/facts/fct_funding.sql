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

member_totals as (
    select
        association_code,
        intervention_code,
        ar,
        sum(case when funder_group in ('STAT', 'REGION', 'KOMMUN') then amount end) as member_amount,
        count(distinct case when funder_group in ('STAT', 'REGION', 'KOMMUN') then funder_group end) as member_groups
    from per_funder
    group by association_code, intervention_code, ar
),

totals as (
    select
        per_funder.*,
        sum(per_funder.amount) over (
            partition by per_funder.association_code, per_funder.intervention_code, per_funder.ar
        ) as total_amount,
        member_totals.member_amount,
        member_totals.member_groups,
        sum(per_funder.amount) over (
            partition by per_funder.association_code, per_funder.intervention_code, per_funder.ar, per_funder.funder_group
        ) as funder_group_amount
    from per_funder
    inner join member_totals
        on per_funder.association_code = member_totals.association_code
        and per_funder.intervention_code = member_totals.intervention_code
        and per_funder.ar = member_totals.ar
),

{# The funding rule, decided once in contract.yml `funding_rule` (docs/contract.md, "Beslut") and
    read here from its seed: on the association's own budget (applies_to = ALL), each member group's
    share of the members' contributions, where at least min_groups of the three are named. The
    landing check (ingestion/quality/suites.py budget_funding) reads the same definition. -#}
rule_applied as (
    select
        totals.*,
        contract_funding_rule.expected_share,
        contract_funding_rule.tolerance,
        (
            contract_funding_rule.funder_group is not null
            and totals.intervention_code = contract_funding_rule.applies_to
            and totals.member_groups >= contract_funding_rule.min_groups
            and totals.member_amount > 0
        ) as applies_funding_rule
    from totals
    left join contract_funding_rule
        on totals.funder_group = contract_funding_rule.funder_group
),

final as (
    select
        {{ finsam_key([
            'rule_applied.association_code', 'rule_applied.intervention_code', 'rule_applied.ar', 'rule_applied.finansiar'
        ]) }} as funding_key,
        rule_applied.association_code,
        rule_applied.intervention_code,
        rule_applied.ar as year,
        rule_applied.period_slut as period_end,
        rule_applied.finansiar as funder,
        rule_applied.funder_group,
        rule_applied.amount,
        rule_applied.total_amount,
        {{ safe_divide('rule_applied.amount', 'rule_applied.total_amount') }} as share,
        rule_applied.member_amount,
        rule_applied.funder_group_amount,
        case
            when rule_applied.expected_share is not null
                then {{ safe_divide('rule_applied.funder_group_amount', 'rule_applied.member_amount') }}
        end as funder_group_share,
        rule_applied.expected_share as expected_group_share,
        rule_applied.tolerance,
        coalesce(rule_applied.applies_funding_rule, false) as applies_funding_rule,
        coalesce(
            rule_applied.applies_funding_rule
            and abs(
                {{ safe_divide('rule_applied.funder_group_amount', 'rule_applied.member_amount') }} - rule_applied.expected_share
            ) > rule_applied.tolerance,
            false
        ) as breaks_funding_rule
    from rule_applied
)

select * from final
