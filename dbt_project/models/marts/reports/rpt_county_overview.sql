{#- Association x year, and the county as a whole (association_code 'ALL', scope
    'county') x year: episodes, interventions and unique people (by person_key,
    across interventions and, for the county, across associations) active during the
    year; anonymous episodes cannot be linked and are counted separately. A person in
    interventions of two associations is one person in the county row and is counted in
    people_in_several_associations of both associations' rows. The *_to_date people
    columns count every episode started by the end of the year (from the first year on). -#}
with fct_participation as (
    select * from {{ ref('fct_participation') }}
),

int_period_ends as (
    select * from {{ ref('int_period_ends') }}
    where period_type = 'year'
),

bounds as (
    select
        min({{ year_of('start_date') }}) as first_year,
        max({{ year_of('coalesce(end_date, start_date)') }}) as last_year
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
        years.year,
        years.period_start,
        years.period_end
    from fct_participation
    inner join years
        on {{ kpi_is_active_during(
            'fct_participation.start_date', 'fct_participation.end_date', 'years.period_start', 'years.period_end'
        ) }}
),

per_person as (
    select
        year,
        person_key,
        count(distinct association_code) as associations,
        count(distinct association_code || '|' || intervention_code) as interventions
    from active
    where not is_anonymous
    group by year, person_key
),

per_person_and_association as (
    select
        active.association_code,
        active.year,
        active.person_key,
        count(distinct active.intervention_code) as interventions,
        max(per_person.associations) as associations
    from active
    inner join per_person
        on active.year = per_person.year
        and active.person_key = per_person.person_key
    where not active.is_anonymous
    group by active.association_code, active.year, active.person_key
),

association_people as (
    select
        association_code,
        year,
        count(*) as unique_people,
        {{ count_where("interventions > 1") }} as people_in_several_interventions,
        {{ count_where("associations > 1") }} as people_in_several_associations
    from per_person_and_association
    group by association_code, year
),

county_people as (
    select
        'ALL' as association_code,
        year,
        count(*) as unique_people,
        {{ count_where("interventions > 1") }} as people_in_several_interventions,
        {{ count_where("associations > 1") }} as people_in_several_associations
    from per_person
    group by year
),

first_starts as (
    select
        person_key,
        association_code,
        intervention_code,
        min(start_date) as first_start
    from fct_participation
    where not is_anonymous
    group by person_key, association_code, intervention_code
),

ranked_interventions as (
    select
        first_starts.*,
        row_number() over (partition by person_key, association_code order by first_start, intervention_code) as rank_in_association,
        row_number() over (partition by person_key order by first_start, association_code, intervention_code) as rank_in_county
    from first_starts
),

person_in_association as (
    select
        person_key,
        association_code,
        min(first_start) as joined_at,
        min(case when rank_in_association = 2 then first_start end) as second_intervention_at
    from ranked_interventions
    group by person_key, association_code
),

ranked_associations as (
    select
        person_in_association.*,
        row_number() over (partition by person_key order by joined_at, association_code) as association_rank
    from person_in_association
),

person_in_county as (
    select
        ranked_associations.person_key,
        min(ranked_associations.joined_at) as joined_at,
        min(case when ranked_associations.association_rank = 2 then ranked_associations.joined_at end) as second_association_at,
        min(county_second.first_start) as second_intervention_at
    from ranked_associations
    left join ranked_interventions as county_second
        on ranked_associations.person_key = county_second.person_key
        and county_second.rank_in_county = 2
    group by ranked_associations.person_key
),

