{{ config(**finsam_incremental()) }}
{{ publish_suppressed(
    ref('rpt_profile_by_period'),
    keys=['profile_period_key', 'period_key', 'association_code', 'intervention_code', 'period_type', 'period_label', 'period_start', 'period_end', 'measure_window', 'completeness_status', 'data_through', 'dimension', 'category'],
    counts=['participants', 'carried_in', 'entrants', 'exits', 'active_at_period_end', 'participants_total', 'entrants_total', 'exits_total'],
    derived={
        'share_of_participants': ['participants', 'participants_total'],
        'share_of_entrants': ['entrants', 'entrants_total'],
        'share_of_exits': ['exits', 'exits_total'],
    },
    where=association_scope(),
) }}
