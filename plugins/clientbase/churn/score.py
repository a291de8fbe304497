"""Scoring at the month close: every client of the base, every rebuilt month, with what was known then.

The month close runs this between its two dbt passes (dags/monthly_kpi.py): the first builds
the features (``marts.fct_client_churn_features_monthly``) and the statuses, this writes
``ml.churn_scores`` and ``ml.churn_models``, the second builds what reads them
(``reporting.churn_risk_monthly``, the scorecard's call list) and their tests, which the gate
counts like any other.

Point in time: the score of month M comes from a model trained on the client-months whose
outcome is known at M (up to M−3) and the features of M, so a month's scores never change
when later months arrive, exactly as the backtest measures them (``model.fit_for_month``).
Hence the same months are rescored as dbt rebuilds: from the build's dirty month
(``rebuild_from``) on, and every month after a full refresh. A month scored by another model
(``model.model_spec``: inputs, settings, seed, scikit-learn's version) or never scored is
scored again too, and the second dbt pass then rebuilds from the earliest month rescored.

A month the model cannot learn for (fewer than ``MIN_HISTORY_MONTHS`` months before it, or
outcomes all one way) gets an ``ml.churn_models`` row saying why and no scores: its clients
are published with ``p_lost_3m`` NULL. The gate's test blocks a month that has no such row
at all (the scoring did not run) or a client of a scored month without a probability.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time

import numpy as np
import pandas as pd
import psycopg

from clientbase import progress
from clientbase.churn import data
from clientbase.churn import model as churn_model
from clientbase.churn.labels import HORIZON_MONTHS, add_months
from clientbase.warehouse.schema import ML

log = logging.getLogger(__name__)

SCORES = f"{ML}.churn_scores"
MODELS = f"{ML}.churn_models"
SCORE_COLUMNS = ("month", "client_id", "p_lost_3m", "reasons_ru", "reasons_en", "model_version")
MODEL_COLUMNS = ("month", "status", "model_spec", "model_version", "labels_through", "training_rows",
                 "positive_share", "clients_scored", "message", "run_id")


@dataclasses.dataclass
class ScoringResult:
    """What a close scored: from which month (None: nothing to score), how many months and clients."""

    scored_from: dt.date | None
    months_scored: int = 0
    months_without_model: int = 0
    clients_scored: int = 0
    seconds: float = 0.0
    reasons: list[str] = dataclasses.field(default_factory=list)

    def describe(self) -> str:
        if self.scored_from is None:
            return "churn scores: no month to score"
        text = (f"churn scores from {self.scored_from:%Y-%m}: {self.months_scored} month(s), "
                f"{self.clients_scored} client-months scored")
        if self.months_without_model:
            text += f"; {self.months_without_model} month(s) without a model (too little history)"
        return f"{text} in {self.seconds:.1f} s" + (f" ({'; '.join(self.reasons)})" if self.reasons else "")


def _stale_months(conn: psycopg.Connection, spine: list[dt.date], spec: str) -> tuple[list[dt.date], list[str]]:
    """Months of the spine never scored, or scored by another model spec."""
    scored = dict(conn.execute(f"select month, model_spec from {MODELS}").fetchall())
    never = [m for m in spine if m not in scored]
    other = [m for m in spine if m in scored and scored[m] != spec]
    reasons = []
    if never:
        reasons.append(f"{len(never)} month(s) never scored, from {min(never):%Y-%m}")
    if other:
        reasons.append(f"{len(other)} month(s) scored by another model ({scored[min(other)]}), from {min(other):%Y-%m}")
    return never + other, reasons


def score_months(url: str, report_month: dt.date, rebuild_from: dt.date | None, run_id: str,
                 seed: int = churn_model.DEFAULT_SEED) -> ScoringResult:
    """Score the months from ``rebuild_from`` (None: every month) to ``report_month``, plus any
    month never scored or scored by another model; replace their rows (and every later
    month's) in one transaction."""
    started = time.monotonic()
    activity = data.activity(url)
    activity = activity.loc[activity["month"] <= report_month]
    spine = sorted(pd.unique(activity["month"]))
    if not spine:
        return ScoringResult(None)
    spec = churn_model.model_spec(seed)
    with psycopg.connect(url) as conn:
        stale, reasons = _stale_months(conn, spine, spec)
    starts = [rebuild_from or spine[0], *stale]
    first = max(min(starts), spine[0])
    months = [m for m in spine if m >= first]
    if not months:
        return ScoringResult(None)
    features = data.features(url, through=report_month)
    result = ScoringResult(first, reasons=reasons)
    score_rows: list[pd.DataFrame] = []
    model_rows: list[tuple] = []
    for index, month in enumerate(months, start=1):
        progress.report(f"churn model {month:%Y-%m} ({index}/{len(months)})")
        current = features.loc[features["month"] == month].reset_index(drop=True)
        try:
            with churn_model.one_blas_thread():
                fitted = churn_model.fit_for_month(features, activity, month, seed=seed)
        except churn_model.NotEnoughHistory as exc:
            model_rows.append((month, "not_scored", spec, None, None, 0, None, 0, str(exc), run_id))
            result.months_without_model += 1
            continue
        ru, en = fitted.reasons(current)
        score_rows.append(pd.DataFrame({
            "month": month, "client_id": current["client_id"],
            "p_lost_3m": np.clip(fitted.predict(current), 0.0, 1.0),
            "reasons_ru": ru, "reasons_en": en, "model_version": fitted.version}))
        labels_through = add_months(month, -HORIZON_MONTHS)
        model_rows.append((month, "scored", spec, fitted.version, labels_through, fitted.training_rows,
                           fitted.positive_share, len(current),
                           f"trained on {fitted.training_rows} client-months up to {labels_through:%Y-%m}, "
                           f"{100 * fitted.positive_share:.1f} % lost in the 3 months after", run_id))
        result.months_scored += 1
        result.clients_scored += len(current)
    _write(url, first, model_rows, score_rows)
    result.seconds = round(time.monotonic() - started, 2)
    log.info("%s", result.describe())
    return result


def _write(url: str, first: dt.date, model_rows: list[tuple], score_rows: list[pd.DataFrame]) -> None:
    """Replace the months from ``first`` on: rows of later months than the close's go too, as
    dbt's incremental models drop them (macros/incremental.sql)."""
    with psycopg.connect(url) as conn, conn.transaction():
        conn.execute(f"delete from {SCORES} where month >= %s", (first,))
        conn.execute(f"delete from {MODELS} where month >= %s", (first,))
        with conn.cursor() as cur:
            with cur.copy(f"copy {MODELS} ({', '.join(MODEL_COLUMNS)}) from stdin") as copy:
                for row in model_rows:
                    copy.write_row(row)
            with cur.copy(f"copy {SCORES} ({', '.join(SCORE_COLUMNS)}) from stdin") as copy:
                for frame in score_rows:
                    for row in frame.itertuples(index=False):
                        copy.write_row((row.month, row.client_id, float(row.p_lost_3m), row.reasons_ru,
                                        row.reasons_en, row.model_version))
