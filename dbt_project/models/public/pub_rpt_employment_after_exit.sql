{{ publish_suppressed(
    ref('rpt_employment_after_exit'),
    keys=['employment_key', 'association_code', 'intervention_code', 'exit_year', 'employment_after'],
    counts=['exits', 'exits_with_extent', 'exits_full_time'],
    derived={
        'avg_employment_extent_after': ['exits_with_extent'],
        'share_of_exits': ['exits'],
    },
) }}
