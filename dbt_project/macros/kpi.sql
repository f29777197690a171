{#- ===========================================================================
    Every participant KPI is defined here ONCE and used by the intermediate
    models; marts and reports only aggregate the resulting flags.
=========================================================================== -#}

{#- Active at a period end: started on or before it and not ended by it. -#}
{% macro kpi_is_active_at(startdatum, slutdatum, period_end) -%}
    ({{ startdatum }} <= {{ period_end }} and ({{ slutdatum }} is null or {{ slutdatum }} > {{ period_end }}))
{%- endmacro %}

{#- Active during a period ("participants during the period"): started on or
    before the period end and not ended before the period start, i.e. active on
    at least one day of the period. -#}
{% macro kpi_is_active_during(startdatum, slutdatum, period_start, period_end) -%}
    ({{ startdatum }} <= {{ period_end }} and ({{ slutdatum }} is null or {{ slutdatum }} >= {{ period_start }}))
{%- endmacro %}

{#- Started within a period (an entrant of the period). -#}
{% macro kpi_is_started_in(startdatum, period_start, period_end) -%}
    ({{ startdatum }} >= {{ period_start }} and {{ startdatum }} <= {{ period_end }})
{%- endmacro %}

{#- Exited within a period (a leaver of the period). -#}
{% macro kpi_is_exited_in(slutdatum, period_start, period_end) -%}
    ({{ slutdatum }} is not null and {{ slutdatum }} >= {{ period_start }} and {{ slutdatum }} <= {{ period_end }})
{%- endmacro %}

{#- Exited by a period end. -#}
{% macro kpi_is_exited_by(slutdatum, period_end) -%}
    ({{ slutdatum }} is not null and {{ slutdatum }} <= {{ period_end }})
{%- endmacro %}

{#- Early drop-out: exit reason AVBROTT (tidigt avhopp/eget beslut). -#}
{% macro kpi_is_early_dropout(avslutsanledning) -%}
    (coalesce({{ avslutsanledning }}, '') = 'AVBROTT')
{%- endmacro %}

{#- Erroneous registration: excluded from every count, kept for audit. -#}
{% macro kpi_is_felreg(avslutsanledning) -%}
    (coalesce({{ avslutsanledning }}, '') = 'FELREG')
{%- endmacro %}

{#- Exit category of an ended episode (null while active). -#}
{% macro kpi_exit_category(avslutsanledning, slutdatum) -%}
    case
        when {{ slutdatum }} is null then null
        when {{ avslutsanledning }} = 'ARBETE' then 'work'
        when {{ avslutsanledning }} = 'SUBV_ARBETE' then 'subsidised_work'
        when {{ avslutsanledning }} = 'STUDIER' then 'studies'
        when {{ avslutsanledning }} = 'REHAB' then 'rehab'
        when {{ avslutsanledning }} = 'SJE_AKE' then 'sje_ake'
        when {{ avslutsanledning }} = 'AVBROTT' then 'early_dropout'
        when {{ avslutsanledning }} = 'FELREG' then 'excluded'
        else 'other'
    end
{%- endmacro %}

{#- Exit to work, subsidised work, studies or other work-oriented rehab
    (the numerator of "7 av 14 = 50 %"). -#}
{% macro kpi_is_work_studies_rehab(exit_category) -%}
    (coalesce({{ exit_category }}, '') in ('work', 'subsidised_work', 'studies', 'rehab'))
{%- endmacro %}

{#- Exit to work or studies (cost per exit to work or studies). -#}
{% macro kpi_is_work_or_studies(exit_category) -%}
    (coalesce({{ exit_category }}, '') in ('work', 'subsidised_work', 'studies'))
{%- endmacro %}

{#- Age at start from birth year (personnummer never reaches the warehouse). -#}
{% macro kpi_age_at_start(fodelsear, startdatum) -%}
    ({{ year_of(startdatum) }} - {{ fodelsear }})
{%- endmacro %}

{#- Age band of an age, by one of the schemes in var('finsam_age_band_schemes')
    (dbt_project.yml: inclusive [from, to] ranges, e.g. standard 16-19 .. 60-67,
    young_adults 16-23 / 24-29 as in the Skellefteå report). Outside every band:
    OVRIG; no age: OKAND. -#}
{% macro kpi_age_band(age, scheme='standard') -%}
    {%- set bands = var('finsam_age_band_schemes')[scheme] -%}
    case
        when {{ age }} is null then 'OKAND'
        {%- for band in bands %}
        when {{ age }} between {{ band[0] }} and {{ band[1] }} then '{{ band[0] }}-{{ band[1] }}'
        {%- endfor %}
        else 'OVRIG'
    end
{%- endmacro %}

{#- Every age band label of a scheme, in order (for accepted_values and docs). -#}
{% macro kpi_age_band_labels(scheme='standard') -%}
    {%- set labels = [] -%}
    {%- for band in var('finsam_age_band_schemes')[scheme] -%}
        {%- do labels.append(band[0] ~ '-' ~ band[1]) -%}
    {%- endfor -%}
    {%- do labels.extend(['OVRIG', 'OKAND']) -%}
    {{ return(labels) }}
{%- endmacro %}

{% macro kpi_days_in_intervention(startdatum, slutdatum) -%}
    case when {{ slutdatum }} is not null then {{ dbt.datediff(startdatum, slutdatum, 'day') }} end
{%- endmacro %}

{% macro kpi_months_from_days(days) -%}
    cast(cast({{ days }} as decimal(18, 6)) / {{ var('finsam_days_per_month') }} as decimal(10, 2))
{%- endmacro %}

{#- Employment after exit; when not delivered, derived from the exit reason
    (export contract: "when absent for an exit, derived from avslutsanledning"). -#}
{% macro kpi_sysselsattning_efter(sysselsattning_efter, avslutsanledning, slutdatum) -%}
    case
        when {{ slutdatum }} is null then {{ sysselsattning_efter }}
        when {{ sysselsattning_efter }} is not null then {{ sysselsattning_efter }}
        when {{ avslutsanledning }} in ('ARBETE', 'SUBV_ARBETE', 'STUDIER', 'ARBETSSOKANDE', 'REHAB') then {{ avslutsanledning }}
        when {{ avslutsanledning }} in ('SJE_AKE', 'OHALSA') then 'EJ_AKTUELL'
        else 'OKAND'
    end
{%- endmacro %}

{#- Funder group used by the funding rule (Lag 2003:1210, 5 §). -#}
{% macro kpi_funder_group(finansiar) -%}
    case
        when {{ finansiar }} = 'STAT' then 'STAT'
        when {{ finansiar }} = 'REGION' then 'REGION'
        when {{ finansiar }} like 'KOMMUN%' then 'KOMMUN'
        else 'OVRIG'
    end
{%- endmacro %}

{#- Shares: one definition each, named by its denominator ("share of <denominator>
    to <numerator>"). Every report computes its shares with these. -#}

{#- Of the exits excluding early drop-outs, those to work, subsidised work, studies or
    other work-oriented rehabilitation (Avesta: "7 av 14 = 50 %"). -#}
{% macro share_of_exits_excl_dropouts_to_work_studies_rehab(
    exits_to_work_studies_rehab='exits_to_work_studies_rehab', exits_excl_dropouts='exits_excl_dropouts'
) -%}
    {{ safe_divide(exits_to_work_studies_rehab, exits_excl_dropouts) }}
{%- endmacro %}

{#- Of all exits (early drop-outs included), those to work, subsidised work or studies
    (the national "31 % went straight to work or studies"). -#}
{% macro share_of_exits_to_work_or_studies(exits_to_work_or_studies='exits_to_work_or_studies', exits='exits') -%}
    {{ safe_divide(exits_to_work_or_studies, exits) }}
{%- endmacro %}

{#- rpt_intervention_outcomes(_by_group) keep their column name share_work_studies_rehab
    (read by tests/test_end_to_end_airflow.py) for the share above. -#}

{#- Number of rows meeting a condition, as BIGINT (DuckDB's sum() gives HUGEINT, which BI drivers handle poorly). -#}
{% macro count_where(condition) -%}
    cast(sum(case when {{ condition }} then 1 else 0 end) as bigint)
{%- endmacro %}

{#- ---------------------------------------------------------------------------
    Follow-up after exit (delivery kind uppfoljning, contract 1.2;
    rpt_follow_up_after_exit). -#}

{#- Months from exit to a follow-up made on a date: days / finsam_days_per_month,
    rounded to whole months (90 days is 3 months, 365 days 12), as the contract
    reads "90 dagar". -#}
{% macro kpi_follow_up_months(slutdatum, uppfoljningsdatum) -%}
    cast(round(cast({{ dbt.datediff(slutdatum, uppfoljningsdatum, 'day') }} as decimal(18, 6)) / {{ var('finsam_days_per_month') }}) as integer)
{%- endmacro %}

{#- In work at follow-up: work or subsidised work (sysselsättning ARBETE, SUBV_ARBETE). -#}
{% macro kpi_follow_up_in_work(sysselsattning) -%}
    (coalesce({{ sysselsattning }}, '') in ('ARBETE', 'SUBV_ARBETE'))
{%- endmacro %}

{#- In studies at follow-up (sysselsättning STUDIER). -#}
{% macro kpi_follow_up_in_studies(sysselsattning) -%}
    (coalesce({{ sysselsattning }}, '') = 'STUDIER')
{%- endmacro %}

{#- Public support (offentlig försörjning): any of the support codes of a
    multi-valued försörjning ('AKS+FBS'): sickness and activity benefits,
    unemployment benefit, activity support, establishment benefit, social
    assistance. Wages (LON, SUBV), study grants (CSN), INGEN and OVR are not. -#}
{% macro kpi_is_public_support(forsorjning) -%}
    (
    {%- for code in ['SJP', 'AKE', 'SJE', 'AKASSA', 'AKS', 'ETB', 'FBS'] %}
        {% if not loop.first %}or {% endif %}('+' || coalesce({{ forsorjning }}, '') || '+') like '%+{{ code }}+%'
    {%- endfor %}
    )
{%- endmacro %}

{#- Of the exits of a cohort, those followed up (at a given time after exit). -#}
{% macro share_of_exits_followed_up(followed_up='followed_up', exits='exits') -%}
    {{ safe_divide(followed_up, exits) }}
{%- endmacro %}

{#- Of those followed up, those with a given situation at follow-up (in work,
    in studies, in work or studies, on public support). -#}
{% macro share_of_followed_up(numerator, followed_up='followed_up') -%}
    {{ safe_divide(numerator, followed_up) }}
{%- endmacro %}
