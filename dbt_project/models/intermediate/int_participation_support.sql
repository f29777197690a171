{#- Episode x before/after x support code: multi-valued försörjning
    ("AKS+FBS") split into one row per code, matched against the contract's
    code list (portable: no string_split / unnest). -#}
with int_participation_episodes as (
    select * from {{ ref('int_participation_episodes') }}
),

contract_codes as (
    select * from {{ ref('contract_codes') }}
    where code_list = 'forsorjning'
),

phases as (
    select
        episode_key,
        'fore' as phase,
        forsorjning_fore as support_combination
    from int_participation_episodes
    where forsorjning_fore is not null

    union all

    select
        episode_key,
        'efter' as phase,
        forsorjning_efter as support_combination
    from int_participation_episodes
    where forsorjning_efter is not null
),

split as (
    select
        phases.episode_key,
        phases.phase,
        phases.support_combination,
        contract_codes.code as support_code,
        contract_codes.label_sv as support_label_sv
    from phases
    inner join contract_codes
        on position(('+' || contract_codes.code || '+') in ('+' || phases.support_combination || '+')) > 0
),

final as (
    select
        {{ finsam_key(['episode_key', 'phase', 'support_code']) }} as episode_support_key,
        episode_key,
        phase,
        support_code,
        support_label_sv,
        support_combination,
        count(*) over (partition by episode_key, phase) as codes_in_phase
    from split
)

select * from final
