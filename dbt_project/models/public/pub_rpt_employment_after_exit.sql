{#- Dense: every employment after exit an intervention has had, in every year of the intervention
    (a row of zeros in a year with no such exits): a row left out says "0" (docs/disclosure.md,
    "Absent rows"). The rows repeat the year rows of pub_rpt_employment_after_exit_by_period. -#}
{{ publish_dense(
    ref('rpt_employment_after_exit'),
    key='employment_key',
    key_columns=['association_code', 'intervention_code', 'exit_year', 'employment_after'],
    categories=['employment_after'],
    keys=['employment_key', 'association_code', 'intervention_code', 'exit_year', 'employment_after'],
    counts=['exits', 'exits_with_extent', 'exits_full_time'],
    derived={
        'avg_employment_extent_after': ['exits_with_extent'],
        'share_of_exits': ['exits'],
    },
    period_match={'exit_year': 'periods.year'},
    periods_from=years_of_interventions('exit_year'),
) }}
