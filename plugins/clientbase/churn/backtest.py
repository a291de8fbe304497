"""The backtest: each of the last months with 3 months of future, scored as it would have been.

For a scored month S the model is trained on the client-months up to S−3, labelled with
activity up to S (nothing later is read), and scores the clients of S; the outcome is then
read from the months after S. Two baselines are measured the same way on the same clients:

- the status rule: an ``unstabilized`` client is at risk (1), any other is not (0);
- BG/NBD: 1 − P(alive) of the Beta-Geometric/NBD model (``lifetimes``), fitted on the
  clients' active months up to S (a month is a period, an active month a purchase). It is
  in the ``backtest`` extra only, never a dependency of the pipeline.

The clients evaluated are those of the base still buying at S (the statuses of the dbt var
``churn_call_list_statuses``: ``new``, ``returned``, ``stabilized``, ``unstabilized``), the
clients a call list ranks: a ``lost`` client has already stopped and predicting it is trivial;
it is scored all the same in production. Figures are pooled over the scored months:
ROC AUC, precision and recall in the top 10 % of each manager's clients, Brier score, and a
reliability table (predicted vs observed share by decile of the prediction).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from clientbase.churn import labels as churn_labels
from clientbase.churn import model as churn_model

log = logging.getLogger(__name__)

TOP_SHARE = 0.10
MIN_HISTORY_MONTHS = churn_model.MIN_HISTORY_MONTHS
# closed months the backtest needs for one scored month: its history, itself, its 3 months of future
MIN_CLOSED_MONTHS = MIN_HISTORY_MONTHS + 1 + churn_labels.HORIZON_MONTHS
METHODS = ("model", "status_rule", "bgnbd")
METHOD_TITLES = {"model": "churn model (logistic, calibrated)",
                 "status_rule": "status rule (unstabilized = at risk)",
                 "bgnbd": "BG/NBD 1 − P(alive) (lifetimes)"}


@dataclasses.dataclass
class BacktestResult:
    months: list[str]
    figures: dict[str, dict[str, float]]          # method -> metric -> value
    per_month: list[dict]                         # month, clients, lost, auc per method
    reliability: dict[str, list[dict]]            # method -> [{predicted, observed, clients}]

    def as_json(self) -> dict:
        return dataclasses.asdict(self)


def still_buying_statuses() -> tuple[str, ...]:
    """The statuses of clients still buying: the call list's (dbt var ``churn_call_list_statuses``)."""
    from clientbase.transform.dbt import project_vars

    return tuple(project_vars()["churn_call_list_statuses"])


def scored_months(activity: pd.DataFrame, count: int) -> list[dt.date]:
    """The last ``count`` months with 3 months of future and ``MIN_HISTORY_MONTHS`` of past."""
    months = sorted(activity["month"].unique())
    return months[MIN_HISTORY_MONTHS:len(months) - churn_labels.HORIZON_MONTHS][-count:]


def _bgnbd_risk(activity: pd.DataFrame, month: dt.date, clients: pd.Series) -> np.ndarray:
    with warnings.catch_warnings():
        # lifetimes 0.11 sets a pandas option that pandas 3 deprecated; harmless, and not ours
        warnings.filterwarnings("ignore", message=".*mode.chained_assignment.*")
        from lifetimes import BetaGeoFitter

    known = activity.loc[(activity["month"] <= month) & activity["is_active"]]
    index = known["month"].map(lambda m: m.year * 12 + m.month)
    per_client = known.assign(period=index).groupby("client_id")["period"].agg(["min", "max", "count"])
    now = month.year * 12 + month.month
    frequency = (per_client["count"] - 1).astype(float)
    recency = (per_client["max"] - per_client["min"]).astype(float)
    age = (now - per_client["min"]).astype(float)
    fitter = BetaGeoFitter(penalizer_coef=0.01)
    with warnings.catch_warnings():
        # fit() also computes the parameters' standard errors (unused here): with the penalizer
        # the Hessian's inverse can have a negative diagonal, whose sqrt is NaN; P(alive) uses
        # the fitted parameters only
        warnings.filterwarnings("ignore", message="invalid value encountered in sqrt", category=RuntimeWarning)
        fitter.fit(frequency, recency, age)
    alive = pd.Series(fitter.conditional_probability_alive(frequency, recency, age), index=per_client.index)
    return 1.0 - alive.reindex(clients).fillna(0.0).to_numpy()


def _top_share_flags(frame: pd.DataFrame, score: str) -> pd.Series:
    """True for the top ``TOP_SHARE`` of each manager's clients by ``score`` (ties: by client_id)."""
    ordered = frame.assign(_manager=frame["manager_id"].fillna("")).sort_values(
        ["_manager", score, "client_id"], ascending=[True, False, True])
    rank = ordered.groupby("_manager").cumcount() + 1
    size = ordered.groupby("_manager")["client_id"].transform("size")
    flags = rank <= np.ceil(TOP_SHARE * size)
    return flags.reindex(frame.index)


