{#-
    The last loaded version of each key of an append-only raw table: raw keeps every row
    of every batch (a corrected waybill line or a re-sent list arrives again), and the last
    loaded one wins (sources.md). `key_columns` are the raw table's key columns as the
    contract names them (plugins/clientbase/contract.py), in its order.

    Why an anti-join ("no later version of the same key exists") and not
    row_number() over (partition by key order by _batch_id desc, _line_no desc) = 1: a
    filter of the reader (an incremental model's months >= rebuild_from, a GX batch's
    months) cannot pass below a window function, so the window ranked every version of
    every key of the history at each close (issue 12, BENCHMARKS.md "Where a close's time
    goes"). Through the anti-join the filter reaches the scan of raw, and each surviving row
    probes the key index that the loader maintains for it
    (`<dataset>_key_idx` on (key, _batch_id desc, _line_no desc), warehouse/schema.py). The
    result is the same either way: a row is the key's last version whatever month it is in,
    and an older version of a key whose last version moved to another month has a later
    version, so it is excluded even when its own month passes the filter.
    The key columns are compared as stored: the loader trims every text field
    (load/rules.py `cleaned`) and truncates a month column to its first day, so the raw
    values are already the trimmed / truncated keys the staging models expose. Key columns
    are required (never null), so `=` matches every version of a key. The relation is wrapped
    in a subquery because dbt renders it as an aliased subquery itself under `--empty` and in
    unit tests; PostgreSQL pulls a plain `select *` subquery up, so the plan is the same.
-#}
{% macro latest_version(relation, key_columns) -%}
    select *
    from (select * from {{ relation }}) as version
    where not exists (
        select
        from (select * from {{ relation }}) as later_version
        where
            {%- for column in key_columns %}
            later_version.{{ column }} = version.{{ column }} and
            {%- endfor %}
            (later_version._batch_id, later_version._line_no) > (version._batch_id, version._line_no)
    )
{%- endmacro %}
