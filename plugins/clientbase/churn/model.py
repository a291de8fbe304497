"""The churn model: a calibrated, regularised logistic regression and its reasons in plain words.

Why a linear model: each client's score splits exactly into one contribution per feature
(coefficient x the client's standardised value), so "what pushes this client's risk up" is
the model's own arithmetic, not an approximation laid over a black box; on a few thousand
clients it trains in well under a second, so it is retrained at every close. Probabilities are
calibrated with a sigmoid fitted on held-out folds (scikit-learn's ``CalibratedClassifierCV``),
and everything is deterministic for a seed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
from collections.abc import Callable

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

MODEL_NAME = "logreg"
DEFAULT_SEED = 13
REGULARISATION_C = 0.5  # inverse L2 strength; tuned once on the demo's history, not per run
CATEGORICAL = ("status", "tier")
# every value each categorical input can take (stg_clients normalises the tier; "unknown" = none
# given), fixed so that every calibration fold encodes the same columns even when a month's
# training rows lack one: a value outside these is encoded as none of them
CATEGORIES = {"status": ("new", "returned", "stabilized", "unstabilized", "lost"),
              "tier": ("vip", "key", "regular", "unknown")}
# months of the spine before a scored month M: the model learns from M−3 and earlier, so 6 give
# it 3 labelled months at the least (the close and the backtest score the same months)
MIN_HISTORY_MONTHS = 6
STATUS_RU = {"new": "новый", "returned": "возвращённый", "stabilized": "стабилизированный",
             "unstabilized": "нестабилизированный", "lost": "потерянный"}


def _plural_ru(n: float, forms: tuple[str, str, str]) -> str:
    n = abs(int(round(n)))
    if n % 10 == 1 and n % 100 != 11:
        return forms[0]
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return forms[1]
    return forms[2]


_MONTHS = ("месяц", "месяца", "месяцев")


def _gap(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".") if value == value else "?"


def _pct(value: float) -> str:
    return f"{100 * value:.0f} %"


def _signed_pct(value: float) -> str:
    return f"{100 * value:+.0f} %".replace("-", "−")


@dataclasses.dataclass(frozen=True)
class Feature:
    """A model input: how it is derived from the features table and how it reads as a reason."""

    name: str
    derive: Callable[[pd.DataFrame], pd.Series]
    ru: Callable[[pd.Series], str]
    en: Callable[[pd.Series], str]


def _ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    numerator = pd.to_numeric(numerator, errors="coerce").astype(float)
    denominator = pd.to_numeric(denominator, errors="coerce").astype(float)
    return numerator / denominator.where(denominator != 0)


def _num(frame: pd.DataFrame, column: str) -> pd.Series:
    return pd.to_numeric(frame[column], errors="coerce").astype(float)


def _signed_log(values: pd.Series) -> pd.Series:
    return np.sign(values) * np.log1p(values.abs())


FEATURES: tuple[Feature, ...] = (
    Feature("months_inactive", lambda f: _num(f, "months_inactive").clip(upper=12),
            lambda r: f"{int(r.months_inactive)} {_plural_ru(r.months_inactive, _MONTHS)} без отгрузок "
                      f"при обычных {_gap(r.usual_gap_months)}",
            lambda r: f"{int(r.months_inactive)} months without shipments, usually {_gap(r.usual_gap_months)}"),
    Feature("inactivity_vs_usual",
            lambda f: _ratio(f["months_inactive"], f["usual_gap_months"]).clip(upper=12),
            lambda r: f"пауза {int(r.months_inactive)} {_plural_ru(r.months_inactive, _MONTHS)} "
                      f"при обычном интервале {_gap(r.usual_gap_months)}",
            lambda r: f"a {int(r.months_inactive)}-month pause against a usual gap of {_gap(r.usual_gap_months)}"),
    Feature("active_months_3m", lambda f: _num(f, "active_months_3m"),
            lambda r: f"отгрузки в {int(r.active_months_3m)} из 3 последних месяцев",
            lambda r: f"shipped in {int(r.active_months_3m)} of the last 3 months"),
    Feature("active_months_6m", lambda f: _num(f, "active_months_6m"),
            lambda r: f"отгрузки в {int(r.active_months_6m)} из 6 последних месяцев",
            lambda r: f"shipped in {int(r.active_months_6m)} of the last 6 months"),
    Feature("active_months_12m", lambda f: _num(f, "active_months_12m"),
            lambda r: f"отгрузки в {int(r.active_months_12m)} из 12 последних месяцев",
            lambda r: f"shipped in {int(r.active_months_12m)} of the last 12 months"),
    Feature("revenue_trend", lambda f: _num(f, "revenue_trend"),
            lambda r: f"выручка за 3 месяца {_signed_pct(r.revenue_trend)} к 3 предыдущим",
            lambda r: f"revenue of the last 3 months {_signed_pct(r.revenue_trend)} on the 3 before"),
    Feature("revenue_3m_log", lambda f: _signed_log(_num(f, "revenue_3m")),
            lambda r: f"выручка за 3 месяца {float(r.revenue_3m):,.0f}".replace(",", " "),
            lambda r: f"revenue of the last 3 months {float(r.revenue_3m):,.0f}"),
    Feature("skus_3m", lambda f: _num(f, "skus_3m"),
            lambda r: f"{int(r.skus_3m)} SKU за 3 месяца",
            lambda r: f"{int(r.skus_3m)} SKUs in the last 3 months"),
    Feature("breadth_trend",
            lambda f: _ratio(_num(f, "skus_3m") - _num(f, "skus_prev_3m"),
                             np.maximum(_num(f, "skus_3m"), _num(f, "skus_prev_3m"))).fillna(0.0),
            lambda r: f"ассортимент: {int(r.skus_3m)} SKU за 3 месяца против {int(r.skus_prev_3m)} за 3 предыдущих",
            lambda r: f"range: {int(r.skus_3m)} SKUs in the last 3 months against {int(r.skus_prev_3m)} "
                      "in the 3 before"),
    Feature("categories_3m", lambda f: _num(f, "categories_3m"),
            lambda r: f"{int(r.categories_3m)} категорий за 3 месяца",
            lambda r: f"{int(r.categories_3m)} categories in the last 3 months"),
    Feature("orders_3m_log", lambda f: np.log1p(_num(f, "orders_3m")),
            lambda r: f"{int(r.orders_3m)} заказов за 3 месяца",
            lambda r: f"{int(r.orders_3m)} orders in the last 3 months"),
    Feature("months_in_status", lambda f: _num(f, "months_in_status").clip(upper=24),
            lambda r: f"{int(r.months_in_status)} {_plural_ru(r.months_in_status, _MONTHS)} в статусе "
                      f"«{STATUS_RU.get(r.status, r.status)}»",
            lambda r: f"{int(r.months_in_status)} months as {r.status}"),
    Feature("owner_changes_12m", lambda f: _num(f, "owner_changes_12m"),
            lambda r: f"смена менеджера за год: {int(r.owner_changes_12m)}",
            lambda r: f"owner changed {int(r.owner_changes_12m)} times in 12 months"),
    Feature("overdue_share", lambda f: _num(f, "overdue_share"),
            lambda r: f"просрочка {_pct(float(r.overdue_share))}",
            lambda r: f"overdue {_pct(float(r.overdue_share))}"),
    Feature("on_time_share_3m", lambda f: _num(f, "on_time_share_3m"),
            lambda r: f"оплачено в срок {_pct(float(r.on_time_share_3m))} плана за 3 месяца",
            lambda r: f"paid on time {_pct(float(r.on_time_share_3m))} of plan in 3 months"),
    Feature("visit_effectiveness_3m", lambda f: _ratio(f["visit_orders_3m"], f["planned_visits_3m"]).clip(upper=3),
            lambda r: f"заказы на {int(r.visit_orders_3m)} из {int(r.planned_visits_3m)} плановых визитов",
            lambda r: f"orders at {int(r.visit_orders_3m)} of {int(r.planned_visits_3m)} planned visits"),
)


def design_matrix(features: pd.DataFrame) -> pd.DataFrame:
    """The model's numeric inputs from rows of the features table (NaN where unknown)."""
    columns = {feature.name: feature.derive(features).to_numpy(dtype=float) for feature in FEATURES}
    frame = pd.DataFrame(columns, index=features.index)
    for column in CATEGORICAL:
        frame[column] = features[column].fillna("unknown").astype(str).to_numpy()
    return frame


