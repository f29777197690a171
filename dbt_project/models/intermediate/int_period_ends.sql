{{ config(materialized='table') }}
{#- Reporting periods: month, tertial, half-year and year, each with its
    first and last day. -#}
with int_date_spine as (
    select * from {{ ref('int_date_spine') }}
),

periods as (
    {% for period_type, label in [
        ('month', 'month_label'), ('tertial', 'tertial_label'), ('half_year', 'half_year_label'), ('year', 'year_label')
    ] %}
    select
        '{{ period_type }}' as period_type,
        {{ label }} as period_label,
        min(year) as year,
        min(date_day) as period_start,
        max(date_day) as period_end
    from int_date_spine
    group by {{ label }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

final as (
    select
        {{ finsam_key(['period_type', 'period_label']) }} as period_key,
        period_type,
        period_label,
        year,
        period_start,
        period_end
    from periods
)

select * from final
