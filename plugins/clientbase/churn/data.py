"""Reading the churn model's inputs from the warehouse (what dbt built), as pandas frames."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import psycopg

FEATURES_RELATION = "marts.fct_client_churn_features_monthly"
STATUS_RELATION = "marts.fct_client_status_monthly"


def _frame(url: str, query: str, params: tuple = ()) -> pd.DataFrame:
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.execute(query, params)
        columns = [column.name for column in cur.description]
        rows = cur.fetchall()
    frame = pd.DataFrame(rows, columns=columns)
    for column in frame.columns:  # numeric arrives as Decimal: the model wants floats
        values = frame[column].dropna()
        if not values.empty and isinstance(values.iloc[0], Decimal):
            frame[column] = frame[column].astype(float)
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
