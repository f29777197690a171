{#- Target attainment for publication: the outcome, and whether it was met, are hidden when a
    count it is computed from (participants; exits to work/studies/rehabilitation and exits
    excluding drop-outs; exits) is below the suppression threshold. -#}
{{ publish_suppressed(
    ref('int_target_attainment'),
    keys=['target_attainment_key', 'association_code', 'intervention_code', 'period_type', 'period_label', 'period_start', 'period_end', 'target_code', 'target_label', 'target_value', 'note'],
    counts=[],
    derived={
        'actual_value': ['basis_numerator', 'basis_denominator'],
        'met': ['basis_numerator', 'basis_denominator'],
    },
) }}
