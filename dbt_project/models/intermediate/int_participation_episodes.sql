{{ config(**finsam_incremental()) }}
{#- One row per participant episode across an intervention's cumulative
    deliveries. Identity: (association, intervention, person_key, startdatum);
    anonymous rows: (kon, fodelsear, startdatum, ordinal within the delivery).
    Only current deliveries count (supersession within a period); across
    periods the row from the latest period wins. A delivery is the whole
    register up to its period end (ingestion/contract.yml, kinds.deltagare):
    an episode an earlier period listed that the intervention's governing
    delivery (current, latest period end, then latest received) no longer
    lists is withdrawn. Includes FELREG episodes (flagged); every per-episode
    KPI is derived here once. -#}
with stg_deltagare as (
    select * from {{ ref('stg_deltagare') }}
    where {{ association_scope() }}
),

int_deliveries_current as (
    select * from {{ ref('int_deliveries_current') }}
    where kind = 'deltagare' and {{ association_scope() }}
),

current_rows as (
    select
        stg_deltagare.*,
        int_deliveries_current.period_end as delivery_period_end
    from stg_deltagare
    inner join int_deliveries_current
        on stg_deltagare.delivery_id = int_deliveries_current.delivery_id
        and stg_deltagare.association_code = int_deliveries_current.association_code
        and stg_deltagare.intervention_code = int_deliveries_current.intervention_code
        and stg_deltagare.period = int_deliveries_current.period
    where int_deliveries_current.is_current
),

governing_ranked as (
    {#- Per intervention, the current delivery of the latest period: the whole truth up to its end
        (no `qualify`: the same SQL runs on PostgreSQL). -#}
    select
        association_code,
        intervention_code,
        delivery_id as governing_delivery_id,
        row_number() over (
            partition by association_code, intervention_code
            order by period_end desc, received_at desc, delivery_id desc
        ) as governing_rank
    from int_deliveries_current
    where is_current
),

governing as (
    select
        association_code,
        intervention_code,
        governing_delivery_id
    from governing_ranked
    where governing_rank = 1
),

identified as (
    select
        current_rows.*,
        (is_anonymous or person_key is null) as has_anonymous_identity,
        row_number() over (
            partition by delivery_id, (is_anonymous or person_key is null), kon, fodelsear, startdatum
            order by source_row
        ) as anonymous_ordinal
    from current_rows
),

keyed as (
    select
        identified.*,
        case
            when has_anonymous_identity then {{ finsam_key([
                "association_code", "intervention_code", "'anonymous'", "kon", "fodelsear", "startdatum", "anonymous_ordinal"
            ]) }}
            else {{ finsam_key(["association_code", "intervention_code", "'person'", "person_key", "startdatum"]) }}
        end as episode_key
    from identified
),

versioned as (
    select
        keyed.*,
        row_number() over (
            partition by episode_key
            order by delivery_period_end desc, received_at desc, source_row desc
        ) as version_rank,
        count(*) over (partition by episode_key) as delivered_versions,
        min(delivery_period_end) over (partition by episode_key) as first_delivered_period_end
    from keyed
),

latest as (
    select versioned.* from versioned
    inner join governing
        on versioned.association_code = governing.association_code
        and versioned.intervention_code = governing.intervention_code
        and versioned.delivery_id = governing.governing_delivery_id
    where versioned.version_rank = 1
),

derived as (
    select
        latest.*,
        {{ kpi_age_at_start('fodelsear', 'startdatum') }} as age_at_start,
        {{ kpi_days_in_intervention('startdatum', 'slutdatum') }} as days_in_intervention,
        {{ kpi_exit_category('avslutsanledning', 'slutdatum') }} as exit_category,
        {{ kpi_is_early_dropout('avslutsanledning') }} and slutdatum is not null as is_early_dropout,
        {{ kpi_is_felreg('avslutsanledning') }} as is_felreg,
        {{ kpi_sysselsattning_efter('sysselsattning_efter', 'avslutsanledning', 'slutdatum') }} as sysselsattning_efter_derived
    from latest
),

final as (
    select
        episode_key,
        association_code,
        intervention_code,
        person_key,
        person_key_source,
        has_anonymous_identity as is_anonymous,
        case when has_anonymous_identity then anonymous_ordinal end as anonymous_ordinal,
        kon,
        fodelsear,
        age_at_start,
        {{ kpi_age_band('age_at_start') }} as age_band,
        kommun,
        remittent,
        startdatum,
        slutdatum,
        days_in_intervention,
        {{ kpi_months_from_days('days_in_intervention') }} as months_in_intervention,
        forsorjning_fore,
        forsorjning_efter,
        sysselsattning_fore,
        sysselsattning_efter,
        sysselsattning_efter_derived,
        omfattning_efter,
        utbildning,
        tid_offentlig_forsorjning,
        avslutsanledning,
        exit_category,
        is_early_dropout,
        {{ kpi_is_work_studies_rehab('exit_category') }} as is_work_studies_rehab,
        {{ kpi_is_work_or_studies('exit_category') }} as is_work_or_studies,
        is_felreg,
        delivery_id,
        period as delivered_period,
        delivery_period_end,
        first_delivered_period_end,
        delivered_versions,
        source_row
    from derived
)

select * from final
