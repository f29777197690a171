{#- Dense: every category an intervention has had, in every year of the intervention (a row of zeros
    where the category had no one), as pub_rpt_profile_by_period, whose year entrants these rows
    repeat: a row left out would publish a zero the method hides (docs/disclosure.md, "Absent rows"). -#}
{{ publish_dense(
    ref('rpt_participant_profile'),
    key='profile_key',
    key_columns=['association_code', 'intervention_code', 'start_year', 'dimension', 'category'],
    categories=['dimension', 'category'],
    keys=['profile_key', 'association_code', 'intervention_code', 'start_year', 'dimension', 'category'],
    counts=['participants', 'participants_total'],
    derived={'share': ['participants', 'participants_total']},
    fills={
        'participants_total': 'coalesce(max(report.participants_total) over (partition by periods.association_code, periods.intervention_code, periods.year, categories.dimension), 0)',
    },
    period_match={'start_year': 'periods.year'},
    periods_from=years_of_interventions('start_year'),
) }}
