{{ publish_suppressed(
    ref('rpt_county_overview'),
    keys=['overview_key', 'association_code', 'year', 'interventions'],
    counts=['episodes', 'new_episodes', 'exits', 'exits_to_work_or_studies', 'anonymous_episodes', 'unique_people', 'people_in_several_interventions'],
    derived={'share_exits_to_work_or_studies': ['exits_to_work_or_studies', 'exits']},
) }}
