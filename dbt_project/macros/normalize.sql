{#- Light value normalisation shared by staging models and snapshots (spec/sources.md). -#}

{#- lower() that also folds Cyrillic: in a C-locale database lower() only folds ASCII. -#}
{% macro lower_text(expression) -%}
    lower(translate(
        {{ expression }},
        'АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ',
        'абвгдеёжзийклмнопрстуфхцчшщъыьэюя'
    ))
{%- endmacro %}

{#- Trimmed text; empty becomes NULL. -#}
{% macro clean_text(expression) -%}
    nullif(trim({{ expression }}), '')
{%- endmacro %}

{#- Shipment status: lower-case, trimmed; empty or missing means 'posted'. -#}
{% macro normalize_shipment_status(expression) -%}
    coalesce(nullif({{ lower_text('trim(' ~ expression ~ ')') }}, ''), 'posted')
{%- endmacro %}

{#- Client tier: vip / key / regular, also from the ERP's Russian labels, any case. -#}
{% macro normalize_tier(expression) -%}
    case {{ lower_text('trim(' ~ expression ~ ')') }}
        when 'vip' then 'vip'
        when 'key' then 'key'
        when 'основной' then 'key'
        when 'regular' then 'regular'
        when 'рядовой' then 'regular'
        when '' then null
        else {{ lower_text('trim(' ~ expression ~ ')') }}
    end
{%- endmacro %}

{#- Manager role: lower-case, trimmed. -#}
{% macro normalize_role(expression) -%}
    nullif({{ lower_text('trim(' ~ expression ~ ')') }}, '')
{%- endmacro %}
