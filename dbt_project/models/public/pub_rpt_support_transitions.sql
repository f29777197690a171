{{ config(**finsam_incremental()) }}
{{ publish_suppressed(
    ref('rpt_support_transitions'),
    keys=['transition_key', 'association_code', 'intervention_code', 'exit_year', 'support_before', 'support_after'],
    counts=['exits', 'exits_with_support_before', 'exits_total'],
    derived={
        'share_of_support_before': ['exits', 'exits_with_support_before'],
        'share_of_exits': ['exits', 'exits_total'],
    },
    where=association_scope(),
) }}
