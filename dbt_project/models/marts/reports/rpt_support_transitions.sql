{{ config(**finsam_incremental()) }}
{#- Support (försörjning) at start x at exit for ended episodes, per
    intervention and exit year, as delivered combinations (e.g. AKS+FBS). -#}
with fct_participation as (
    select * from {{ ref('fct_participation') }}
    where end_date is not null and {{ association_scope() }}
),

counted as (
    select
        association_code,
        intervention_code,
        {{ year_of('end_date') }} as exit_year,
        coalesce(support_before, 'OKAND') as support_before,
        coalesce(support_after, 'OKAND') as support_after,
        count(*) as exits
    from fct_participation
    group by
        association_code, intervention_code, {{ year_of('end_date') }}, coalesce(support_before, 'OKAND'), coalesce(support_after, 'OKAND')
),

totals as (
    select
        counted.*,
        sum(exits) over (partition by association_code, intervention_code, exit_year, support_before) as exits_with_support_before,
        sum(exits) over (partition by association_code, intervention_code, exit_year) as exits_total
    from counted
),

final as (
    select
        {{ finsam_key(['association_code', 'intervention_code', 'exit_year', 'support_before', 'support_after']) }} as transition_key,
        {{ finsam_key(['association_code', 'intervention_code']) }} as intervention_key,
        association_code,
        intervention_code,
        exit_year,
        support_before,
        support_after,
        exits,
        exits_with_support_before,
        exits_total,
        {{ safe_divide('exits', 'exits_with_support_before') }} as share_of_support_before,
        {{ safe_divide('exits', 'exits_total') }} as share_of_exits
    from totals
)

select * from final