@dataclasses.dataclass
class ChurnModel:
    """A fitted model: its pipeline, what it was trained on, and how to read its scores."""

    pipeline: object
    trained_through: dt.date
    training_rows: int
    positive_share: float
    version: str

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        """P(no activity in the next 3 months) per row of ``features``."""
        return self.pipeline.predict_proba(design_matrix(features))[:, 1]

    def contributions(self, features: pd.DataFrame) -> pd.DataFrame:
        """Each input's share of each row's log-odds (averaged over the calibration folds)."""
        parts = []
        for calibrated in self.pipeline.calibrated_classifiers_:
            estimator = calibrated.estimator
            prepare, regression = estimator[:-1], estimator[-1]
            values = prepare.transform(design_matrix(features))
            parts.append(values * regression.coef_[0])
        names = self.pipeline.calibrated_classifiers_[0].estimator[:-1].get_feature_names_out()
        return pd.DataFrame(np.mean(parts, axis=0), columns=names, index=features.index)

    def reasons(self, features: pd.DataFrame, top: int = 3) -> tuple[list[str], list[str]]:
        """Per row, the ``top`` inputs that push the risk up most, in Russian and in English.

        An input the row does not have (NaN: no invoices, no visits) is never a reason, though
        the model fills it in with the training median: "overdue 0 %" would be made up.
        """
        contributions = self.contributions(features)
        by_feature = {feature.name: feature for feature in FEATURES}
        grouped = {}
        for column in contributions.columns:
            # 'numeric__months_inactive', 'categorical__status_lost', 'numeric__missingindicator_…'
            kind, _, name = column.partition("__")
            if name.startswith("missingindicator_"):
                continue
            if kind == "categorical":
                name = next(c for c in CATEGORICAL if name.startswith(c + "_"))
            grouped.setdefault(name, []).append(contributions[column])
        summed = pd.DataFrame({name: sum(parts) for name, parts in grouped.items()}, index=features.index)
        inputs = design_matrix(features)
        for name in summed.columns:
            if name not in CATEGORICAL:
                summed.loc[inputs[name].isna(), name] = -np.inf
        names = list(summed.columns)
        values = summed.to_numpy()
        order = np.argsort(-values, axis=1, kind="stable")[:, :top]
        ru, en = [], []
        for position, row in enumerate(features.itertuples(index=False)):
            picked = [names[j] for j in order[position] if values[position, j] > 0]
            ru.append("; ".join(_reason(name, row, by_feature, "ru") for name in picked))
            en.append("; ".join(_reason(name, row, by_feature, "en") for name in picked))
        return ru, en


