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
            lambda r: f"ассортимент сузился: {int(r.skus_3m)} SKU против {int(r.skus_prev_3m)}",
            lambda r: f"range narrowed: {int(r.skus_3m)} SKUs against {int(r.skus_prev_3m)} before"),
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
        """Per row, the ``top`` inputs that push the risk up most, in Russian and in English."""
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
        ru, en = [], []
        for index, row in features.iterrows():
            ranked = summed.loc[index].sort_values(ascending=False)
            picked = [name for name, value in ranked.items() if value > 0][:top]
            ru.append("; ".join(_reason(name, row, by_feature, "ru") for name in picked))
            en.append("; ".join(_reason(name, row, by_feature, "en") for name in picked))
        return ru, en


def _reason(name: str, row: pd.Series, by_feature: dict[str, Feature], language: str) -> str:
    if name == "status":
        return (f"статус «{STATUS_RU.get(row.status, row.status)}»" if language == "ru"
                else f"status {row.status}")
    if name == "tier":
        return (f"тип клиента {row.tier}" if language == "ru" else f"tier {row.tier}")
    feature = by_feature[name]
    return feature.ru(row) if language == "ru" else feature.en(row)


def train(features: pd.DataFrame, labels: pd.Series, trained_through: dt.date,
          seed: int = DEFAULT_SEED) -> ChurnModel:
    """Fit the model on labelled client-months (``labels``: True = no activity in the next 3 months)."""
    from sklearn import __version__ as sklearn_version
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    y = np.asarray(labels, dtype=bool)
    if y.all() or not y.any():
        raise ValueError(f"the churn model needs both outcomes to learn from; the {len(y)} labelled "
                         f"client-months up to {trained_through} are all "
                         f"{'lost' if y.all() else 'kept'}: close more months first")
    numeric = [feature.name for feature in FEATURES]
    prepare = ColumnTransformer([
        ("numeric", make_pipeline(SimpleImputer(strategy="median", add_indicator=True,
                                                keep_empty_features=True), StandardScaler()), numeric),
        ("categorical", OneHotEncoder(handle_unknown="ignore", sparse_output=False), list(CATEGORICAL)),
    ])
    estimator = Pipeline([("prepare", prepare),
                          ("regression", LogisticRegression(C=REGULARISATION_C, max_iter=2000))])
    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=seed)
    pipeline = CalibratedClassifierCV(estimator, method="sigmoid", cv=folds)
    pipeline.fit(design_matrix(features), y)
    digest = hashlib.sha256(repr((numeric, CATEGORICAL, REGULARISATION_C, seed)).encode()).hexdigest()[:8]
    version = f"{MODEL_NAME}-{digest}/sklearn-{sklearn_version}/trained-through-{trained_through:%Y-%m}"
    log.info("churn model %s: %d client-months, %.1f %% lost in the next 3 months",
             version, len(y), 100 * y.mean())
    return ChurnModel(pipeline, trained_through, len(y), float(y.mean()), version)
