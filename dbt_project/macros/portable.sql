{#- Small helpers that keep the SQL the same on DuckDB and PostgreSQL. -#}

{#- Deterministic surrogate key from a list of column expressions. -#}
{% macro finsam_key(columns) -%}
    md5(concat_ws('|'
    {%- for column in columns %}, coalesce(cast({{ column }} as varchar), '~'){% endfor -%}
    ))
{%- endmacro %}

{#- numerator / denominator as decimal(18,4); null when the denominator is 0 or null. -#}
{% macro safe_divide(numerator, denominator) -%}
    cast(cast({{ numerator }} as decimal(18, 6)) / nullif(cast({{ denominator }} as decimal(18, 6)), 0) as decimal(18, 4))
{%- endmacro %}

{% macro finsam_median(expression) -%}
    {{ return(adapter.dispatch('finsam_median', 'finsam')(expression)) }}
{%- endmacro %}

{% macro default__finsam_median(expression) -%}
    percentile_cont(0.5) within group (order by {{ expression }})
{%- endmacro %}

{% macro duckdb__finsam_median(expression) -%}
    median({{ expression }})
{%- endmacro %}

{#- Integer calendar parts of a date. -#}
{% macro year_of(date_expression) -%}
    cast(extract(year from {{ date_expression }}) as integer)
{%- endmacro %}

{% macro month_of(date_expression) -%}
    cast(extract(month from {{ date_expression }}) as integer)
{%- endmacro %}
