"""Reading the churn model's inputs from the warehouse (what dbt built), as pandas frames.

The frames are read with ``COPY … TO STDOUT`` as CSV and parsed by pandas' C reader, not
fetched as rows: at size L the features are ~180 k client-months × 24 columns, and fetching
them as Python objects (a ``Decimal`` per numeric cell) took ~440 MiB for a 74 MiB frame; the
CSV text takes a fifth of that (BENCHMARKS.md, peak RSS).
"""

from __future__ import annotations

import datetime as dt
import io

import numpy as np
import pandas as pd
import psycopg

FEATURES_RELATION = "marts.fct_client_churn_features_monthly"
STATUS_RELATION = "marts.fct_client_status_monthly"

# What COPY writes for NULL: unquoted, so that an empty text value ("" in CSV) stays a value
_NULL = r"\N"
# PostgreSQL types by how a column is parsed; numbers become float64 (what the model takes),
# integers int64 (float64 when the column has a NULL), dates datetime.date objects
_TEXT = {"text", "varchar", "bpchar", "name"}
_FLOAT = {"numeric", "float4", "float8"}
_INTEGER = {"int2", "int4", "int8"}


def _column_types(cur: psycopg.Cursor, query: str, params: tuple) -> dict[str, str]:
    """The query's column names and their PostgreSQL type names, from a plan-only run."""
    cur.execute(f"select * from ({query}) as columns_only limit 0", params)
    types = {}
    for column in cur.description:
        info = cur.connection.adapters.types.get(column.type_code)
        name = info.name if info else str(column.type_code)
        if name not in _TEXT | _FLOAT | _INTEGER | {"date", "bool"}:
            raise TypeError(f"churn/data.py cannot read column {column.name!r} of type {name}: "
                            "read it as text, a number, a date or a boolean in the query")
        types[column.name] = name
    return types


def _dates(values: pd.Series) -> np.ndarray:
    """ISO dates (a few distinct months) as ``datetime.date`` objects, None where NULL."""
    parsed = {value: dt.date.fromisoformat(value) for value in values.dropna().unique()}
    return np.array([parsed.get(value) for value in values], dtype=object)


def _frame(url: str, query: str, params: tuple = ()) -> pd.DataFrame:
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        types = _column_types(cur, query, params)
        text = io.BytesIO()
        with cur.copy(f"copy ({query}) to stdout (format csv, header, null '{_NULL}')", params) as copy:
            for block in copy:
                text.write(block)
    text.seek(0)
    frame = pd.read_csv(
        text,
        dtype={name: "str" if kind in _TEXT | {"date"} else "float64" if kind in _FLOAT else None
               for name, kind in types.items() if kind not in _INTEGER | {"bool"}},
        na_values=[_NULL], keep_default_na=False, true_values=["t"], false_values=["f"],
        encoding="utf-8")
    for name, kind in types.items():
        if kind == "date":
            frame[name] = _dates(frame[name])
    return frame


def features(url: str, through: dt.date | None = None, relation: str = FEATURES_RELATION) -> pd.DataFrame:
    """Rows of the features table (client in the base x month), up to ``through`` if given."""
    where, params = ("where month <= %s", (through,)) if through else ("", ())
    return _frame(url, f"select * from {relation} {where} order by month, client_id", params)


def activity(url: str, relation: str = STATUS_RELATION) -> pd.DataFrame:
    """``month, client_id, manager_id, status, is_in_client_base, is_active, first_active_month``
    for every client x month of the spine: the labels' and the baselines' input."""
    return _frame(url, f"""
        select month, client_id, manager_id, status, is_in_client_base, is_active, first_active_month
        from {relation}
        order by client_id, month""")
