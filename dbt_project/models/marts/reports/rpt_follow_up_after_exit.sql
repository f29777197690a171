{#- Follow-up after exit (delivery kind uppfoljning, contract 1.2) per
    intervention, exit cohort (exit year and exit half-year, as int_period_ends
    labels them) and time after exit in whole months.

    A follow-up is matched to its episode by (association, intervention,
    person_key, start_date): never by a personnummer, which the warehouse does
    not hold. Per slot (association, intervention, period) the latest received
    delivery is current; the same episode and time after exit in a later
    delivery replaces the earlier follow-up. A follow-up given only by date gets
    its months from the episode's exit (kpi_follow_up_months). Follow-ups that
    match no episode, or whose episode had not ended by the follow-up, are not
    dropped: they are counted in the row of cohort_type 'no_exit_cohort'
    (unmatched_follow_ups, follow_ups_before_exit). -#}
with stg_uppfoljning as (
    select * from {{ ref('stg_uppfoljning') }}
),

fct_participation as (
    select * from {{ ref('fct_participation') }}
),

int_period_ends as (
    select * from {{ ref('int_period_ends') }}
    where period_type in ('year', 'half_year')
),

deliveries as (
    select
        delivery_id,
        association_code,
        intervention_code,
        period,
        max(received_at) as received_at
    from stg_uppfoljning
    group by delivery_id, association_code, intervention_code, period
),

current_deliveries as (
    select delivery_id
    from (
        select
            delivery_id,
            row_number() over (
                partition by association_code, intervention_code, period
                order by received_at desc, delivery_id desc
            ) as rank_in_slot
        from deliveries
    ) as ranked
    where rank_in_slot = 1
),

follow_ups as (
    select
        stg_uppfoljning.uppfoljning_row_key,
        stg_uppfoljning.association_code,
        stg_uppfoljning.intervention_code,
        stg_uppfoljning.person_key,
        stg_uppfoljning.startdatum as start_date,
        stg_uppfoljning.uppfoljningsdatum,
        stg_uppfoljning.sysselsattning,
        stg_uppfoljning.forsorjning,
        stg_uppfoljning.period_end,
        stg_uppfoljning.received_at,
        stg_uppfoljning.source_row,
        episodes.episode_key,
        episodes.end_date,
        coalesce(
            stg_uppfoljning.uppfoljning_efter,
            case
                when episodes.end_date is not null and stg_uppfoljning.uppfoljningsdatum is not null
                    then {{ kpi_follow_up_months('episodes.end_date', 'stg_uppfoljning.uppfoljningsdatum') }}
            end
        ) as follow_up_months
    from stg_uppfoljning
    inner join current_deliveries
        on current_deliveries.delivery_id = stg_uppfoljning.delivery_id
    left join fct_participation as episodes
        on episodes.association_code = stg_uppfoljning.association_code
        and episodes.intervention_code = stg_uppfoljning.intervention_code
        and episodes.person_key = stg_uppfoljning.person_key
        and episodes.start_date = stg_uppfoljning.startdatum
),

latest as (
    select
        follow_ups.*,
        row_number() over (
            partition by
                association_code,
                intervention_code,
                coalesce(person_key, uppfoljning_row_key),
                start_date,
                coalesce(follow_up_months, -1),
                case when follow_up_months is null then uppfoljningsdatum end
            order by period_end desc, received_at desc, uppfoljningsdatum desc nulls last, source_row desc
        ) as version_rank
    from follow_ups
),

classified as (
    select
        latest.*,
        case
            when episode_key is null then 'unmatched'
            when end_date is null or uppfoljningsdatum < end_date then 'before_exit'
            else 'matched'
        end as match_status
    from latest
    where version_rank = 1
),

exits as (
    {%- for cohort_type in ['year', 'half_year'] %}
    select
        fct_participation.association_code,
        fct_participation.intervention_code,
        fct_participation.episode_key,
        int_period_ends.period_type as cohort_type,
        int_period_ends.period_label as cohort_label,
        int_period_ends.period_start as cohort_start,
        int_period_ends.period_end as cohort_end,
        int_period_ends.year as exit_year
    from fct_participation
    inner join int_period_ends
        on int_period_ends.period_type = '{{ cohort_type }}'
        and int_period_ends.period_start = {{ period_start_of(cohort_type, 'fct_participation.end_date') }}
    where fct_participation.end_date is not null
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

offsets as (
    select distinct
        association_code,
        intervention_code,
        follow_up_months
    from classified
    where follow_up_months is not null
),

cohorts as (
    select
        association_code,
        intervention_code,
        cohort_type,
        cohort_label,
        cohort_start,
        cohort_end,
        exit_year,
        count(*) as exits
    from exits
    group by association_code, intervention_code, cohort_type, cohort_label, cohort_start, cohort_end, exit_year
),

followed as (
    select
        exits.association_code,
        exits.intervention_code,
        exits.cohort_type,
        exits.cohort_start,
        classified.follow_up_months,
        count(*) as followed_up,
        {{ count_where(kpi_follow_up_in_work('classified.sysselsattning')) }} as in_work,
        {{ count_where(kpi_follow_up_in_studies('classified.sysselsattning')) }} as in_studies,
        {{ count_where(
            kpi_follow_up_in_work('classified.sysselsattning') ~ ' or ' ~ kpi_follow_up_in_studies('classified.sysselsattning')
        ) }} as in_work_or_studies,
        {{ count_where(kpi_is_public_support('classified.forsorjning')) }} as on_public_support
    from exits
    inner join classified
        on classified.episode_key = exits.episode_key
        and classified.match_status = 'matched'
    group by exits.association_code, exits.intervention_code, exits.cohort_type, exits.cohort_start, classified.follow_up_months
),

by_cohort as (
    select
        cohorts.association_code,
        cohorts.intervention_code,
        cohorts.cohort_type,
        cohorts.cohort_label,
        cohorts.cohort_start,
        cohorts.cohort_end,
        cohorts.exit_year,
        offsets.follow_up_months,
        cast(cohorts.exits as bigint) as exits,
        cast(coalesce(followed.followed_up, 0) as bigint) as followed_up,
        cast(cohorts.exits - coalesce(followed.followed_up, 0) as bigint) as exits_not_followed_up,
        cast(coalesce(followed.in_work, 0) as bigint) as in_work,
        cast(coalesce(followed.in_studies, 0) as bigint) as in_studies,
        cast(coalesce(followed.in_work_or_studies, 0) as bigint) as in_work_or_studies,
        cast(coalesce(followed.on_public_support, 0) as bigint) as on_public_support,
        cast(0 as bigint) as unmatched_follow_ups,
        cast(0 as bigint) as follow_ups_before_exit
    from cohorts
    inner join offsets
        on offsets.association_code = cohorts.association_code
        and offsets.intervention_code = cohorts.intervention_code
    left join followed
        on followed.association_code = cohorts.association_code
        and followed.intervention_code = cohorts.intervention_code
        and followed.cohort_type = cohorts.cohort_type
        and followed.cohort_start = cohorts.cohort_start
        and followed.follow_up_months = offsets.follow_up_months
),

without_cohort as (
    select
        association_code,
        intervention_code,
        'no_exit_cohort' as cohort_type,
        cast(null as varchar) as cohort_label,
        cast(null as date) as cohort_start,
        cast(null as date) as cohort_end,
        cast(null as integer) as exit_year,
        follow_up_months,
        cast(null as bigint) as exits,
        cast(null as bigint) as followed_up,
        cast(null as bigint) as exits_not_followed_up,
        cast(null as bigint) as in_work,
        cast(null as bigint) as in_studies,
        cast(null as bigint) as in_work_or_studies,
        cast(null as bigint) as on_public_support,
        {{ count_where("match_status = 'unmatched'") }} as unmatched_follow_ups,
        {{ count_where("match_status = 'before_exit'") }} as follow_ups_before_exit
    from classified
    where match_status <> 'matched'
    group by association_code, intervention_code, follow_up_months
),

combined as (
    select * from by_cohort
    union all
    select * from without_cohort
),

final as (
    select
        {{ finsam_key(['association_code', 'intervention_code', 'cohort_type', 'cohort_start', 'follow_up_months']) }} as follow_up_key,
        {{ finsam_key(['association_code', 'intervention_code']) }} as intervention_key,
        combined.*,
        {{ share_of_exits_followed_up() }} as share_of_exits_followed_up,
        {{ share_of_followed_up('in_work') }} as share_of_followed_up_in_work,
        {{ share_of_followed_up('in_studies') }} as share_of_followed_up_in_studies,
        {{ share_of_followed_up('in_work_or_studies') }} as share_of_followed_up_in_work_or_studies,
        {{ share_of_followed_up('on_public_support') }} as share_of_followed_up_on_public_support
    from combined
)

select * from final
