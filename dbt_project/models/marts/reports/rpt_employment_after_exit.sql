{#- Employment (sysselsättning) and its extent after exit, per intervention
    and exit year. -#}
with fct_participation as (
    select * from {{ ref('fct_participation') }}
    where slutdatum is not null
),

counted as (
    select
        association_code,
        intervention_code,
        {{ year_of('slutdatum') }} as exit_year,
        coalesce(sysselsattning_efter, 'OKAND') as sysselsattning_efter,
        count(*) as exits,
        {{ count_where("omfattning_efter is not null") }} as exits_with_extent,
        {{ count_where("omfattning_efter >= 100") }} as exits_full_time,
        cast(avg(omfattning_efter) as decimal(10, 2)) as avg_omfattning_efter
    from fct_participation
    group by association_code, intervention_code, {{ year_of('slutdatum') }}, coalesce(sysselsattning_efter, 'OKAND')
),

final as (
    select
        {{ finsam_key(['association_code', 'intervention_code', 'exit_year', 'sysselsattning_efter']) }} as employment_key,
        {{ finsam_key(['association_code', 'intervention_code']) }} as intervention_key,
        counted.*,
        {{ safe_divide('exits', 'sum(exits) over (partition by association_code, intervention_code, exit_year)') }} as share_of_exits
    from counted
)

select * from final
