{#- Pairs of associations that share a keyed participant (both directions). The parallel-episodes
    check of qa_participation_checks crosses associations, so a change in one association can
    alter another's verdicts: the facts step (ingestion/quality/facts.py) reads this table to find
    them. No person keys leave this model. -#}
with fct_participation as (
    select * from {{ ref('fct_participation') }}
),

keyed as (
    select distinct
        association_code,
        person_key
    from fct_participation
    where person_key is not null and not is_anonymous
),

final as (
    select distinct
        keyed.association_code,
        linked.association_code as linked_association_code
    from keyed
    inner join keyed as linked
        on keyed.person_key = linked.person_key
        and keyed.association_code != linked.association_code
)

select * from final
