{#- min_days_between / max_days_between are one person's own figures: not published. -#}
{{ publish_suppressed(
    ref('rpt_pathways'),
    keys=['pathway_key', 'pathway_step', 'from_association_code', 'from_intervention_code', 'to_association_code', 'to_intervention_code', 'year', 'is_re_entry', 'is_cross_association'],
    counts=['steps', 'people', 'overlapping_steps', 'steps_with_days_between'],
    derived={
        'avg_days_between': ['steps_with_days_between'],
        'median_days_between': ['steps_with_days_between'],
    },
) }}
