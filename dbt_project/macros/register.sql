{#- ===========================================================================
    The intervention register is versioned (dim_intervention: one row per register version,
    valid_from). The version in force on a day is the latest one valid on or before it; a day
    before the first version takes the first. One home for that rule: join dim_intervention on
    the intervention, number the versions with register_version_rank(), keep rank 1.
=========================================================================== -#}

{% macro register_version_rank(partition_by, on_day) -%}
    row_number() over (
        partition by {{ partition_by }}
        order by
            case when dim_intervention.valid_from <= {{ on_day }} then 0 else 1 end,
            case when dim_intervention.valid_from <= {{ on_day }} then dim_intervention.valid_from end desc,
            dim_intervention.valid_from
    )
{%- endmacro %}
