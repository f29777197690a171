{{ config(materialized='view') }}
{#- Episode x period end, for every period end from the episode's start up to
    the last period the intervention has delivered (the data horizon).
    FELREG episodes are excluded here: they never count. No mart reads it any longer
    (the period reports count entry and exit events: macros/period_figures.sql); kept,
    as a view, for ad-hoc questions per episode and period. -#}
with int_participation_episodes as (
    select * from {{ ref('int_participation_episodes') }}
    where not is_felreg
),

int_period_ends as (
    select * from {{ ref('int_period_ends') }}
),

int_deliveries_current as (
    select * from {{ ref('int_deliveries_current') }}
    where kind = 'deltagare' and is_current
),

horizons as (
    select
        association_code,
        intervention_code,
        max(period_end) as horizon_end
    from int_deliveries_current
    group by association_code, intervention_code
),

episode_periods as (
    select
        int_participation_episodes.*,
        int_period_ends.period_type,
        int_period_ends.period_label,
        int_period_ends.period_start,
        int_period_ends.period_end
    from int_participation_episodes
    inner join horizons
        on int_participation_episodes.association_code = horizons.association_code
        and int_participation_episodes.intervention_code = horizons.intervention_code
    inner join int_period_ends
        on int_period_ends.period_end >= int_participation_episodes.startdatum
        and int_period_ends.period_end <= horizons.horizon_end
),

flagged as (
    select
        episode_periods.*,
        {{ kpi_is_active_at('startdatum', 'slutdatum', 'period_end') }} as is_active_at_period_end,
        {{ kpi_is_exited_by('slutdatum', 'period_end') }} as is_exited_to_date,
        {{ kpi_is_started_in('startdatum', 'period_start', 'period_end') }} as is_new_in_period,
        {{ kpi_is_exited_in('slutdatum', 'period_start', 'period_end') }} as is_exited_in_period
    from episode_periods
),

final as (
    select
        {{ finsam_key(['episode_key', 'period_type', 'period_end']) }} as episode_period_key,
        episode_key,
        association_code,
        intervention_code,
        kon,
        age_band,
        period_type,
        period_label,
        period_start,
        period_end,
        true as is_enrolled_to_date,
        is_new_in_period,
        is_active_at_period_end,
        is_exited_to_date,
        is_exited_in_period,
        case when is_exited_to_date then exit_category end as exit_category_to_date,
        (is_exited_to_date and is_early_dropout) as is_early_dropout_to_date,
        (is_exited_to_date and is_work_studies_rehab) as is_work_studies_rehab_to_date,
        case when is_exited_to_date then months_in_intervention end as months_in_intervention_to_date
    from flagged
)

select * from final
