{#- Association x year: episodes, interventions and unique people (by
    person_key, across interventions) active during the year; anonymous
    episodes cannot be linked and are counted separately. -#}
with fct_participation as (
    select * from {{ ref('fct_participation') }}
),

int_period_ends as (
    select * from {{ ref('int_period_ends') }}
    where period_type = 'year'
),

bounds as (
    select
        min({{ year_of('startdatum') }}) as first_year,
        max({{ year_of('coalesce(slutdatum, startdatum)') }}) as last_year
    from fct_participation
),

years as (
    select
        int_period_ends.year,
        int_period_ends.period_start,
        int_period_ends.period_end
    from int_period_ends
    cross join bounds
    where int_period_ends.year between bounds.first_year and bounds.last_year
),

active as (
    select
        fct_participation.*,
        years.year
    from fct_participation
    inner join years
        on fct_participation.startdatum <= years.period_end
        and (fct_participation.slutdatum is null or fct_participation.slutdatum >= years.period_start)
),

per_person as (
    select
        association_code,
        year,
        person_key,
        count(distinct intervention_code) as interventions
    from active
    where not is_anonymous
    group by association_code, year, person_key
),

people as (
    select
        association_code,
        year,
        count(*) as unique_people,
        {{ count_where("interventions > 1") }} as people_in_several_interventions
    from per_person
    group by association_code, year
),

episodes as (
    select
        association_code,
        year,
        count(*) as episodes,
        {{ count_where("is_anonymous") }} as anonymous_episodes,
        count(distinct intervention_code) as interventions,
        {{ count_where(year_of('startdatum') ~ ' = year') }} as new_episodes,
        {{ count_where("slutdatum is not null and " ~ year_of('slutdatum') ~ " = year") }} as exits,
        {{ count_where("slutdatum is not null and " ~ year_of('slutdatum') ~ " = year and is_work_or_studies") }} as exits_to_work_or_studies
    from active
    group by association_code, year
),

final as (
    select
        {{ finsam_key(['episodes.association_code', 'episodes.year']) }} as overview_key,
        episodes.association_code,
        episodes.year,
        episodes.interventions,
        episodes.episodes,
        episodes.new_episodes,
        episodes.exits,
        episodes.exits_to_work_or_studies,
        episodes.anonymous_episodes,
        coalesce(people.unique_people, 0) as unique_people,
        coalesce(people.people_in_several_interventions, 0) as people_in_several_interventions,
        {{ safe_divide('episodes.exits_to_work_or_studies', 'episodes.exits') }} as share_exits_to_work_or_studies
    from episodes
    left join people
        on episodes.association_code = people.association_code
        and episodes.year = people.year
)

select * from final
