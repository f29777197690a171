{{ config(materialized='view') }}
{#- One row per delivery due by the latest tracking run's date (int_deliveries_due), with its
    status on that date, what the ledger says arrived and the reminder sent. A view, not a
    table: the tracking step (ingestion/outbound/reminders.py) writes meta.tracking_as_of after
    the build, and this view is then current; the reminders are read from it. Statuses are
    decided here, once:

    A delivery of the same (association, intervention, kind) covers the period when, for the
    cumulative kinds (deltagare, insatser), its period ends on or after the period's end; for
    budget, the same in the same year; for volym, its period contains the period.

      received       the first accepted covering delivery came by the due date, or after
                     as_of (a backfill or the demo cannot tell whether it came late)
      received_late  it came after the due date (and on or before as_of)
      overdue        no accepted covering delivery, and as_of is past the due date
      quarantined    not yet due; only refused covering deliveries came
      awaiting       not yet due; nothing covering came -#}
with int_deliveries_due as (
    select * from {{ ref('int_deliveries_due') }}
),

stg_load_ledger as (
    select * from {{ ref('stg_load_ledger') }}
    where status in ('accepted', 'accepted_with_warnings', 'quarantined')
),

int_period_ends as (
    select * from {{ ref('int_period_ends') }}
),

reminders as (
    select * from {{ source('meta', 'reminders') }}
),

delivered as (
    select
        stg_load_ledger.delivery_id,
        stg_load_ledger.association_code,
        stg_load_ledger.intervention_code,
        stg_load_ledger.kind,
        stg_load_ledger.file_name,
        stg_load_ledger.status,
        stg_load_ledger.reason,
        stg_load_ledger.received_at,
        stg_load_ledger.loaded_at,
        int_period_ends.period_start,
        int_period_ends.period_end
    from stg_load_ledger
    inner join int_period_ends
        on upper(stg_load_ledger.period) = int_period_ends.period_label
),

covering as (
    select
        int_deliveries_due.association_code,
        int_deliveries_due.intervention_code,
        int_deliveries_due.kind,
        int_deliveries_due.period,
        delivered.delivery_id,
        delivered.file_name,
        delivered.status,
        delivered.reason,
        delivered.received_at,
        delivered.status in ('accepted', 'accepted_with_warnings') as is_accepted,
        row_number() over (
            partition by
                int_deliveries_due.association_code, int_deliveries_due.intervention_code,
                int_deliveries_due.kind, int_deliveries_due.period
            order by delivered.received_at desc, delivered.loaded_at desc, delivered.delivery_id desc
        ) as recency_rank,
        row_number() over (
            partition by
                int_deliveries_due.association_code, int_deliveries_due.intervention_code,
                int_deliveries_due.kind, int_deliveries_due.period,
                delivered.status in ('accepted', 'accepted_with_warnings')
            order by delivered.received_at asc, delivered.loaded_at asc, delivered.delivery_id asc
        ) as arrival_rank,
        count(*) over (
            partition by
                int_deliveries_due.association_code, int_deliveries_due.intervention_code,
                int_deliveries_due.kind, int_deliveries_due.period
        ) as deliveries
    from int_deliveries_due
    inner join delivered
        on int_deliveries_due.association_code = delivered.association_code
        and int_deliveries_due.intervention_code = delivered.intervention_code
        and int_deliveries_due.kind = delivered.kind
        and delivered.period_end >= int_deliveries_due.period_end
        and (
            int_deliveries_due.kind in ('deltagare', 'insatser')
            or (
                int_deliveries_due.kind = 'budget'
                and {{ year_of('delivered.period_start') }} = {{ year_of('int_deliveries_due.period_start') }}
            )
            or (int_deliveries_due.kind = 'volym' and delivered.period_start <= int_deliveries_due.period_start)
        )
),

latest as (
    select * from covering
    where recency_rank = 1
),

accepted as (
    select * from covering
    where is_accepted and arrival_rank = 1
),

statused as (
    select
        int_deliveries_due.*,
        coalesce(latest.deliveries, 0) as deliveries,
        accepted.file_name as accepted_file_name,
        accepted.received_at as accepted_at,
        latest.file_name as latest_file_name,
        latest.status as latest_status,
        latest.received_at as latest_received_at,
        latest.reason as latest_reason,
        case
            when
                accepted.delivery_id is not null
                and (
                    cast(accepted.received_at as date) <= int_deliveries_due.due_date
                    or cast(accepted.received_at as date) > int_deliveries_due.as_of
                )
                then 'received'
            when accepted.delivery_id is not null then 'received_late'
            when int_deliveries_due.as_of > int_deliveries_due.due_date then 'overdue'
            when latest.delivery_id is not null then 'quarantined'
            else 'awaiting'
        end as status
    from int_deliveries_due
    left join latest
        on int_deliveries_due.association_code = latest.association_code
        and int_deliveries_due.intervention_code = latest.intervention_code
        and int_deliveries_due.kind = latest.kind
        and int_deliveries_due.period = latest.period
    left join accepted
        on int_deliveries_due.association_code = accepted.association_code
        and int_deliveries_due.intervention_code = accepted.intervention_code
        and int_deliveries_due.kind = accepted.kind
        and int_deliveries_due.period = accepted.period
),

final as (
    select
        (
            statused.association_code || '_' || statused.intervention_code || '_'
            || statused.kind || '_' || statused.period
        ) as delivery_key,
        statused.association_code,
        statused.intervention_code,
        statused.kind,
        statused.period,
        statused.period_start,
        statused.period_end,
        statused.cadence,
        statused.due_date,
        statused.as_of,
        statused.status,
        case when statused.status = 'overdue' then cast(statused.as_of - statused.due_date as integer) end as days_overdue,
        cast(statused.deliveries as integer) as deliveries,
        statused.accepted_file_name,
        statused.accepted_at,
        statused.latest_file_name,
        statused.latest_status,
        statused.latest_received_at,
        statused.latest_reason,
        statused.owner_email,
        reminders.status as reminder_status,
        reminders.first_tried_at as reminder_first_tried_at,
        reminders.sent_at as reminder_sent_at,
        reminders.attempts as reminder_attempts
    from statused
    left join reminders
        on statused.association_code = reminders.association_code
        and statused.intervention_code = reminders.intervention_code
        and statused.kind = reminders.kind
        and statused.period = reminders.period
)

select * from final
