{#- Dense: every category an intervention has had, in every start year it had (a row of zeros where
    the category had no one), as pub_rpt_profile_by_period, whose year entrants these rows repeat: a
    row left out would publish a zero the method hides (docs/disclosure.md, "Absent rows"). -#}
{%- set dense -%}
(
    with profile as (
        select * from {{ ref('rpt_participant_profile') }}
    ),

    years as (
        select distinct
            association_code,
            intervention_code,
            start_year
        from profile
    ),

    categories as (
        select distinct
            association_code,
            intervention_code,
            dimension,
            category
        from profile
    ),

    grid as (
        select
            years.association_code,
            years.intervention_code,
            years.start_year,
            categories.dimension,
            categories.category,
            coalesce(profile.participants, 0) as participants,
            profile.share
        from years
        inner join categories
            on years.association_code = categories.association_code
            and years.intervention_code = categories.intervention_code
        left join profile
            on years.association_code = profile.association_code
            and years.intervention_code = profile.intervention_code
            and years.start_year = profile.start_year
            and categories.dimension = profile.dimension
            and categories.category = profile.category
    )

    select
        {{ finsam_key(['association_code', 'intervention_code', 'start_year', 'dimension', 'category']) }} as profile_key,
        grid.*,
        sum(participants) over (partition by association_code, intervention_code, start_year, dimension) as participants_total
    from grid
) as dense_profile
{%- endset -%}
{{ publish_suppressed(
    dense,
    keys=['profile_key', 'association_code', 'intervention_code', 'start_year', 'dimension', 'category'],
    counts=['participants', 'participants_total'],
    derived={'share': ['participants', 'participants_total']},
) }}
