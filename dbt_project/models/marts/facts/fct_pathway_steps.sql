{#- One row per identified episode (a person key; anonymous episodes cannot be linked),
    in the order of the person's episodes across every intervention and association of the
    county: the episode before it (where the person came from) and after it (where the
    person went on to), the days in between, re-entries into the same intervention and
    moves between associations. A person_key from a personnummer is the same in every
    association; one from a deltagar_id only links within its association. -#}
with fct_participation as (
    select * from {{ ref('fct_participation') }}
    where not is_anonymous and person_key is not null
),

ordered as (
    select
        episode_key,
        person_key,
        association_code,
        intervention_code,
        start_date,
        end_date,
        exit_category,
        row_number() over person_order as episode_number,
        count(*) over (partition by person_key) as episodes_of_person,
        lag(episode_key) over person_order as previous_episode_key,
        lag(association_code) over person_order as previous_association_code,
        lag(intervention_code) over person_order as previous_intervention_code,
        lag(start_date) over person_order as previous_start_date,
        lag(end_date) over person_order as previous_end_date,
        lag(exit_category) over person_order as previous_exit_category,
        lead(association_code) over person_order as next_association_code,
        lead(intervention_code) over person_order as next_intervention_code,
        lead(start_date) over person_order as next_start_date
    from fct_participation
    window person_order as (partition by person_key order by start_date, end_date nulls last, episode_key)
),

per_person as (
    select
        person_key,
        count(distinct association_code) as associations_of_person,
        count(distinct association_code || '|' || intervention_code) as interventions_of_person
    from fct_participation
    group by person_key
),

final as (
    select
        ordered.episode_key,
        ordered.person_key,
        ordered.association_code,
        ordered.intervention_code,
        ordered.start_date,
        ordered.end_date,
        ordered.exit_category,
        ordered.episode_number,
        ordered.episodes_of_person,
        per_person.interventions_of_person,
        per_person.associations_of_person,
        ordered.previous_episode_key,
        ordered.previous_association_code,
        ordered.previous_intervention_code,
        ordered.previous_end_date,
        ordered.previous_exit_category,
        case
            when ordered.previous_end_date is not null
                then {{ dbt.datediff('ordered.previous_end_date', 'ordered.start_date', 'day') }}
        end as days_since_previous_exit,
        (
            ordered.previous_episode_key is not null
            and {{ kpi_is_active_during(
                'ordered.previous_start_date', 'ordered.previous_end_date', 'ordered.start_date', 'ordered.start_date'
            ) }}
        ) as overlaps_previous,
        coalesce(
            ordered.previous_association_code = ordered.association_code
            and ordered.previous_intervention_code = ordered.intervention_code,
            false
        ) as is_re_entry,
        coalesce(ordered.previous_association_code <> ordered.association_code, false) as is_cross_association,
        ordered.next_association_code,
        ordered.next_intervention_code,
        ordered.next_start_date,
        case
            when ordered.end_date is not null and ordered.next_start_date is not null
                then {{ dbt.datediff('ordered.end_date', 'ordered.next_start_date', 'day') }}
        end as days_to_next_start
    from ordered
    inner join per_person
        on ordered.person_key = per_person.person_key
)

select * from final
