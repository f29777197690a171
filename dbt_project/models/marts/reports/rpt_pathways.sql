{#- County-wide paths between interventions, per year, from fct_pathway_steps:

      first_episode    the person's first episode in the county (from_* empty), by start year
      next_episode     from the previous episode's intervention to this one, by start year
                       (re-entry: the same intervention again; cross-association: another
                       association's intervention)
      no_next_episode  an ended episode with nothing after it (to_* empty), by exit year

    days_between: from the previous exit to the next start, for steps that did not overlap
    (the next started after the previous ended). Anonymous episodes are not linked. -#}
with fct_pathway_steps as (
    select * from {{ ref('fct_pathway_steps') }}
),

steps as (
    select
        'first_episode' as pathway_step,
        cast(null as varchar) as from_association_code,
        cast(null as varchar) as from_intervention_code,
        association_code as to_association_code,
        intervention_code as to_intervention_code,
        {{ year_of('start_date') }} as year,
        person_key,
        false as overlaps_previous,
        cast(null as integer) as days_between
    from fct_pathway_steps
    where previous_episode_key is null

    union all

    select
        'next_episode' as pathway_step,
        previous_association_code as from_association_code,
        previous_intervention_code as from_intervention_code,
        association_code as to_association_code,
        intervention_code as to_intervention_code,
        {{ year_of('start_date') }} as year,
        person_key,
        overlaps_previous,
        case when not overlaps_previous then cast(days_since_previous_exit as integer) end as days_between
    from fct_pathway_steps
    where previous_episode_key is not null

    union all

    select
        'no_next_episode' as pathway_step,
        association_code as from_association_code,
        intervention_code as from_intervention_code,
        cast(null as varchar) as to_association_code,
        cast(null as varchar) as to_intervention_code,
        {{ year_of('end_date') }} as year,
        person_key,
        false as overlaps_previous,
        cast(null as integer) as days_between
    from fct_pathway_steps
    where next_association_code is null and end_date is not null
),

aggregated as (
    select
        pathway_step,
        from_association_code,
        from_intervention_code,
        to_association_code,
        to_intervention_code,
        year,
        count(*) as steps,
        count(distinct person_key) as people,
        {{ count_where('overlaps_previous') }} as overlapping_steps,
        {{ count_where('days_between is not null') }} as steps_with_days_between,
        cast(avg(days_between) as decimal(10, 1)) as avg_days_between,
        cast({{ finsam_median('days_between') }} as decimal(10, 1)) as median_days_between,
        min(days_between) as min_days_between,
        max(days_between) as max_days_between
    from steps
    group by pathway_step, from_association_code, from_intervention_code, to_association_code, to_intervention_code, year
),

final as (
    select
        {{ finsam_key([
            'pathway_step', 'from_association_code', 'from_intervention_code', 'to_association_code', 'to_intervention_code', 'year'
        ]) }} as pathway_key,
        pathway_step,
        from_association_code,
        from_intervention_code,
        to_association_code,
        to_intervention_code,
        year,
        coalesce(
            pathway_step = 'next_episode'
            and from_association_code = to_association_code
            and from_intervention_code = to_intervention_code,
            false
        ) as is_re_entry,
        coalesce(from_association_code <> to_association_code, false) as is_cross_association,
        cast(steps as bigint) as steps,
        cast(people as bigint) as people,
        overlapping_steps,
        steps_with_days_between,
        avg_days_between,
        median_days_between,
        min_days_between,
        max_days_between
    from aggregated
)

select * from final
