{#- Participants active during the period (deltagare) and counts (volym) of every current
    delivery, compared with the intervention's previous period of the same kind: one row per
    delivery, with the flag the GX suite expectations/participant_counts.final.json checks. GX
    validates this table in the facts step (ingestion/quality/facts.py), per association.

      _count_jump_ok  the count changed by at most finsam_jump_factor times from the previous
                      period (FINSAM_JUMP_FACTOR; null for an intervention's first period)

    Compared without division (larger <= factor x smaller, the smaller at least 1), so the
    verdict is the same on DuckDB and PostgreSQL. -#}
with int_deliveries_current as (
    select * from {{ ref('int_deliveries_current') }}
    where is_current and kind in ('deltagare', 'volym')
),

stg_deltagare as (
    select * from {{ ref('stg_deltagare') }}
),

stg_volym as (
    select * from {{ ref('stg_volym') }}
),

participants as (
    select
        delivery_id,
        {{ count_where(
            kpi_is_active_during('startdatum', 'slutdatum', 'period_start', 'period_end')
            ~ ' and not ' ~ kpi_is_felreg('avslutsanledning')
        ) }} as participant_count
    from stg_deltagare
    group by delivery_id
),

volumes as (
    select
        delivery_id,
        coalesce(sum(antal), 0) as participant_count
    from stg_volym
    group by delivery_id
),

counted as (
    select
        int_deliveries_current.delivery_id,
        int_deliveries_current.association_code,
        int_deliveries_current.intervention_code,
        int_deliveries_current.kind,
        int_deliveries_current.period,
        int_deliveries_current.period_start,
        int_deliveries_current.period_end,
        cast(coalesce(participants.participant_count, volumes.participant_count, 0) as integer) as participant_count
    from int_deliveries_current
    left join participants
        on int_deliveries_current.delivery_id = participants.delivery_id
    left join volumes
        on int_deliveries_current.delivery_id = volumes.delivery_id
),

sequenced as (
    select
        counted.*,
        lag(participant_count) over (
            partition by association_code, intervention_code, kind
            order by period_end, period_start
        ) as previous_count,
        lag(period) over (
            partition by association_code, intervention_code, kind
            order by period_end, period_start
        ) as previous_period,
        cast({{ var('finsam_jump_factor') }} as double precision) as jump_factor
    from counted
),

final as (
    select
        delivery_id,
        association_code,
        intervention_code,
        kind,
        period,
        period_start,
        period_end,
        participant_count,
        previous_count,
        previous_period,
        jump_factor,
        case
            when previous_count is not null
                then greatest(participant_count, previous_count) <= jump_factor * greatest(least(participant_count, previous_count), 1)
        end as _count_jump_ok
    from sequenced
)

select * from final
