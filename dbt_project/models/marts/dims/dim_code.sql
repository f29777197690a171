{#- Every code of the export contract with its Swedish label. -#}
with contract_codes as (
    select * from {{ ref('contract_codes') }}
),

final as (
    select
        code_list || ':' || code as code_key,
        code_list,
        code,
        label_sv,
        sort_order
    from contract_codes
)

select * from final
