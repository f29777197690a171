{#- ===========================================================================
    Every participant KPI is defined here ONCE and used by the intermediate
    models; marts and reports only aggregate the resulting flags.
=========================================================================== -#}

{#- Active at a period end: started on or before it and not ended by it. -#}
{% macro kpi_is_active_at(startdatum, slutdatum, period_end) -%}
    ({{ startdatum }} <= {{ period_end }} and ({{ slutdatum }} is null or {{ slutdatum }} > {{ period_end }}))
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

{% macro kpi_age_band(age) -%}
    case
        when {{ age }} is null then 'OKAND'
        when {{ age }} between 16 and 19 then '16-19'
        when {{ age }} between 20 and 24 then '20-24'
        when {{ age }} between 25 and 29 then '25-29'
        when {{ age }} between 30 and 39 then '30-39'
        when {{ age }} between 40 and 49 then '40-49'
        when {{ age }} between 50 and 59 then '50-59'
        when {{ age }} between 60 and 67 then '60-67'
        else 'OVRIG'
    end
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

{#- Outcome aggregates over int_participation_status_by_period rows; shared by
    rpt_intervention_outcomes and rpt_intervention_outcomes_by_group. -#}
{% macro outcome_aggregates() -%}
    count(*) as enrolled_to_date,
    {{ count_where("is_active_at_period_end") }} as active_at_period_end,
    {{ count_where("is_new_in_period") }} as new_in_period,
    {{ count_where("is_exited_to_date") }} as exits_to_date,
    {{ count_where("is_exited_in_period") }} as exits_in_period,
    {{ count_where("is_early_dropout_to_date") }} as early_dropouts,
    {{ count_where("is_exited_to_date and not is_early_dropout_to_date") }} as exits_excl_dropouts,
    {{ count_where("exit_category_to_date = 'work'") }} as exits_to_work,
    {{ count_where("exit_category_to_date = 'subsidised_work'") }} as to_subsidised_work,
    {{ count_where("exit_category_to_date = 'studies'") }} as to_studies,
    {{ count_where("exit_category_to_date = 'rehab'") }} as to_rehab,
    {{ count_where("exit_category_to_date = 'sje_ake'") }} as to_sje_ake,
    {{ count_where("exit_category_to_date = 'other'") }} as to_other,
    {{ count_where("is_work_studies_rehab_to_date") }} as exits_to_work_studies_rehab,
    cast(avg(months_in_intervention_to_date) as decimal(10, 2)) as avg_months_in_intervention,
    cast({{ finsam_median('months_in_intervention_to_date') }} as decimal(10, 2)) as median_months_in_intervention
{%- endmacro %}

{% macro outcome_shares() -%}
    {{ safe_divide('exits_to_work_studies_rehab', 'exits_excl_dropouts') }} as share_work_studies_rehab
{%- endmacro %}

{#- Number of rows meeting a condition, as BIGINT (DuckDB's sum() gives HUGEINT, which BI drivers handle poorly). -#}
{% macro count_where(condition) -%}
    cast(sum(case when {{ condition }} then 1 else 0 end) as bigint)
{%- endmacro %}
