"""Stage 3, warehouse: the schema (all DDL), the load, the dbt build and its queue."""
