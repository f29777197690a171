{{ config(**finsam_incremental()) }}
{{ publish_suppressed(
    ref('rpt_support_transitions_by_period'),
    keys=['transition_period_key', 'period_key', 'association_code', 'intervention_code', 'period_type', 'period_label', 'period_start', 'period_end', 'measure_window', 'completeness_status', 'data_through', 'support_before', 'support_after'],
    counts=['exits', 'exits_with_support_before', 'exits_total'],
    derived={
        'share_of_support_before': ['exits', 'exits_with_support_before'],
        'share_of_exits': ['exits', 'exits_total'],
    },
    where=association_scope(),
) }}
