{#- The delivery columns every raw table starts with (docs/architecture.md), cast once. -#}
{% macro delivery_columns() -%}
        cast(delivery_id as varchar) as delivery_id,
        cast(association_code as varchar) as association_code,
        cast(intervention_code as varchar) as intervention_code,
        cast(period as varchar) as period,
        cast(period_start as date) as period_start,
        cast(period_end as date) as period_end,
        cast(received_at as timestamp) as received_at,
        cast(source_row as integer) as source_row
{%- endmacro %}
