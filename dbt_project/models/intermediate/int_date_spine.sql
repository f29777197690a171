{#- Every day between the configured bounds, with calendar parts and the
    period labels used in file names (2016, 2016H1, 2016T2, 2016-05). -#}
with days as (
    select cast(day_ts as date) as date_day
    from
        generate_series(
            cast('{{ var("finsam_date_spine_start") }}' as timestamp),
            cast('{{ var("finsam_date_spine_end") }}' as timestamp),
            interval '1 day'
        ) as spine (day_ts)
),

parts as (
    select
        date_day,
        {{ year_of('date_day') }} as year,
        {{ month_of('date_day') }} as month,
        cast(extract(day from date_day) as integer) as day_of_month,
        cast(extract(isodow from date_day) as integer) as iso_day_of_week
    from days
),

final as (
    select
        date_day,
        year,
        case when month <= 6 then 1 else 2 end as half_year,
        case when month <= 4 then 1 when month <= 8 then 2 else 3 end as tertial,
        case when month <= 3 then 1 when month <= 6 then 2 when month <= 9 then 3 else 4 end as quarter,
        month,
        day_of_month,
        iso_day_of_week,
        cast(year as varchar) as year_label,
        cast(year as varchar) || 'H' || cast(case when month <= 6 then 1 else 2 end as varchar) as half_year_label,
        cast(year as varchar) || 'T' || cast(case when month <= 4 then 1 when month <= 8 then 2 else 3 end as varchar) as tertial_label,
        cast(year as varchar) || '-' || lpad(cast(month as varchar), 2, '0') as month_label
    from parts
)

select * from final
