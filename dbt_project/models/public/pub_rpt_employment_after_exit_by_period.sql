{{ config(**finsam_incremental()) }}
{#- Dense: every employment after exit an intervention has had, in every period and measure window
    (a row of zeros in a period with no such exits): a row left out says "0" (docs/disclosure.md,
    "Absent rows"). -#}
{{ publish_dense(
    ref('rpt_employment_after_exit_by_period'),
    key='employment_period_key',
    key_columns=['period_key', 'measure_window', 'employment_after'],
    categories=['employment_after'],
    keys=['employment_period_key', 'period_key', 'association_code', 'intervention_code', 'period_type', 'period_label', 'period_start', 'period_end', 'measure_window', 'completeness_status', 'data_through', 'employment_after'],
    counts=['exits', 'exits_with_extent', 'exits_full_time', 'exits_total'],
    derived={
        'avg_employment_extent_after': ['exits_with_extent'],
        'share_of_exits': ['exits', 'exits_total'],
    },
    copies={'exits_total': 'periods.exits'},
    where=association_scope(),
) }}
