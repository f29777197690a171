{{ config(**finsam_incremental()) }}
{{ publish_suppressed(
    ref('rpt_outcomes_by_period'),
    keys=['outcome_period_key', 'period_key', 'association_code', 'intervention_code', 'period_type', 'period_label', 'period_start', 'period_end', 'measure_window', 'completeness_status', 'data_through'],
    counts=['participants', 'carried_in', 'entrants', 'active_at_period_end', 'exits', 'early_dropouts', 'exits_excl_dropouts', 'exits_to_work', 'exits_to_subsidised_work', 'exits_to_studies', 'exits_to_rehab', 'exits_to_sje_ake', 'exits_to_other', 'exits_to_work_studies_rehab', 'exits_to_work_or_studies'],
    derived={
        'share_of_exits_excl_dropouts_to_work_studies_rehab': ['exits_to_work_studies_rehab', 'exits_excl_dropouts'],
        'share_of_exits_to_work_or_studies': ['exits_to_work_or_studies', 'exits'],
        'avg_months_in_intervention': ['exits'],
        'median_months_in_intervention': ['exits'],
    },
    where=association_scope(),
) }}
