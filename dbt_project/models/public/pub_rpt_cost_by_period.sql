{{ publish_suppressed(
    ref('rpt_cost_by_period'),
    keys=['cost_period_key', 'period_key', 'association_code', 'intervention_code', 'period_type', 'period_label', 'period_start', 'period_end', 'measure_window', 'completeness_status', 'data_through', 'cost_from', 'actual_cost', 'cost_per_participant_null_reason', 'cost_per_exit_to_work_or_studies_null_reason'],
    counts=['participants', 'exits_to_work_or_studies'],
    derived={
        'cost_per_participant': ['participants'],
        'cost_per_exit_to_work_or_studies': ['exits_to_work_or_studies'],
    },
) }}