{# The day each person joined, took part in a second intervention, in a second
    association: counted "to date" from the year it happened on. -#}
milestones as (
    select
        person_in_association.association_code,
        person_in_association.joined_at,
        person_in_association.second_intervention_at,
        case
            when person_in_county.second_association_at > person_in_association.joined_at then person_in_county.second_association_at
            else person_in_association.joined_at
        end as several_associations_at,
        person_in_county.second_association_at
    from person_in_association
    inner join person_in_county
        on person_in_association.person_key = person_in_county.person_key

    union all

    select
        'ALL' as association_code,
        joined_at,
        second_intervention_at,
        second_association_at as several_associations_at,
        second_association_at
    from person_in_county
),

milestones_by_year as (
    {%- for column, measure in [
        ('joined_at', 'unique_people_to_date'),
        ('second_intervention_at', 'people_in_several_interventions_to_date'),
        ('several_associations_at', 'people_in_several_associations_to_date'),
    ] %}
    select
        association_code,
        '{{ measure }}' as measure,
        {{ year_of(column) }} as year,
        count(*) as people
    from milestones
    where {{ column }} is not null and ({{ "second_association_at is not null" if column == 'several_associations_at' else "true" }})
    group by association_code, {{ year_of(column) }}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

people_to_date as (
    select
        association_years.association_code,
        association_years.year,
        cast(
            coalesce(sum(case when milestones_by_year.measure = 'unique_people_to_date' then milestones_by_year.people end), 0)
            as bigint
        ) as unique_people_to_date,
        cast(
            coalesce(
                sum(case when milestones_by_year.measure = 'people_in_several_interventions_to_date' then milestones_by_year.people end),
                0
            )
            as bigint
        ) as people_in_several_interventions_to_date,
        cast(
            coalesce(
                sum(case when milestones_by_year.measure = 'people_in_several_associations_to_date' then milestones_by_year.people end),
                0
            )
            as bigint
        ) as people_in_several_associations_to_date
    from (
        select distinct
            association_code,
            year
        from active
        union
        select distinct
            'ALL' as association_code,
            year
        from active
    ) as association_years
    left join milestones_by_year
        on association_years.association_code = milestones_by_year.association_code
        and milestones_by_year.year <= association_years.year
    group by association_years.association_code, association_years.year
),

{%- set episode_figures %}
        count(*) as episodes,
        {{ count_where("is_anonymous") }} as anonymous_episodes,
        {{ count_where(kpi_is_started_in('start_date', 'period_start', 'period_end')) }} as new_episodes,
        {{ count_where(kpi_is_exited_in('end_date', 'period_start', 'period_end')) }} as exits,
        {{ count_where(
            kpi_is_exited_in('end_date', 'period_start', 'period_end') ~ " and is_work_or_studies"
        ) }} as exits_to_work_or_studies
{%- endset %}

association_episodes as (
    select
        association_code,
        year,
        count(distinct intervention_code) as interventions,
        {{ episode_figures }}
    from active
    group by association_code, year
),

county_episodes as (
    select
        'ALL' as association_code,
        year,
        count(distinct association_code || '|' || intervention_code) as interventions,
        {{ episode_figures }}
    from active
    group by year
),

episodes as (
    select
        'association' as scope,
        association_episodes.*
    from association_episodes
    union all
    select
        'county' as scope,
        county_episodes.*
    from county_episodes
),

people as (
    select * from association_people
    union all
    select * from county_people
),

final as (
    select
        {{ finsam_key(['episodes.association_code', 'episodes.year']) }} as overview_key,
        episodes.scope,
        episodes.association_code,
        episodes.year,
        cast(episodes.interventions as bigint) as interventions,
        episodes.episodes,
        episodes.new_episodes,
        episodes.exits,
        episodes.exits_to_work_or_studies,
        episodes.anonymous_episodes,
        cast(coalesce(people.unique_people, 0) as bigint) as unique_people,
        coalesce(people.people_in_several_interventions, 0) as people_in_several_interventions,
        coalesce(people.people_in_several_associations, 0) as people_in_several_associations,
        cast(coalesce(people_to_date.unique_people_to_date, 0) as bigint) as unique_people_to_date,
        coalesce(people_to_date.people_in_several_interventions_to_date, 0) as people_in_several_interventions_to_date,
        coalesce(people_to_date.people_in_several_associations_to_date, 0) as people_in_several_associations_to_date,
        {{ share_of_exits_to_work_or_studies('episodes.exits_to_work_or_studies', 'episodes.exits') }} as share_of_exits_to_work_or_studies
    from episodes
    left join people
        on episodes.association_code = people.association_code
        and episodes.year = people.year
    left join people_to_date
        on episodes.association_code = people_to_date.association_code
        and episodes.year = people_to_date.year
)

select * from final
