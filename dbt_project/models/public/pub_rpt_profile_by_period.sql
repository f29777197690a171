{{ config(**finsam_incremental()) }}
{#- Dense: every category an intervention has had, in every period of the profile's period types (a
    row of zeros where the category had no one). A row left out would publish a zero, which the method
    hides like 1-4, and would end a category's chain of periods (carried in = the previous period's
    active) where an attacker can pin the next figure (docs/disclosure.md, "Absent rows"). -#}
{{ publish_dense(
    ref('rpt_profile_by_period'),
    key='profile_period_key',
    key_columns=['period_key', 'measure_window', 'dimension', 'category'],
    categories=['dimension', 'category'],
    keys=['profile_period_key', 'period_key', 'association_code', 'intervention_code', 'period_type', 'period_label', 'period_start', 'period_end', 'measure_window', 'completeness_status', 'data_through', 'dimension', 'category'],
    counts=['participants', 'carried_in', 'entrants', 'exits', 'active_at_period_end', 'participants_total', 'entrants_total', 'exits_total'],
    derived={
        'share_of_participants': ['participants', 'participants_total'],
        'share_of_entrants': ['entrants', 'entrants_total'],
        'share_of_exits': ['exits', 'exits_total'],
    },
    copies={'participants_total': 'periods.participants', 'entrants_total': 'periods.entrants', 'exits_total': 'periods.exits'},
    where=association_scope(),
) }}
