{#-
    The last loaded version of each key of an append-only raw table: raw keeps every row
    of every batch (a corrected waybill line or a re-sent list arrives again), and the last
    loaded one wins (sources.md). `key_columns` are SQL expressions, e.g. ['trim(doc_id)', 'line_no'].
-#}
{% macro latest_version(relation, key_columns) -%}
    select *
    from (
        select
            *,
            row_number() over (
                partition by {{ key_columns | join(', ') }}
                order by _batch_id desc, _line_no desc
            ) as version_rank
        from {{ relation }}
    ) as ranked_versions
    where version_rank = 1
{%- endmacro %}
