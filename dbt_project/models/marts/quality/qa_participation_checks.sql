{#- The checks on the participant facts that only show across deliveries, interventions or
    associations: one row per current episode (fct_participation), with one flag per check of
    the GX suite expectations/fct_participation.final.json. GX validates this table in the facts
    step (ingestion/quality/facts.py), per association; nothing else decides these verdicts.

    A flag is true when the row passes, false when it fails, null when the check does not apply:
      _not_reopened               a keyed episode that a current delivery of an earlier period
                                  ended (slutdatum) is active again (no end date) in the latest one
      _no_parallel_same_kind      a keyed episode overlaps another episode of the same person in
                                  another intervention of the same focus (inriktning), in any association
      _person_level_intervention  episodes delivered for an intervention the register follows up by
                                  count only (measurement_method VOLYM)
    No person keys leave this model. -#}
with fct_participation as (
    select * from {{ ref('fct_participation') }}
),

int_participation_episodes as (
    select * from {{ ref('int_participation_episodes') }}
),

dim_intervention as (
    select * from {{ ref('dim_intervention') }}
    where is_current
),

int_deliveries_current as (
    select * from {{ ref('int_deliveries_current') }}
    where kind = 'deltagare' and is_current
),

stg_deltagare as (
    select * from {{ ref('stg_deltagare') }}
),

current_episodes as (
    select
        fct_participation.episode_key,
        fct_participation.delivery_id,
        int_participation_episodes.source_row,
        fct_participation.association_code,
        fct_participation.intervention_code,
        fct_participation.delivered_period,
        int_participation_episodes.delivery_period_end,
        fct_participation.person_key,
        fct_participation.is_anonymous,
        fct_participation.start_date,
        fct_participation.end_date,
        dim_intervention.focus,
        dim_intervention.measurement_method
    from fct_participation
    inner join int_participation_episodes
        on fct_participation.episode_key = int_participation_episodes.episode_key
    left join dim_intervention
        on fct_participation.association_code = dim_intervention.association_code
        and fct_participation.intervention_code = dim_intervention.intervention_code
),

ended_before as (
    {#- Every current delivery in which a keyed episode had ended (across deliveries: the
        episodes model keeps only the latest version). -#}
    select
        stg_deltagare.association_code,
        stg_deltagare.intervention_code,
        stg_deltagare.person_key,
        stg_deltagare.startdatum,
        stg_deltagare.slutdatum,
        stg_deltagare.period,
        stg_deltagare.period_end
    from stg_deltagare
    inner join int_deliveries_current
        on stg_deltagare.delivery_id = int_deliveries_current.delivery_id
    where stg_deltagare.person_key is not null and stg_deltagare.slutdatum is not null
),

ended_ranked as (
    select
        current_episodes.episode_key,
        ended_before.period as ended_in_period,
        ended_before.slutdatum as ended_on,
        row_number() over (
            partition by current_episodes.episode_key
            order by ended_before.period_end desc, ended_before.period desc, ended_before.slutdatum desc
        ) as ended_rank
    from current_episodes
    inner join ended_before
        on current_episodes.association_code = ended_before.association_code
        and current_episodes.intervention_code = ended_before.intervention_code
        and current_episodes.person_key = ended_before.person_key
        and current_episodes.start_date = ended_before.startdatum
        and ended_before.period_end < current_episodes.delivery_period_end
    where current_episodes.end_date is null and not current_episodes.is_anonymous
),

reopened as (
    {#- The latest earlier delivery that ended the episode. -#}
    select
        episode_key,
        ended_in_period,
        ended_on
    from ended_ranked
    where ended_rank = 1
),

keyed as (
    select * from current_episodes
    where not is_anonymous and person_key is not null and focus is not null
),

parallel as (
    select
        keyed.episode_key,
        count(*) as parallel_count
    from keyed
    inner join keyed as other_episode
        on keyed.person_key = other_episode.person_key
        and keyed.focus = other_episode.focus
        and (
            keyed.association_code != other_episode.association_code
            or keyed.intervention_code != other_episode.intervention_code
        )
        and keyed.start_date < coalesce(other_episode.end_date, cast('9999-12-31' as date))
        and other_episode.start_date < coalesce(keyed.end_date, cast('9999-12-31' as date))
    group by keyed.episode_key
),

final as (
    select
        current_episodes.episode_key,
        current_episodes.delivery_id,
        current_episodes.source_row,
        current_episodes.association_code,
        current_episodes.intervention_code,
        current_episodes.delivered_period as period,
        reopened.ended_in_period,
        reopened.ended_on,
        case when not current_episodes.is_anonymous then reopened.episode_key is null end as _not_reopened,
        current_episodes.focus,
        parallel.parallel_count,
        case
            when not current_episodes.is_anonymous and current_episodes.focus is not null
                then parallel.episode_key is null
        end as _no_parallel_same_kind,
        coalesce(current_episodes.measurement_method, 'PERSON') != 'VOLYM' as _person_level_intervention
    from current_episodes
    left join reopened
        on current_episodes.episode_key = reopened.episode_key
    left join parallel
        on current_episodes.episode_key = parallel.episode_key
)

select * from final
