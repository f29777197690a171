{#- Participant background per intervention and start year, in long form:
    one row per (dimension, category) with count and share. -#}
with fct_participation as (
    select * from {{ ref('fct_participation') }}
),

long_form as (
    {% for dimension in ['sex', 'age_band', 'education', 'time_on_public_support', 'referrer'] %}
    select
        association_code,
        intervention_code,
        {{ year_of('start_date') }} as start_year,
        '{{ dimension }}' as dimension,
        coalesce(cast({{ dimension }} as varchar), 'OKAND') as category
    from fct_participation
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

counted as (
    select
        association_code,
        intervention_code,
        start_year,
        dimension,
        category,
        count(*) as participants
    from long_form
    group by association_code, intervention_code, start_year, dimension, category
),

final as (
    select
        {{ finsam_key(['association_code', 'intervention_code', 'start_year', 'dimension', 'category']) }} as profile_key,
        {{ finsam_key(['association_code', 'intervention_code']) }} as intervention_key,
        counted.*,
        sum(participants) over (partition by association_code, intervention_code, start_year, dimension) as participants_total,
        {{ safe_divide(
            'participants', 'sum(participants) over (partition by association_code, intervention_code, start_year, dimension)'
        ) }} as share
    from counted
)

select * from final
