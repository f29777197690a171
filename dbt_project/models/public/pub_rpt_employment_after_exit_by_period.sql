{{ config(**finsam_incremental()) }}
{{ publish_suppressed(
    ref('rpt_employment_after_exit_by_period'),
    keys=['employment_period_key', 'period_key', 'association_code', 'intervention_code', 'period_type', 'period_label', 'period_start', 'period_end', 'measure_window', 'completeness_status', 'data_through', 'employment_after'],
    counts=['exits', 'exits_with_extent', 'exits_full_time', 'exits_total'],
    derived={
        'avg_employment_extent_after': ['exits_with_extent'],
        'share_of_exits': ['exits', 'exits_total'],
    },
    where=association_scope(),
) }}
