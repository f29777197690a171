{{ config(**finsam_incremental()) }}
{#- No months: a sex x age band group of an intervention has a person or two in a month, every such
    count is hidden (none of the sample's 20 972 was shown), and the month a group first appears
    told when an intervention's few people came and left (docs/disclosure.md, "Absent rows"). The
    tertials, half-years and years are published, as in the profile; the mart keeps the months.
    Dense: every sex x age band group an intervention has had, in every one of those periods up to
    the end of its participant data, as the report (a row of zeros before the group's first person
    came). -#}
{{ publish_dense(
    ref('rpt_intervention_outcomes_by_group'),
    key='outcome_group_key',
    key_columns=['association_code', 'intervention_code', 'period_type', 'period_end', 'sex', 'age_band'],
    categories=['sex', 'age_band'],
    keys=['outcome_group_key', 'association_code', 'intervention_code', 'period_type', 'period_label', 'period_start', 'period_end', 'sex', 'age_band'],
    counts=['enrolled_to_date', 'active_at_period_end', 'new_in_period', 'exits_to_date', 'exits_in_period', 'early_dropouts', 'exits_excl_dropouts', 'exits_to_work', 'to_subsidised_work', 'to_studies', 'to_rehab', 'to_sje_ake', 'to_other', 'exits_to_work_studies_rehab'],
    derived={
        'share_work_studies_rehab': ['exits_to_work_studies_rehab', 'exits_excl_dropouts'],
        'avg_months_in_intervention': ['exits_to_date'],
        'median_months_in_intervention': ['exits_to_date'],
    },
    where=association_scope() ~ " and period_type <> 'month'",
    period_match={'period_type': 'periods.period_type', 'period_end': 'periods.period_end'},
    period_where="measure_window = 'to_date' and period_end <= data_through and period_type in (select distinct report.period_type from report)",
) }}
