{#- Every delivery due by the latest tracking run's date (meta.tracking_as_of: as_of and
    overdue_days, written by ingestion/outbound/reminders.py each run), with its due date.
    A view: it is current as soon as the tracking row is, without a rebuild; until the first
    tracking run it is empty (never the clock).

    From each registry association's current register (dim_intervention.in_current_register)
    and each intervention's cadence (T tertial, H half-year, M month, A year):
      deltagare  interventions with measurement_method PERSON   per the intervention's cadence
      volym      interventions with measurement_method VOLYM    per the intervention's cadence
      budget     every intervention                             per the intervention's cadence
      insatser   the association itself (ALL)                   tertial, from the tertial of its
                 first register delivery on (accepted or refused); if it never sent one, the
                 latest ended tertial
    A period is due once it has ended (period_end before as_of), from the intervention's
    start_date to its end_date (or as_of). The delivery is due overdue_days after the period's end. -#}
with dim_intervention as (
    select * from {{ ref('dim_intervention') }}
    where
        is_current
        and in_current_register
        and intervention_code <> 'ALL'
        and start_date is not null
),

registry_associations as (
    select * from {{ source('meta', 'registry_associations') }}
),

tracking_as_of as (
    select * from {{ source('meta', 'tracking_as_of') }}
),

int_period_ends as (
    select * from {{ ref('int_period_ends') }}
),

stg_load_ledger as (
    select * from {{ ref('stg_load_ledger') }}
    where kind = 'insatser' and status in ('accepted', 'accepted_with_warnings', 'quarantined')
),

interventions as (
    select
        dim_intervention.association_code,
        dim_intervention.intervention_code,
        dim_intervention.measurement_method,
        dim_intervention.start_date,
        dim_intervention.end_date,
        dim_intervention.reporting as cadence,
        dim_intervention.owner_email
    from dim_intervention
    inner join registry_associations
        on dim_intervention.association_code = registry_associations.association_code
),

intervention_kinds as (
    select
        interventions.*,
        'budget' as kind
    from interventions
    union all
    select
        interventions.*,
        case when measurement_method = 'PERSON' then 'deltagare' else 'volym' end as kind
    from interventions
    where measurement_method in ('PERSON', 'VOLYM')
),

intervention_periods as (
    select
        intervention_kinds.association_code,
        intervention_kinds.intervention_code,
        intervention_kinds.kind,
        int_period_ends.period_label as period,
        int_period_ends.period_start,
        int_period_ends.period_end,
        intervention_kinds.cadence,
        intervention_kinds.owner_email
    from intervention_kinds
    cross join tracking_as_of
    inner join int_period_ends
        on int_period_ends.period_type = case intervention_kinds.cadence
            when 'H' then 'half_year'
            when 'M' then 'month'
            when 'A' then 'year'
            else 'tertial'
        end
        and int_period_ends.period_end >= intervention_kinds.start_date
        and int_period_ends.period_start <= case
            when intervention_kinds.end_date < tracking_as_of.as_of then intervention_kinds.end_date
            else tracking_as_of.as_of
        end
        and int_period_ends.period_end < tracking_as_of.as_of
),

first_registers as (
    select
        stg_load_ledger.association_code,
        min(int_period_ends.period_start) as first_register_start
    from stg_load_ledger
    inner join int_period_ends
        on upper(stg_load_ledger.period) = int_period_ends.period_label
    group by stg_load_ledger.association_code
),

ended_tertials as (
    select
        registry_associations.association_code,
        registry_associations.data_team_email,
        first_registers.first_register_start,
        int_period_ends.period_label,
        int_period_ends.period_start,
        int_period_ends.period_end,
        row_number() over (
            partition by registry_associations.association_code
            order by int_period_ends.period_end desc
        ) as recency_rank
    from registry_associations
    cross join tracking_as_of
    inner join int_period_ends
        on int_period_ends.period_type = 'tertial'
        and int_period_ends.period_end < tracking_as_of.as_of
    left join first_registers
        on registry_associations.association_code = first_registers.association_code
    where int_period_ends.period_end >= coalesce(first_registers.first_register_start, {{ add_years('tracking_as_of.as_of', -1) }})
),

register_periods as (
    select
        association_code,
        'ALL' as intervention_code,
        'insatser' as kind,
        period_label as period,
        period_start,
        period_end,
        'T' as cadence,
        data_team_email as owner_email
    from ended_tertials
    where first_register_start is not null or recency_rank = 1
),

due as (
    select * from intervention_periods
    union all
    select * from register_periods
),

final as (
    select
        due.association_code,
        due.intervention_code,
        due.kind,
        due.period,
        due.period_start,
        due.period_end,
        due.cadence,
        {{ add_days('due.period_end', 'tracking_as_of.overdue_days') }} as due_date,
        due.owner_email,
        tracking_as_of.as_of,
        tracking_as_of.overdue_days
    from due
    cross join tracking_as_of
)

select * from final
