{{ config(**finsam_incremental()) }}
{#- Dense: every support before x after an intervention has had, in every period and measure window
    (a row of zeros in a period with no such exits): a row left out says "0" (docs/disclosure.md,
    "Absent rows"). An added row copies the period's exits and its support-before group's exits
    (0 when the group had none). -#}
{{ publish_dense(
    ref('rpt_support_transitions_by_period'),
    key='transition_period_key',
    key_columns=['period_key', 'measure_window', 'support_before', 'support_after'],
    categories=['support_before', 'support_after'],
    keys=['transition_period_key', 'period_key', 'association_code', 'intervention_code', 'period_type', 'period_label', 'period_start', 'period_end', 'measure_window', 'completeness_status', 'data_through', 'support_before', 'support_after'],
    counts=['exits', 'exits_with_support_before', 'exits_total'],
    derived={
        'share_of_support_before': ['exits', 'exits_with_support_before'],
        'share_of_exits': ['exits', 'exits_total'],
    },
    copies={'exits_total': 'periods.exits'},
    fills={
        'exits_with_support_before': "case when categories.support_before = 'ALL' then periods.exits else coalesce(max(case when report.support_after = 'ALL' then report.exits end) over (partition by periods.period_key, periods.measure_window, categories.support_before), 0) end",
    },
    where=association_scope(),
    grid_where=in_support_matrix('periods.period_type', 'categories.support_before', 'categories.support_after'),
) }}
