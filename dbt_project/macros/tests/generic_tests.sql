{#- Own generic tests (no dbt packages on these machines). -#}

{#- Fails on every row where the expression is not true. Used on a column,
    the expression is appended to the column name (as in dbt_utils):
    `expression: ">= 0"`. -#}
{% test expression_is_true(model, expression, column_name=none, where_clause=none) %}
select *
from {{ model }}
where not coalesce(({% if column_name %}{{ column_name }} {% endif %}{{ expression }}), false)
{%- if where_clause %} and ({{ where_clause }}){% endif %}
{% endtest %}

{#- Fails when the two relations have different row counts. -#}
{% test equal_rowcount(model, compare_model, where_clause=none, compare_where_clause=none) %}
with model_count as (
    select count(*) as n from {{ model }} {% if where_clause %}where {{ where_clause }}{% endif %}
),
compare_count as (
    select count(*) as n from {{ compare_model }} {% if compare_where_clause %}where {{ compare_where_clause }}{% endif %}
)
select model_count.n as model_rows, compare_count.n as compare_rows
from model_count
cross join compare_count
where model_count.n <> compare_count.n
{% endtest %}

{#- Fails on values outside [min_value, max_value] (nulls pass). -#}
{% test accepted_range(model, column_name, min_value=none, max_value=none, inclusive=true) %}
select *
from {{ model }}
where {{ column_name }} is not null
  and (
    1 = 0
    {%- if min_value is not none %} or {{ column_name }} {{ '<' if inclusive else '<=' }} {{ min_value }}{% endif %}
    {%- if max_value is not none %} or {{ column_name }} {{ '>' if inclusive else '>=' }} {{ max_value }}{% endif %}
  )
{% endtest %}

{#- Fails when the combination of columns is not unique. -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
select {{ combination_of_columns | join(', ') }}, count(*) as n
from {{ model }}
group by {{ combination_of_columns | join(', ') }}
having count(*) > 1
{% endtest %}

{#- Fails unless the relation has exactly `expected` rows. -#}
{% test row_count(model, expected) %}
select count(*) as n
from {{ model }}
having count(*) <> {{ expected }}
{% endtest %}

{#- Fails on every value that is not a code of the contract's code list (through dim_code, which
    the contract's seed feeds): a column's valid codes are defined once, in contract.yml, never
    copied into a test's list. Nulls pass. -#}
{% test in_code_list(model, column_name, code_list) %}
select *
from {{ model }}
where {{ column_name }} is not null
  and {{ column_name }} not in (
    select code from {{ ref('dim_code') }} where code_list = '{{ code_list }}'
  )
{% endtest %}

{#- A key: fails with one row per key value that is null or repeated (key_value, rows_with_key).
    dbt's unique and not_null in one query and one dbt node. -#}
{% test primary_key(model, column_name) %}
select
    {{ column_name }} as key_value,
    count(*) as rows_with_key
from {{ model }}
group by {{ column_name }}
having {{ column_name }} is null or count(*) > 1
{% endtest %}

{#- Fails with one row per listed column that holds nulls (column_name, null_rows). A model's
    non-key columns that must always be filled are listed in one test: one scan and one dbt node
    per model instead of one per column (the key has its own test: primary_key). -#}
{% test not_null_columns(model, column_names) %}
with counted as (
    select
        {%- for column in column_names %}
        count(*) - count({{ column }}) as {{ column }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ model }}
)
{% for column in column_names -%}
select '{{ column }}' as column_name, {{ column }} as null_rows from counted where {{ column }} > 0
{% if not loop.last %}union all
{% endif %}
{%- endfor %}
{% endtest %}

{#- Fails on every row of `compare_model` (matching `compare_where`) whose `key` is not in the model
    (a dense published table keeps every row of its report, and adds rows of zeros). -#}
{% test keeps_every_row_of(model, compare_model, key, compare_where='true') %}
select compare.{{ key }}
from {{ compare_model }} as compare
where {{ compare_where }}
    and not exists (select 1 from {{ model }} as kept where kept.{{ key }} = compare.{{ key }})
{% endtest %}
