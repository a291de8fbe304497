{#-
    Incremental month close (issue 12). A run rebuilds only the months from var rebuild_from
    ('YYYY-MM-01', the earliest month the run's new batches touch: the dirty month) to
    var report_month; every month before it stays as the last run left it. Statuses, windows and
    "the last 3 months" depend on earlier months, so nothing after the dirty month may be
    skipped: the rebuild has no upper bound (rows of months after report_month go too).

    The one place that says how, for every model keyed by month:
      * incremental_by_month(column) in the model's config: materialized incremental, strategy
        append, and a pre-hook (rebuild_delete) that deletes the model's rows of month >=
        rebuild_from before the new select is appended, in the same transaction.
      * rebuild_filter(column) / rebuild_condition(column): what the model WRITES, its rows of
        month >= rebuild_from; rebuild_lookback_condition(column, months): what a line-level
        model READS where a trailing window needs N months before the dirty month.

    Why append + a delete pre-hook and not delete+insert: delete+insert deletes the target rows
    whose unique_key is in the new select, so a month whose rows all disappeared (every line of
    the month cancelled by a correction) would keep its stale rows. The pre-hook deletes every
    row from the dirty month on, whatever the new select holds.

    A model builds everything, as a table would, when it does not exist yet, with
    --full-refresh (dbt drops and recreates it: is_incremental() is false) or when
    rebuild_from is null (the pre-hook then deletes every row and the select has no filter):
    the same SQL, only the month range differs, so a full refresh and an incremental series give
    identical tables.
-#}

{#- var rebuild_from as a SQL date literal, or none when not set. -#}
{% macro rebuild_from() -%}
    {{ return(date_var('rebuild_from')) }}
{%- endmacro %}

{#- True when this run rebuilds only from rebuild_from (an incremental run with the var set). -#}
{% macro is_month_rebuild() -%}
    {{ return(is_incremental() and rebuild_from() is not none) }}
{%- endmacro %}

{#- The config of a model keyed by `column` (a first-of-month date). on_schema_change fail: a
    changed model's columns need a --full-refresh, never silently NULL history. extra_pre_hooks
    run after the delete, in the same transaction (a `set local` planner setting). -#}
{% macro incremental_by_month(column, extra_pre_hooks=[]) -%}
    {{ config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook=["{{ rebuild_delete('" ~ column ~ "') }}"] + extra_pre_hooks,
        post_hook=["{{ month_index('" ~ column ~ "') }}"],
        meta={'month_column': column}
    ) }}
{%- endmacro %}

{#- Post-hook: a b-tree index on the month column, created once (a table built before it existed
    gets it at its next run). Every close deletes and reads its rebuilt months (and the months
    of their windows) with `month >= D`; without the index each of those is a scan of every
    month of history, the cost that grew from month 12 to month 36 at size L (BENCHMARKS.md).
    B-tree, not BRIN as on raw: a table's first build writes its rows in the order its query's
    joins and aggregates produce them, not by month (correlation 0.04 for some tables), and
    the rebuilt months are the highest keys, so their inserts go to the index's right edge.
    Unnamed: PostgreSQL picks a free name, so after a --full-refresh (the old table, renamed
    to a backup, still holds its index until dbt drops it) the new table gets its own. -#}
{% macro month_index(column) -%}
    {%- if execute -%}
    do $month_index$
    begin
        if not exists (
            select
            from pg_index
            inner join pg_attribute
                on pg_index.indrelid = pg_attribute.attrelid
                and pg_index.indkey[0] = pg_attribute.attnum
            where pg_index.indrelid = '{{ this }}'::regclass
                and pg_attribute.attname = '{{ column }}'
        ) then
            create index on {{ this }} ({{ column }});
        end if;
    end
    $month_index$
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}

{#- Pre-hook: delete the rows this run rewrites (month >= rebuild_from, or all when null:
    truncate, transactional in PostgreSQL, leaves no dead rows behind). -#}
{% macro rebuild_delete(column) -%}
    {%- if is_incremental() -%}
        {%- if rebuild_from() is not none -%}
            delete from {{ this }} where {{ column }} >= {{ rebuild_from() }}
        {%- else -%}
            truncate table {{ this }}
        {%- endif -%}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{#- Boolean SQL: the rows of `column` this run writes (`true` when it writes every month). -#}
{% macro rebuild_condition(column) -%}
    {%- if is_month_rebuild() -%}
        {{ column }} >= {{ rebuild_from() }}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- `where` clause of the rows this run writes, nothing when it writes every month. -#}
{% macro rebuild_filter(column) -%}
    {%- if is_month_rebuild() %}
    where {{ column }} >= {{ rebuild_from() }}
    {%- endif -%}
{%- endmacro %}

{#- Boolean SQL: the input rows a trailing window of `months` months ending at a rebuilt month
    needs (`months` - 1 months before rebuild_from); `true` when every month is rebuilt. -#}
{% macro rebuild_lookback_condition(column, months) -%}
    {%- if is_month_rebuild() -%}
        {{ column }} >= {{ rebuild_from() }} - {{ months_interval(months - 1) }}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}
