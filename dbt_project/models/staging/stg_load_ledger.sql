with source as (
    select * from {{ source('meta', 'load_ledger') }}
),

final as (
    select
        {{ finsam_key(['delivery_id', 'file_name', 'received_at', 'status']) }} as ledger_key,
        cast(delivery_id as varchar) as delivery_id,
        cast(association_code as varchar) as association_code,
        cast(intervention_code as varchar) as intervention_code,
        cast(kind as varchar) as kind,
        cast(period as varchar) as period,
        cast(file_name as varchar) as file_name,
        cast(sha256 as varchar) as sha256,
        cast(size_bytes as bigint) as size_bytes,
        cast(rows_read as integer) as rows_read,
        cast(rows_kept as integer) as rows_kept,
        cast(rows_dropped as integer) as rows_dropped,
        cast(received_at as timestamp) as received_at,
        cast(status as varchar) as status,
        cast(reason as varchar) as reason,
        cast(loaded_at as timestamp) as loaded_at,
        cast(replay_of as varchar) as replay_of,
        cast(replay_reason as varchar) as replay_reason
    from source
)

select * from final
