{{ publish_suppressed(
    ref('rpt_follow_up_after_exit'),
    keys=['follow_up_key', 'intervention_key', 'association_code', 'intervention_code', 'cohort_type', 'cohort_label',
          'cohort_start', 'cohort_end', 'exit_year', 'follow_up_months'],
    counts=['exits', 'followed_up', 'exits_not_followed_up', 'in_work', 'in_studies', 'in_work_or_studies',
            'on_public_support', 'unmatched_follow_ups', 'follow_ups_before_exit'],
    derived={
        'share_of_exits_followed_up': ['followed_up', 'exits'],
        'share_of_followed_up_in_work': ['in_work', 'followed_up'],
        'share_of_followed_up_in_studies': ['in_studies', 'followed_up'],
        'share_of_followed_up_in_work_or_studies': ['in_work_or_studies', 'followed_up'],
        'share_of_followed_up_on_public_support': ['on_public_support', 'followed_up'],
    },
) }}
