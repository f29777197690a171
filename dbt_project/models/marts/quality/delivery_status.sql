{{ config(materialized='view') }}
{#- One row per delivery the intervention registers say is due, with its status
    as of the latest tracking run (ingestion/tracking.py writes
    meta.expected_deliveries each run, for the run's date, and meta.reminders),
    and what the ledger says arrived. A view, not a table: tracking runs after
    the build, so the warehouse always shows the latest run. Statuses are
    decided once, in tracking.py. -#}
{%- set expected = optional_source('quality', 'expected_deliveries') %}
{%- set reminders = optional_source('quality', 'reminders') %}
with expected_deliveries as (
    {% if expected is not none -%}
    select * from {{ expected }}
    {%- else -%}
    select
        cast(null as varchar) as association_code,
        cast(null as varchar) as intervention_code,
        cast(null as varchar) as kind,
        cast(null as varchar) as period,
        cast(null as date) as period_start,
        cast(null as date) as period_end,
        cast(null as varchar) as cadence,
        cast(null as date) as due_date,
        cast(null as varchar) as owner_email,
        cast(null as date) as as_of,
        cast(null as varchar) as status,
        cast(null as integer) as days_overdue,
        cast(null as integer) as deliveries,
        cast(null as varchar) as accepted_delivery_id,
        cast(null as timestamp) as accepted_at,
        cast(null as varchar) as latest_delivery_id,
        cast(null as varchar) as latest_status
    where 1 = 0
    {%- endif %}
),

reminders as (
    {% if reminders is not none -%}
    select * from {{ reminders }}
    {%- else -%}
    select
        cast(null as varchar) as association_code,
        cast(null as varchar) as intervention_code,
        cast(null as varchar) as kind,
        cast(null as varchar) as period,
        cast(null as varchar) as recipient,
        cast(null as varchar) as status,
        cast(null as integer) as attempts,
        cast(null as timestamp) as first_tried_at,
        cast(null as timestamp) as sent_at,
        cast(null as date) as as_of
    where 1 = 0
    {%- endif %}
),

load_ledger as (
    select * from {{ source('meta', 'load_ledger') }}
),

final as (
    select
        (
            expected_deliveries.association_code || '_' || expected_deliveries.intervention_code || '_'
            || expected_deliveries.kind || '_' || expected_deliveries.period
        ) as delivery_key,
        expected_deliveries.association_code,
        expected_deliveries.intervention_code,
        expected_deliveries.kind,
        expected_deliveries.period,
        expected_deliveries.period_start,
        expected_deliveries.period_end,
        expected_deliveries.cadence,
        expected_deliveries.due_date,
        expected_deliveries.as_of,
        expected_deliveries.status,
        expected_deliveries.days_overdue,
        expected_deliveries.deliveries,
        accepted.file_name as accepted_file_name,
        expected_deliveries.accepted_at,
        latest.file_name as latest_file_name,
        latest.status as latest_status,
        latest.received_at as latest_received_at,
        latest.reason as latest_reason,
        expected_deliveries.owner_email,
        reminders.status as reminder_status,
        reminders.first_tried_at as reminder_first_tried_at,
        reminders.sent_at as reminder_sent_at,
        reminders.attempts as reminder_attempts
    from expected_deliveries
    left join load_ledger as accepted
        on expected_deliveries.accepted_delivery_id = accepted.delivery_id
    left join load_ledger as latest
        on expected_deliveries.latest_delivery_id = latest.delivery_id
    left join reminders
        on expected_deliveries.association_code = reminders.association_code
        and expected_deliveries.intervention_code = reminders.intervention_code
        and expected_deliveries.kind = reminders.kind
        and expected_deliveries.period = reminders.period
)

select * from final
