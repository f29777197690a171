{{ config(**finsam_incremental()) }}
{{ publish_suppressed(
    ref('rpt_time_in_intervention_by_period'),
    keys=['time_period_key', 'period_key', 'association_code', 'intervention_code', 'period_type', 'period_label', 'period_start', 'period_end', 'measure_window', 'completeness_status', 'data_through', 'age_band_scheme', 'sex', 'age_band'],
    counts=['exits'],
    derived={
        'avg_months_in_intervention': ['exits'],
        'median_months_in_intervention': ['exits'],
    },
    where=association_scope(),
) }}