def _reason(name: str, row, by_feature: dict[str, Feature], language: str) -> str:
    if name == "status":
        return (f"статус «{STATUS_RU.get(row.status, row.status)}»" if language == "ru"
                else f"status {row.status}")
    if name == "tier":
        return (f"тип клиента {row.tier}" if language == "ru" else f"tier {row.tier}")
    feature = by_feature[name]
    return feature.ru(row) if language == "ru" else feature.en(row)


def one_blas_thread():
    """A context in which BLAS runs on one thread: the model's problems are small (tens of
    columns), and OpenBLAS's threads cost more than they save; on the 2-core machine with a month
    close running beside it, scoring the demo's 18 months took 19.5 s with them, 3.5 s without."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


class NotEnoughHistory(ValueError):
    """A month the model cannot be trained for yet: too few months before it, or one outcome only."""


def model_spec(seed: int = DEFAULT_SEED) -> str:
    """What defines the model apart from its training data: inputs, settings, seed, library.

    A month scored under another spec is scored again at the next close (churn/score.py), so
    the published history never mixes two models without saying so (``model_version``).
    """
    from sklearn import __version__ as sklearn_version

    numeric = [feature.name for feature in FEATURES]
    digest = hashlib.sha256(repr((numeric, CATEGORIES, REGULARISATION_C, seed)).encode()).hexdigest()[:8]
    return f"{MODEL_NAME}-{digest}/sklearn-{sklearn_version}"


def fit_for_month(features: pd.DataFrame, activity: pd.DataFrame, month: dt.date,
                  seed: int = DEFAULT_SEED) -> ChurnModel:
    """The model a close of ``month`` trains: the client-months whose outcome is known at
    ``month`` (up to ``month`` − 3), nothing later. The backtest scores its months with the very
    same function, so what it measures is what the close publishes.

    Raises :class:`NotEnoughHistory` when the spine has fewer than ``MIN_HISTORY_MONTHS`` months
    before ``month`` or the known outcomes are all one way.
    """
    from clientbase.churn import labels as churn_labels

    earlier = sum(1 for m in pd.unique(activity["month"]) if m < month)
    if earlier < MIN_HISTORY_MONTHS:
        raise NotEnoughHistory(f"{earlier} month(s) of history before {month:%Y-%m}; the model needs "
                               f"{MIN_HISTORY_MONTHS} (3 of them with a known outcome)")
    known = churn_labels.lost_next_months(activity, known_through=month)
    rows = features.merge(known, on=["month", "client_id"], how="inner")
    return train(rows, rows["is_lost_next"], trained_through=month, seed=seed)


def train(features: pd.DataFrame, labels: pd.Series, trained_through: dt.date,
          seed: int = DEFAULT_SEED) -> ChurnModel:
    """Fit the model on labelled client-months (``labels``: True = no activity in the next 3 months)."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    y = np.asarray(labels, dtype=bool)
    if y.all() or not y.any():
        raise NotEnoughHistory(f"the churn model needs both outcomes to learn from; the {len(y)} labelled "
                         f"client-months up to {trained_through} are all "
                         f"{'lost' if y.all() else 'kept'}: close more months first")
    numeric = [feature.name for feature in FEATURES]
    prepare = ColumnTransformer([
        ("numeric", make_pipeline(SimpleImputer(strategy="median", add_indicator=True,
                                                keep_empty_features=True), StandardScaler()), numeric),
        ("categorical", OneHotEncoder(categories=[list(CATEGORIES[c]) for c in CATEGORICAL],
                                       handle_unknown="ignore", sparse_output=False), list(CATEGORICAL)),
    ])
    estimator = Pipeline([("prepare", prepare),
                          ("regression", LogisticRegression(C=REGULARISATION_C, max_iter=2000))])
    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=seed)
    pipeline = CalibratedClassifierCV(estimator, method="sigmoid", cv=folds)
    pipeline.fit(design_matrix(features), y)
    version = f"{model_spec(seed)}/trained-through-{trained_through:%Y-%m}"
    log.info("churn model %s: %d client-months, %.1f %% lost in the next 3 months",
             version, len(y), 100 * y.mean())
    return ChurnModel(pipeline, trained_through, len(y), float(y.mean()), version)
