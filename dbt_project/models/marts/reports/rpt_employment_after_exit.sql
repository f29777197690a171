{#- Employment (sysselsättning) and its extent after exit, per intervention
    and exit year. -#}
with fct_participation as (
    select * from {{ ref('fct_participation') }}
    where end_date is not null
),

counted as (
    select
        association_code,
        intervention_code,
        {{ year_of('end_date') }} as exit_year,
        coalesce(employment_after, 'OKAND') as employment_after,
        count(*) as exits,
        {{ count_where("employment_extent_after is not null") }} as exits_with_extent,
        {{ count_where("employment_extent_after >= 100") }} as exits_full_time,
        cast(avg(employment_extent_after) as decimal(10, 2)) as avg_employment_extent_after
    from fct_participation
    group by association_code, intervention_code, {{ year_of('end_date') }}, coalesce(employment_after, 'OKAND')
),

final as (
    select
        {{ finsam_key(['association_code', 'intervention_code', 'exit_year', 'employment_after']) }} as employment_key,
        {{ finsam_key(['association_code', 'intervention_code']) }} as intervention_key,
        counted.*,
        {{ safe_divide('exits', 'sum(exits) over (partition by association_code, intervention_code, exit_year)') }} as share_of_exits
    from counted
)

select * from final
