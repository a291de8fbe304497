"""Set-based type rules: SQL that parses the text of a column and says why it cannot.

Every rule is a pair of expressions over a text column: the parsed value and an error
message (NULL when the value is fine). They run inside one INSERT ... SELECT over the
whole batch, so validation costs one scan, not one round-trip per row.
"""

from __future__ import annotations

from clientbase.contract import MAX_DAYS_AHEAD, Column, Dataset, NotBefore, NotNegative, RowRule
from clientbase.settings import min_source_date

BOOL_TRUE = ("true", "1", "yes", "да", "t", "y")
BOOL_FALSE = ("false", "0", "no", "нет", "f", "n")


def _quote_list(values: tuple[str, ...]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def cleaned(name: str) -> str:
    """The trimmed text of a column, NULL when empty."""
    return f"nullif(btrim(l.{name}), '')"


def staged_clean(name: str) -> str:
    """The cleaned text of a column as the loader's staged query holds it (see ``staged=True``)."""
    return f"n._s_{name}"


def staged_normal(name: str) -> str:
    """The normalised text of a column as the loader's staged query holds it."""
    return f"n._n_{name}"


def candidate(col: Column, s: str) -> str | None:
    """The rewritten text :func:`normalised` then tests, for the types whose rule is a rewrite
    followed by a test (None for the others). Split out so the loader's staged query computes
    the rewrite once per row instead of once for the test and again for the value."""
    if col.type == "numeric":
        # decimal comma, spaces / no-break spaces as thousands separators
        return f"replace(translate({s}, ' ' || chr(160), ''), ',', '.')"
    if col.type == "date":
        return _iso_date(s)
    if col.type == "timestamp":
        # an ISO timestamp (a '-' fifth: never so in DD.MM.YYYY) skips the regular expression
        return (f"(case when substr({s}, 5, 1) = '-' then {s} "
                f"else regexp_replace({s}, '^([0-9]{{1,2}})[.]([0-9]{{1,2}})[.]([0-9]{{4}})', '\\3-\\2-\\1') end)")
    return None


def accepted(col: Column, c: str) -> str:
    """The :func:`candidate` text ``c`` if PostgreSQL can cast it to the column's type, else NULL."""
    if col.type == "numeric":
        return f"(case when {c} ~ '^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]{{1,3}})?$' then {c} end)"
    if col.type == "date":
        return f"(case when pg_input_is_valid({c}, 'date') then {c} end)"
    if col.type == "timestamp":
        return f"(case when pg_input_is_valid({c}, 'timestamptz') then {c} end)"
    raise TypeError(f"{col.type} has no candidate rewrite")


def normalised(col: Column, s: str | None = None) -> str:
    """Text rewritten into the canonical form PostgreSQL can cast (or NULL if it cannot).

    ``s``: an expression already holding :func:`cleaned` of the column (default: clean it here)."""
    s = s or cleaned(col.name)
    rewrite = candidate(col, s)
    if rewrite is not None:
        return accepted(col, rewrite)
    if col.type == "int":
        # unsigned digits (nearly every value) pass without the regular expression: same verdict
        return (f"(case when ltrim({s}, '0123456789') = '' and length({s}) between 1 and 18 then {s} "
                f"when {s} ~ '^[+-]?[0-9]{{1,18}}$' then {s} end)")
    if col.type == "month":
        return date_text(s, col.type)
    if col.type == "bool":
        return (f"(case when lower({s}) in ({_quote_list(BOOL_TRUE)}) then 'true' "
                f"when lower({s}) in ({_quote_list(BOOL_FALSE)}) then 'false' end)")
    return s


def date_text(s: str, col_type: str = "date") -> str:
    """Canonical ``YYYY-MM-DD`` text of a date (or month) written as in the sources, else NULL.

    ``s`` is any SQL text expression (a landing column, or a field of a quarantined
    record's JSON), so quarantine queries parse dates exactly like the loader.
    """
    if col_type == "month":
        month_only = f"(case when {s} ~ '^[0-9]{{4}}-[0-9]{{1,2}}$' then {s} || '-01' end)"
        return f"coalesce({month_only}, {_date_text(s)})"
    return _date_text(s)


def _iso_date(s: str) -> str:
    """YYYY-MM-DD or DD.MM.YYYY, optionally followed by a time (1C writes ``10.01.2023 0:00:00``),
    as YYYY-MM-DD text (not yet checked to be a real date)."""
    return (f"(case when {s} ~ '^[0-9]{{4}}-[0-9]{{1,2}}-[0-9]{{1,2}}([ T].*)?$' "
            f"then split_part(split_part({s}, ' ', 1), 'T', 1) "
            f"when {s} ~ '^[0-9]{{1,2}}[.][0-9]{{1,2}}[.][0-9]{{4}}( .*)?$' "
            f"then regexp_replace(split_part({s}, ' ', 1), "
            "'^([0-9]{1,2})[.]([0-9]{1,2})[.]([0-9]{4})$', '\\3-\\2-\\1') end)")


def _date_text(s: str) -> str:
    """A date as YYYY-MM-DD text if it is one (see :func:`_iso_date`), else NULL."""
    iso = _iso_date(s)
    return f"(case when pg_input_is_valid({iso}, 'date') then {iso} end)"


TYPE_WORDS = {
    "int": "a whole number",
    "numeric": "a number",
    "date": "a date (YYYY-MM-DD or DD.MM.YYYY)",
    "month": "a month (YYYY-MM or a date)",
    "timestamp": "a timestamp",
    "bool": "a yes/no value (true/false/1/0/yes/no/да/нет)",
}


def typed(col: Column, staged: bool = False) -> str:
    """The final typed value for the raw table (``staged``: read the normalised text the
    loader's staged query computed once per column, instead of normalising again)."""
    value = staged_normal(col.name) if staged else normalised(col)
    if col.type == "text":
        return value
    if col.type == "month":
        return f"date_trunc('month', ({value})::date)::date"
    return f"({value})::{col.pg_type}"


def error(col: Column, ds: Dataset, staged: bool = False) -> list[str]:
    """SQL expressions, each the error text for one rule of this column, or NULL."""
    s = staged_clean(col.name) if staged else cleaned(col.name)
    norm = staged_normal(col.name) if staged else normalised(col)
    out = []
    if col.required:
        out.append(f"case when {s} is null then '{col.name}: required value is empty' end")
    if col.type != "text":
        out.append(
            f"case when {s} is not null and {norm} is null "
            f"then format('{col.name}: %s is not {TYPE_WORDS[col.type]}', quote_literal({s})) end"
        )
    if col.name in ds.date_columns_in_range:
        value = f"({norm})::date"
        earliest = min_source_date().isoformat()  # validated YYYY-MM-DD: safe to splice
        out.append(
            f"case when {value} < date '{earliest}' "
            f"then format('{col.name}: %s is before {earliest}, the earliest date a source may carry', {value}) "
            f"when {value} > current_date + {MAX_DAYS_AHEAD} "
            f"then format('{col.name}: %s is more than {MAX_DAYS_AHEAD} days in the future "
            f"(latest accepted today: %s)', {value}, current_date + {MAX_DAYS_AHEAD}) end"
        )
    return out


def row_rule_error(rule: RowRule, ds: Dataset, staged: bool = False) -> str:
    """SQL: the error text of one row rule, or NULL.

    The rule reads the parsed values (``normalised``), which are NULL where a type rule
    already failed: a row whose date cannot be read gets that one message, not a second
    one about an order it does not have.
    """
    def norm(c: Column) -> str:
        return staged_normal(c.name) if staged else normalised(c)

    col = ds.column(rule.column)
    value = f"({norm(col)})::{col.pg_type}"
    why = rule.why.replace("'", "''")
    if isinstance(rule, NotBefore):
        other_col = ds.column(rule.other)
        other = f"({norm(other_col)})::{other_col.pg_type}"
        return (f"case when {value} < {other} then format('{rule.column}: %s is before {rule.other} %s "
                f"({why})', {value}, {other}) end")
    if isinstance(rule, NotNegative):
        return (f"case when {value} < 0 then format('{rule.column}: %s is negative ({why})', "
                f"{staged_clean(col.name) if staged else cleaned(col.name)}) end")
    raise TypeError(f"unknown row rule {rule!r}: add its SQL to clientbase.load.rules.row_rule_error")


def _rule_columns(rule: RowRule) -> tuple[str, ...]:
    return (rule.column, rule.other) if isinstance(rule, NotBefore) else (rule.column,)


def in_range(value: str) -> str:
    """SQL condition: the date ``value`` lies in the range sources.md accepts.

    The earliest date is read from the environment at each call (not at import), so a
    changed CLIENTBASE_MIN_SOURCE_DATE applies to the next load without a restart.
    """
    return f"({value} between date '{min_source_date().isoformat()}' and current_date + {MAX_DAYS_AHEAD})"


def errors_array(ds: Dataset, present: set[str], staged: bool = False) -> str:
    """``array[...]`` of every rule's error for the columns the batch carries."""
    exprs = [e for col in ds.columns if col.name in present for e in error(col, ds, staged)]
    exprs += [row_rule_error(rule, ds, staged) for rule in ds.row_rules
              if all(name in present for name in _rule_columns(rule))]
    return "array_remove(array[" + ", ".join(exprs) + "]::text[], null)" if exprs else "'{}'::text[]"


def reference_errors(ds: Dataset, present: set[str], alias: str = "c") -> str:
    """``array[...]`` of unknown-reference errors, checked against every list received so far."""
    exprs = []
    for ref in (r for r in ds.references if r.column in present):
        exprs.append(
            f"case when {alias}.{ref.column} is not null and not exists ("
            f"select 1 from raw.{ref.dataset} r where r.{ref.key} = {alias}.{ref.column}) "
            f"then format('{ref.column}: %s is not in any {ref.dataset} list received so far "
            f"(held; released by the next load once a {ref.dataset} file names it)', "
            f"quote_literal({alias}.{ref.column})) end"
        )
    return "array_remove(array[" + ", ".join(exprs) + "]::text[], null)" if exprs else "'{}'::text[]"
