{{ config(**finsam_incremental()) }}
{#- Dense: every support before x after an intervention has had, in every year of the intervention
    (a row of zeros in a year with no such exits): a row left out says "0" (docs/disclosure.md,
    "Absent rows"). The rows repeat the year rows of pub_rpt_support_transitions_by_period. -#}
{{ publish_dense(
    ref('rpt_support_transitions'),
    key='transition_key',
    key_columns=['association_code', 'intervention_code', 'exit_year', 'support_before', 'support_after'],
    categories=['support_before', 'support_after'],
    keys=['transition_key', 'association_code', 'intervention_code', 'exit_year', 'support_before', 'support_after'],
    counts=['exits', 'exits_with_support_before', 'exits_total'],
    derived={
        'share_of_support_before': ['exits', 'exits_with_support_before'],
        'share_of_exits': ['exits', 'exits_total'],
    },
    fills={
        'exits_with_support_before': 'coalesce(max(report.exits_with_support_before) over (partition by periods.association_code, periods.intervention_code, periods.year, categories.support_before), 0)',
        'exits_total': 'coalesce(max(report.exits_total) over (partition by periods.association_code, periods.intervention_code, periods.year), 0)',
    },
    where=association_scope(),
    period_match={'exit_year': 'periods.year'},
    periods_from=years_of_interventions('exit_year'),
) }}
