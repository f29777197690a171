{{ config(**finsam_incremental()) }}
{#- Dense: every category an intervention has had, in every period of the profile's period types (a
    row of zeros where the category had no one). A row left out would publish a zero, which the method
    hides like 1-4, and would end a category's chain of periods (carried in = the previous period's
    active) where an attacker can pin the next figure (docs/disclosure.md, "Absent rows"). -#}
{%- set dense -%}
(
    with profile as (
        select * from {{ ref('rpt_profile_by_period') }}
        where {{ association_scope() }}
    ),

    periods as (
        select
            period_key,
            intervention_key,
            association_code,
            intervention_code,
            period_type,
            period_label,
            period_start,
            period_end,
            measure_window,
            completeness_status,
            data_through,
            participants as participants_total,
            entrants as entrants_total,
            exits as exits_total
        from {{ ref('rpt_outcomes_by_period') }}
        where {{ association_scope() }}
            and period_type in (select distinct profile.period_type from profile)
    ),

    categories as (
        select distinct
            intervention_key,
            dimension,
            category
        from profile
    ),

    grid as (
        select
            periods.*,
            categories.dimension,
            categories.category,
            coalesce(profile.participants, 0) as participants,
            coalesce(profile.carried_in, 0) as carried_in,
            coalesce(profile.entrants, 0) as entrants,
            coalesce(profile.exits, 0) as exits,
            coalesce(profile.active_at_period_end, 0) as active_at_period_end,
            profile.share_of_participants,
            profile.share_of_entrants,
            profile.share_of_exits
        from periods
        inner join categories
            on periods.intervention_key = categories.intervention_key
        left join profile
            on periods.period_key = profile.period_key
            and periods.measure_window = profile.measure_window
            and categories.dimension = profile.dimension
            and categories.category = profile.category
    )

    select
        {{ finsam_key(['period_key', 'measure_window', 'dimension', 'category']) }} as profile_period_key,
        grid.*
    from grid
) as dense_profile
{%- endset -%}
{{ publish_suppressed(
    dense,
    keys=['profile_period_key', 'period_key', 'association_code', 'intervention_code', 'period_type', 'period_label', 'period_start', 'period_end', 'measure_window', 'completeness_status', 'data_through', 'dimension', 'category'],
    counts=['participants', 'carried_in', 'entrants', 'exits', 'active_at_period_end', 'participants_total', 'entrants_total', 'exits_total'],
    derived={
        'share_of_participants': ['participants', 'participants_total'],
        'share_of_entrants': ['entrants', 'entrants_total'],
        'share_of_exits': ['exits', 'exits_total'],
    },
) }}
