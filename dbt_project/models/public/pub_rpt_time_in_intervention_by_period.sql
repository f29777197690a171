{{ config(**finsam_incremental()) }}
{#- Dense: every sex x age band group an intervention has had, in every period and measure window (a
    row of zeros in a period with no exits of the group): a row left out says "0" and tells when
    the group's people left (docs/disclosure.md, "Absent rows"). -#}
{{ publish_dense(
    ref('rpt_time_in_intervention_by_period'),
    key='time_period_key',
    key_columns=['period_key', 'measure_window', 'age_band_scheme', 'sex', 'age_band'],
    categories=['age_band_scheme', 'sex', 'age_band'],
    keys=['time_period_key', 'period_key', 'association_code', 'intervention_code', 'period_type', 'period_label', 'period_start', 'period_end', 'measure_window', 'completeness_status', 'data_through', 'age_band_scheme', 'sex', 'age_band'],
    counts=['exits'],
    derived={
        'avg_months_in_intervention': ['exits'],
        'median_months_in_intervention': ['exits'],
    },
    where=association_scope(),
) }}
