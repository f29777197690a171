{{ publish_suppressed(
    ref('rpt_employment_after_exit'),
    keys=['employment_key', 'association_code', 'intervention_code', 'exit_year', 'sysselsattning_efter'],
    counts=['exits', 'exits_with_extent', 'exits_full_time'],
    derived={
        'avg_omfattning_efter': ['exits_with_extent'],
        'share_of_exits': ['exits'],
    },
) }}
