{{ publish_suppressed(
    ref('rpt_county_overview'),
    keys=['overview_key', 'scope', 'association_code', 'year', 'interventions'],
    counts=['episodes', 'new_episodes', 'exits', 'exits_to_work_or_studies', 'anonymous_episodes', 'unique_people', 'people_in_several_interventions', 'people_in_several_associations', 'unique_people_to_date', 'people_in_several_interventions_to_date', 'people_in_several_associations_to_date'],
    derived={'share_of_exits_to_work_or_studies': ['exits_to_work_or_studies', 'exits']},
) }}
