{#-
    The first day of the month of a date column, as the staging models expose it
    (shipment_month, visit_month, ...). Written `::timestamp` (not the implicit timestamptz) so
    that it is IMMUTABLE: raw's BRIN index and statistics on the same expression
    (warehouse/schema.py `month_expression`) then serve every filter on the month that reaches
    the scan of raw through a staging view (issue 12 item 4; dbt_project/README.md). The same
    dates as date_trunc('month', <date>)::date.
-#}
{% macro month_of(column) -%}
    date_trunc('month', {{ column }}::timestamp)::date
{%- endmacro %}

{#- Whole calendar months from `earlier` to `later` (both dates), e.g. 2024-03 - 2023-12 = 3. -#}
{% macro months_between(later, earlier) -%}
    (
        (extract(year from {{ later }}) - extract(year from {{ earlier }})) * 12
        + extract(month from {{ later }}) - extract(month from {{ earlier }})
    )::integer
{%- endmacro %}

{#- An interval of `n` months, for range windows and date arithmetic. -#}
{% macro months_interval(n) -%}
    interval '{{ n }} months'
{%- endmacro %}

{#-
    True when `month` (a first-of-month date) is in the window of the last var last_months_window
    months ending at `as_of` (M-2 .. M by default; at quarter-end months, the quarter): the window
    the KPI matrix (metrics.md §10) sums over, written once.
-#}
{% macro within_last_months(month, as_of) -%}
    {{ month }} between {{ as_of }} - {{ months_interval(var('last_months_window') - 1) }} and {{ as_of }}
{%- endmacro %}
