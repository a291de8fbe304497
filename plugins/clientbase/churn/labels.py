"""The outcome the churn model learns and the backtest checks against.

A client-month's label is "lost in the next 3 months": no activity (metrics.md §1) in any of
M+1, M+2, M+3. Issue 13 words it as "``lost`` (no activity) in each of the next 3 months";
the status ``lost`` needs three silent months, so a client active in M is never ``lost`` in
M+1: the parenthesis is what can be measured, and it is what a manager wants to prevent.
A month's label is known only when M+3 is in the warehouse (``known_through``).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

HORIZON_MONTHS = 3


def add_months(month: dt.date, months: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def lost_next_months(activity: pd.DataFrame, known_through: dt.date,
                     horizon: int = HORIZON_MONTHS) -> pd.DataFrame:
    """``month, client_id, is_lost_next`` for the client-months whose horizon ends by ``known_through``.

    ``activity`` has one row per client x month (``month`` as ``datetime.date``, ``client_id``,
    ``is_active``) for every month of the spine, as fct_client_status_monthly does; months after
    ``known_through`` are ignored, so a label never reads data the caller says is unknown.
    """
    frame = activity.loc[activity["month"] <= known_through, ["client_id", "month", "is_active"]]
    frame = frame.sort_values(["client_id", "month"])
    active = frame.groupby("client_id", sort=False)["is_active"]
    # active in any of the next `horizon` rows (the spine has every month of every client)
    future = pd.concat([active.shift(-step) for step in range(1, horizon + 1)], axis=1)
    complete = future.notna().all(axis=1)
    labelled = frame.loc[complete, ["month", "client_id"]].copy()
    labelled["is_lost_next"] = ~future.loc[complete].astype(bool).any(axis=1)
    last_labelled = add_months(known_through, -horizon)
    return labelled.loc[labelled["month"] <= last_labelled].reset_index(drop=True)