def _figures(frame: pd.DataFrame, method: str) -> dict[str, float]:
    from sklearn.metrics import brier_score_loss, roc_auc_score

    truth = frame["is_lost_next"].to_numpy(dtype=bool)
    flags = frame[f"top_{method}"].to_numpy(dtype=bool)
    hits = int((flags & truth).sum())
    return {
        "roc_auc": float(roc_auc_score(truth, frame[method])),
        "precision_top10": hits / max(int(flags.sum()), 1),
        "recall_top10": hits / max(int(truth.sum()), 1),
        "brier": float(brier_score_loss(truth, frame[method].clip(0, 1))),
        "flagged": int(flags.sum()),
        "hits": hits,
    }


def _reliability(frame: pd.DataFrame, method: str, bins: int = 10) -> list[dict]:
    edges = np.linspace(0, 1, bins + 1)
    bucket = np.clip(np.digitize(frame[method], edges[1:-1]), 0, bins - 1)
    table = []
    for index in range(bins):
        part = frame.loc[bucket == index]
        if len(part):
            table.append({"bin": f"{edges[index]:.1f}–{edges[index + 1]:.1f}",
                          "predicted": float(part[method].mean()),
                          "observed": float(part["is_lost_next"].mean()), "clients": int(len(part))})
    return table


def run(features: pd.DataFrame, activity: pd.DataFrame, months: int = 12,
        seed: int = churn_model.DEFAULT_SEED) -> BacktestResult:
    """Score each of the last ``months`` scoreable months with what was known then; compare."""
    last = max(activity["month"])
    truth = churn_labels.lost_next_months(activity, known_through=last)
    scored = []
    still_buying = still_buying_statuses()
    for month in scored_months(activity, months):
        with churn_model.one_blas_thread():
            fitted = churn_model.fit_for_month(features, activity, month, seed=seed)
        current = features.loc[(features["month"] == month) & features["status"].isin(still_buying)]
        current = current.merge(truth, on=["month", "client_id"], how="inner")
        current = current.assign(
            model=fitted.predict(current),
            status_rule=(current["status"] == "unstabilized").astype(float),
            bgnbd=_bgnbd_risk(activity, month, current["client_id"]))
        log.info("backtest %s: trained on %d client-months, scored %d clients", month, fitted.training_rows,
                 len(current))
        scored.append(current)
    if not scored:
        raise ValueError(f"no month has {MIN_HISTORY_MONTHS} months of history and 3 months of future: the "
                         f"backtest needs at least {MIN_CLOSED_MONTHS} "
                         "closed months (make demo closes 24)")
    pooled = pd.concat(scored, ignore_index=True)
    for method in METHODS:
        flags = [_top_share_flags(part, method) for _, part in pooled.groupby("month")]
        pooled[f"top_{method}"] = pd.concat(flags).reindex(pooled.index)
    figures = {method: _figures(pooled, method) for method in METHODS}
    per_month = []
    for month, part in pooled.groupby("month"):
        row = {"month": str(month), "clients": int(len(part)), "lost_next_3m": int(part["is_lost_next"].sum())}
        for method in METHODS:
            row[f"auc_{method}"] = (_figures(part, method)["roc_auc"]
                                    if part["is_lost_next"].nunique() == 2 else math.nan)
        per_month.append(row)
    return BacktestResult(months=[str(m) for m in sorted(pooled["month"].unique())], figures=figures,
                          per_month=per_month,
                          reliability={method: _reliability(pooled, method) for method in ("model", "bgnbd")})


def beats_baselines(figures: dict[str, dict[str, float]]) -> bool:
    """Issue 13's bar: the model above every baseline in ROC AUC and in top-10 % precision."""
    return all(figures["model"][metric] > figures[baseline][metric]
               for baseline in METHODS if baseline != "model" for metric in ("roc_auc", "precision_top10"))


def write(result: BacktestResult, directory: Path, stem: str = "backtest") -> tuple[Path, Path]:
    """``<stem>.json`` (every figure) and ``<stem>-reliability.png`` (the calibration plot)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    json_path = directory / f"{stem}.json"
    json_path.write_text(json.dumps(result.as_json(), indent=2, ensure_ascii=False), encoding="utf-8")
    figure, axes = plt.subplots(figsize=(5.5, 5))
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    for method, table in result.reliability.items():
        axes.plot([r["predicted"] for r in table], [r["observed"] for r in table], marker="o",
                  label=f"{METHOD_TITLES[method]}, Brier {result.figures[method]['brier']:.3f}")
    axes.set_xlabel("predicted P(no activity in the next 3 months)")
    axes.set_ylabel("observed share")
    axes.set_title(f"Churn backtest, {result.months[0][:7]} … {result.months[-1][:7]}")
    axes.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    png_path = directory / f"{stem}-reliability.png"
    figure.savefig(png_path, dpi=110)
    plt.close(figure)
    return json_path, png_path
