{{ config(**finsam_incremental()) }}
{#- One row per episode (fct_participation) with, for every period type, the first day of
    the period its start falls in (entry_<type>) and the one its exit falls in (exit_<type>),
    computed once for every period report (macros/period_figures.sql). Null when the date is
    after the intervention's report_end (not yet due) or, for exits, when still active. -#}
{# sqlfluff: the indent of a select-list loop with whitespace control ({%- for %}) cannot be placed
   by layout.indent (it flips between two levels), so that rule is off for this file. #}
-- noqa: disable=LT02
with fct_participation as (
    select * from {{ ref('fct_participation') }}
    where {{ association_scope() }}
),

int_intervention_spans as (
    select * from {{ ref('int_intervention_spans') }}
    where {{ association_scope() }}
),

final as (
    select
        fct_participation.*,
        int_intervention_spans.report_end,
        {%- for period_type in period_types() %}
        case
            when fct_participation.start_date <= int_intervention_spans.report_end
                then {{ period_start_of(
                    period_type, 'fct_participation.start_date',
                    'int_intervention_spans.operating_year_anchor', 'int_intervention_spans.project_start'
                ) }}
        end as entry_{{ period_type }},
        case
            when fct_participation.end_date <= int_intervention_spans.report_end
                then {{ period_start_of(
                    period_type, 'fct_participation.end_date',
                    'int_intervention_spans.operating_year_anchor', 'int_intervention_spans.project_start'
                ) }}
        end as exit_{{ period_type }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from fct_participation
    inner join int_intervention_spans
        on fct_participation.association_code = int_intervention_spans.association_code
        and fct_participation.intervention_code = int_intervention_spans.intervention_code
)

select * from final
