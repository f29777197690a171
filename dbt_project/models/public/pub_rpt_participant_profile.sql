{{ publish_suppressed(
    ref('rpt_participant_profile'),
    keys=['profile_key', 'association_code', 'intervention_code', 'start_year', 'dimension', 'category'],
    counts=['participants', 'participants_total'],
    derived={'share': ['participants', 'participants_total']},
) }}
