{#- Every (intervention, period type, period) that is due, with how complete its
    participant data is. A period is due once its association has reported past it (a
    participant or register delivery whose period ends on or after the period's end, or a
    refused delivery of the intervention itself), from the intervention's first day
    (register start_date or first episode) to its register end_date.

      complete          accepted participant data reaches the period's end (data_through),
                        and the first delivery that did came by its due date
      late              the same, but that delivery came after its due date (the end of the
                        reporting-cadence period + finsam_overdue_days)
      quarantined       the data does not reach the period's end, and a refused delivery
                        (quarantine) would have filled some of the gap: its period ends after
                        data_through and starts on or before the period's end
      missing_delivery  the data does not reach the period's end and nothing covering it came

    The period reports (rpt_*_by_period) carry this status; their figures for a period that
    is not complete count what the data holds up to data_through. -#}
with int_intervention_spans as (
    select * from {{ ref('int_intervention_spans') }}
),

int_period_ends as (
    select * from {{ ref('int_period_ends') }}
),

int_deliveries_current as (
    select * from {{ ref('int_deliveries_current') }}
    where kind = 'deltagare'
),

stg_load_ledger as (
    select * from {{ ref('stg_load_ledger') }}
    where kind = 'deltagare' and status = 'quarantined'
),

calendar_periods as (
    select
        int_intervention_spans.association_code,
        int_intervention_spans.intervention_code,
        int_period_ends.period_type,
        int_period_ends.period_label,
        int_period_ends.period_start,
        int_period_ends.period_end
    from int_intervention_spans
    inner join int_period_ends
        on int_period_ends.period_end >= int_intervention_spans.project_start
        and int_period_ends.period_start <= int_intervention_spans.report_end
),

operating_year_bounds as (
    select
        int_intervention_spans.association_code,
        int_intervention_spans.intervention_code,
        {{ add_years(
            'int_intervention_spans.operating_year_anchor',
            'int_period_ends.year - ' ~ year_of('int_intervention_spans.operating_year_anchor')
        ) }} as period_start,
        {{ add_days(add_years(
            'int_intervention_spans.operating_year_anchor',
            'int_period_ends.year - ' ~ year_of('int_intervention_spans.operating_year_anchor') ~ ' + 1'
        ), -1) }} as period_end
    from int_intervention_spans
    inner join int_period_ends
        on int_period_ends.period_type = 'year'
        and int_period_ends.year >= {{ year_of('int_intervention_spans.project_start') }} - 1
        and int_period_ends.year <= {{ year_of('int_intervention_spans.report_end') }}
),

operating_years as (
    select
        association_code,
        intervention_code,
        'operating_year' as period_type,
        case
            when {{ year_of('period_start') }} = {{ year_of('period_end') }} then cast({{ year_of('period_start') }} as varchar)
            else cast({{ year_of('period_start') }} as varchar) || '/' || right(cast({{ year_of('period_end') }} as varchar), 2)
        end as period_label,
        period_start,
        period_end
    from operating_year_bounds
),

project_to_date as (
    select
        association_code,
        intervention_code,
        'project_to_date' as period_type,
        cast(project_start as varchar) || '..' || cast(report_end as varchar) as period_label,
        project_start as period_start,
        report_end as period_end
    from int_intervention_spans
),

periods as (
    select * from calendar_periods
    union all
    select * from operating_years
    union all
    select * from project_to_date
),

due as (
    select
        periods.*,
        int_intervention_spans.intervention_key,
        int_intervention_spans.cadence,
        int_intervention_spans.data_through,
        case
            when int_intervention_spans.register_end < periods.period_end then int_intervention_spans.register_end
            else periods.period_end
        end as data_required_through
    from periods
    inner join int_intervention_spans
        on periods.association_code = int_intervention_spans.association_code
        and periods.intervention_code = int_intervention_spans.intervention_code
    where periods.period_end >= int_intervention_spans.project_start
        and periods.period_start <= int_intervention_spans.report_end
        and (
            case
                when int_intervention_spans.register_end < periods.period_end then int_intervention_spans.register_end
                else periods.period_end
            end
        ) <= int_intervention_spans.report_horizon
),

first_covering as (
    select
        due.association_code,
        due.intervention_code,
        due.period_type,
        due.period_start,
        min(int_deliveries_current.received_at) as data_received_at
    from due
    inner join int_deliveries_current
        on due.association_code = int_deliveries_current.association_code
        and due.intervention_code = int_deliveries_current.intervention_code
        and int_deliveries_current.period_end >= due.data_required_through
    group by due.association_code, due.intervention_code, due.period_type, due.period_start
),

refused_covering as (
    select
        due.association_code,
        due.intervention_code,
        due.period_type,
        due.period_start,
        stg_load_ledger.file_name,
        stg_load_ledger.received_at,
        row_number() over (
            partition by due.association_code, due.intervention_code, due.period_type, due.period_start
            order by stg_load_ledger.received_at desc, stg_load_ledger.file_name desc
        ) as refusal_rank
    from due
    inner join stg_load_ledger
        on due.association_code = stg_load_ledger.association_code
        and due.intervention_code = stg_load_ledger.intervention_code
    inner join int_period_ends
        on upper(stg_load_ledger.period) = int_period_ends.period_label
        and int_period_ends.period_start <= due.data_required_through
        and (due.data_through is null or int_period_ends.period_end > due.data_through)
),

statused as (
    select
        due.*,
        first_covering.data_received_at,
        {{ add_days(cadence_period_end_of('due.cadence', 'due.data_required_through'), overdue_days()) }} as due_date,
        refused_covering.file_name as quarantined_file_name,
        refused_covering.received_at as quarantined_at
    from due
    left join first_covering
        on due.association_code = first_covering.association_code
        and due.intervention_code = first_covering.intervention_code
        and due.period_type = first_covering.period_type
        and due.period_start = first_covering.period_start
    left join refused_covering
        on due.association_code = refused_covering.association_code
        and due.intervention_code = refused_covering.intervention_code
        and due.period_type = refused_covering.period_type
        and due.period_start = refused_covering.period_start
        and refused_covering.refusal_rank = 1
),

final as (
    select
        {{ finsam_key(['association_code', 'intervention_code', 'period_type', 'period_start']) }} as period_key,
        intervention_key,
        association_code,
        intervention_code,
        period_type,
        period_label,
        period_start,
        period_end,
        data_required_through,
        data_through,
        case
            when coalesce(data_through >= data_required_through, false)
                then case when cast(data_received_at as date) <= due_date then 'complete' else 'late' end
            when quarantined_file_name is not null then 'quarantined'
            else 'missing_delivery'
        end as completeness_status,
        coalesce(data_through >= data_required_through, false) as is_data_complete,
        due_date,
        data_received_at,
        case when not coalesce(data_through >= data_required_through, false) then quarantined_file_name end as quarantined_file_name,
        case when not coalesce(data_through >= data_required_through, false) then quarantined_at end as quarantined_at
    from statused
)

select * from final
