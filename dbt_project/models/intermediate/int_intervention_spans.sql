{{ config(materialized='table') }}
{#- One row per person-level intervention (measurement_method PERSON, or any intervention that
    delivered participants): when it started, its operating-year first day, how far its
    accepted participant data reaches (data_through), how far its refused participant
    deliveries reach (quarantined_through), and how far its association has reported
    (participant and register deliveries). The latest of these is the report horizon: the
    intervention's periods are due up to it (report_end: not past the register's end_date,
    unless participant data goes further). Decided from the deliveries only (never the
    clock), so an incremental build equals a full one. -#}
with dim_intervention as (
    select * from {{ ref('dim_intervention') }}
    where is_current and intervention_code <> 'ALL'
),

fct_participation as (
    select * from {{ ref('fct_participation') }}
),

int_deliveries_current as (
    select * from {{ ref('int_deliveries_current') }}
),

stg_load_ledger as (
    select * from {{ ref('stg_load_ledger') }}
),

int_period_ends as (
    select * from {{ ref('int_period_ends') }}
),

intervention_operating_years as (
    select * from {{ ref('intervention_operating_years') }}
),

episodes as (
    select
        association_code,
        intervention_code,
        min(start_date) as first_episode_start
    from fct_participation
    group by association_code, intervention_code
),

participant_data as (
    select
        association_code,
        intervention_code,
        max(case when is_current then period_end end) as data_through
    from int_deliveries_current
    where kind = 'deltagare'
    group by association_code, intervention_code
),

refused as (
    select
        stg_load_ledger.association_code,
        stg_load_ledger.intervention_code,
        max(int_period_ends.period_end) as quarantined_through
    from stg_load_ledger
    inner join int_period_ends
        on upper(stg_load_ledger.period) = int_period_ends.period_label
    where stg_load_ledger.kind = 'deltagare' and stg_load_ledger.status = 'quarantined'
    group by stg_load_ledger.association_code, stg_load_ledger.intervention_code
),

association_reported as (
    select
        association_code,
        max(period_end) as association_reported_through
    from int_deliveries_current
    where kind in ('deltagare', 'insatser') and is_current
    group by association_code
),

interventions as (
    select
        association_code,
        intervention_code
    from dim_intervention
    where coalesce(measurement_method, 'PERSON') = 'PERSON'
    union
    select
        association_code,
        intervention_code
    from episodes
),

joined as (
    select
        interventions.association_code,
        interventions.intervention_code,
        dim_intervention.in_register,
        dim_intervention.intervention_name,
        coalesce(dim_intervention.reporting, 'T') as cadence,
        dim_intervention.start_date as register_start,
        dim_intervention.end_date as register_end,
        episodes.first_episode_start,
        participant_data.data_through,
        refused.quarantined_through,
        association_reported.association_reported_through,
        intervention_operating_years.first_month as seed_first_month,
        intervention_operating_years.first_day as seed_first_day
    from interventions
    left join dim_intervention
        on interventions.association_code = dim_intervention.association_code
        and interventions.intervention_code = dim_intervention.intervention_code
    left join episodes
        on interventions.association_code = episodes.association_code
        and interventions.intervention_code = episodes.intervention_code
    left join participant_data
        on interventions.association_code = participant_data.association_code
        and interventions.intervention_code = participant_data.intervention_code
    left join refused
        on interventions.association_code = refused.association_code
        and interventions.intervention_code = refused.intervention_code
    left join association_reported
        on interventions.association_code = association_reported.association_code
    left join intervention_operating_years
        on interventions.association_code = intervention_operating_years.association_code
        and interventions.intervention_code = intervention_operating_years.intervention_code
),

dated as (
    select
        joined.*,
        case
            when register_start is null then first_episode_start
            when first_episode_start is null then register_start
            when first_episode_start < register_start then first_episode_start
            else register_start
        end as project_start,
        greatest(
            coalesce(data_through, quarantined_through, association_reported_through),
            coalesce(quarantined_through, data_through, association_reported_through),
            coalesce(association_reported_through, data_through, quarantined_through)
        ) as report_horizon
    from joined
),

final as (
    select
        {{ finsam_key(['association_code', 'intervention_code']) }} as intervention_key,
        association_code,
        intervention_code,
        coalesce(in_register, false) as in_register,
        intervention_name,
        cadence,
        register_start,
        register_end,
        first_episode_start,
        project_start,
        case
            when seed_first_month is not null
                then make_date({{ year_of('project_start') }}, seed_first_month, seed_first_day)
            else coalesce(register_start, first_episode_start)
        end as operating_year_anchor,
        case
            when seed_first_month is not null then 'seed'
            when register_start is not null then 'register'
            else 'first_episode'
        end as operating_year_source,
        data_through,
        quarantined_through,
        association_reported_through,
        report_horizon,
        case
            when register_end is null or register_end >= report_horizon then report_horizon
            when data_through > register_end then data_through
            else register_end
        end as report_end
    from dated
    where project_start is not null and report_horizon is not null
)

select * from final
