{{ publish_suppressed(
    ref('rpt_budget_outcome'),
    keys=['budget_outcome_key', 'association_code', 'intervention_code', 'year', 'period_end', 'budget', 'actual', 'difference_reported', 'difference_computed', 'mismatched_lines', 'forecast', 'granted', 'budget_minus_granted', 'budget_differs_from_granted', 'participant_data_through', 'cost_per_participant_null_reason', 'cost_per_exit_to_work_or_studies_null_reason'],
    counts=['participants_year_to_date', 'exits_to_work_or_studies_year_to_date'],
    derived={
        'cost_per_participant': ['participants_year_to_date'],
        'cost_per_exit_to_work_or_studies': ['exits_to_work_or_studies_year_to_date'],
    },
) }}
