"""The churn model (issue 13): its features know nothing of later months, its labels and reasons
are right, and on the demo's history the backtest beats the status rule and BG/NBD.

One demo distributor (the demo's 24 months and 300 clients) is closed twice: first without its
last 3 months, then with them, rebuilt from scratch (``--full-refresh``, so an incremental close
cannot keep the earlier rows by construction); the features of every month up to the held-back
ones must be identical.
"""

from __future__ import annotations

import datetime as dt
import shutil

import pandas as pd
import psycopg
import pytest

from clientbase import cli
from clientbase.churn import backtest, data, labels, model
from conftest import reset_warehouse
from test_pipeline import drop_history

HELD_BACK_MONTHS = 3


def run(landing, *extra: str) -> None:
    assert cli.main(["run", "--landing", str(landing), *extra]) == 0


def features_through(url: str, month: dt.date) -> pd.DataFrame:
    frame = data.features(url, through=month)
    return frame.sort_values(["month", "client_id"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def history(airflow_ready, tmp_path_factory):
    """(url, last month before the held-back ones, features then, features after adding them)."""
    from clientbase.generate import generate

    url = airflow_ready
    drop_history(url)
    reset_warehouse(url)
    root = tmp_path_factory.mktemp("churn")
    landing, held_back = root / "landing", root / "held_back"
    summary = generate(landing, None)
    last = dt.date.fromisoformat(summary.last_month + "-01")
    cut = labels.add_months(last, -HELD_BACK_MONTHS)
    for step in range(1, HELD_BACK_MONTHS + 1):
        month = labels.add_months(cut, step)
        for path in landing.rglob(f"*{month:%Y-%m}*"):
            target = held_back / path.relative_to(landing)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(path, target)
    run(landing)
    before = features_through(url, cut)
    # the later months' files, without the generator's corrections (which re-send earlier lines:
    # a correction changes the past on purpose, it is not a leak)
    shutil.copytree(held_back, landing, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*corrections*"))
    run(landing, "--full-refresh")
    return url, cut, before, features_through(url, cut)


def test_features_of_a_month_do_not_change_when_later_months_arrive(history):
    url, cut, before, after = history
    assert len(before) > 1000 and before["month"].max() == cut
    pd.testing.assert_frame_equal(before, after)
    # and the later months are there: the comparison is not between two copies of one build
    with psycopg.connect(url) as conn:
        [latest] = conn.execute(f"select max(month) from {data.FEATURES_RELATION}").fetchone()
    assert latest == labels.add_months(cut, HELD_BACK_MONTHS)


def test_every_client_of_the_base_has_one_row_a_month(history):
    url, *_ = history
    with psycopg.connect(url) as conn:
        missing, extra = conn.execute(f"""
            select
                count(*) filter (where f.client_id is null),
                count(*) filter (where s.client_id is null)
            from (select month, client_id from {data.STATUS_RELATION} where is_in_client_base) as s
            full join {data.FEATURES_RELATION} as f using (month, client_id)""").fetchone()
    assert (missing, extra) == (0, 0)


def test_a_label_reads_only_the_months_it_is_told_are_known():
    months = [dt.date(2024, m, 1) for m in range(1, 9)]
    # A: active in 1, 2, then silent; B: active every other month
    activity = pd.DataFrame(
        [("A", m, m.month <= 2) for m in months] + [("B", m, m.month % 2 == 1) for m in months],
        columns=["client_id", "month", "is_active"])
    known = labels.lost_next_months(activity, known_through=dt.date(2024, 6, 1))
    # months 1..3 have their three next months within June; month 4 would need July
    assert sorted(known["month"].unique()) == months[:3]
    by_key = {(r.client_id, r.month.month): r.is_lost_next for r in known.itertuples()}
    assert by_key == {("A", 1): False, ("A", 2): True, ("A", 3): True,
                      ("B", 1): False, ("B", 2): False, ("B", 3): False}
    everything = labels.lost_next_months(activity, known_through=months[-1])
    assert max(everything["month"]) == dt.date(2024, 5, 1)


def test_reasons_are_plain_words_in_both_languages():
    assert model._plural_ru(1, model._MONTHS) == "месяц"
    assert model._plural_ru(2, model._MONTHS) == "месяца"
    assert model._plural_ru(5, model._MONTHS) == "месяцев"
    assert model._plural_ru(11, model._MONTHS) == "месяцев"
    assert model._plural_ru(22, model._MONTHS) == "месяца"
    row = pd.Series({"months_inactive": 2, "usual_gap_months": 1.0, "overdue_share": 0.4, "status": "unstabilized"})
    by_name = {f.name: f for f in model.FEATURES}
    assert model._reason("months_inactive", row, by_name, "ru") == "2 месяца без отгрузок при обычных 1"
    assert model._reason("overdue_share", row, by_name, "ru") == "просрочка 40 %"
    assert model._reason("overdue_share", row, by_name, "en") == "overdue 40 %"
    assert model._reason("status", row, by_name, "ru") == "статус «нестабилизированный»"


@pytest.fixture(scope="module")
def backtested(history):
    url, *_ = history
    features, activity = data.features(url), data.activity(url)
    return features, activity, backtest.run(features, activity, months=12)


def test_the_model_beats_both_baselines_on_the_demo_history(backtested):
    *_, result = backtested
    assert len(result.months) == 12
    figures = result.figures
    for baseline in ("status_rule", "bgnbd"):
        assert figures["model"]["roc_auc"] > figures[baseline]["roc_auc"], (baseline, figures)
        assert figures["model"]["precision_top10"] > figures[baseline]["precision_top10"], (baseline, figures)
    for method in backtest.METHODS:
        assert 0 <= figures[method]["brier"] <= 1 and 0 <= figures[method]["recall_top10"] <= 1
    # calibrated: the mean prediction is near the observed share
    table = result.reliability["model"]
    predicted = sum(r["predicted"] * r["clients"] for r in table) / sum(r["clients"] for r in table)
    observed = sum(r["observed"] * r["clients"] for r in table) / sum(r["clients"] for r in table)
    assert abs(predicted - observed) < 0.05, table


def test_the_backtest_is_deterministic_and_writes_json_and_a_plot(backtested, tmp_path):
    features, activity, result = backtested
    again = backtest.run(features, activity, months=12)
    assert again.figures == result.figures
    json_path, png_path = backtest.write(result, tmp_path)
    assert json_path.read_text(encoding="utf-8").count("roc_auc") == 3
    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_trained_model_scores_and_explains_each_client(backtested):
    features, activity, _ = backtested
    month = max(features["month"])
    known = labels.lost_next_months(activity, known_through=month)
    rows = features.merge(known, on=["month", "client_id"])
    fitted = model.train(rows, rows["is_lost_next"], trained_through=month)
    current = features.loc[features["month"] == month]
    scores = fitted.predict(current)
    assert len(scores) == len(current) and ((scores >= 0) & (scores <= 1)).all()
    ru, en = fitted.reasons(current)
    riskiest = int(scores.argmax())
    assert ru[riskiest] and en[riskiest] and len(ru[riskiest].split("; ")) <= 3
    assert fitted.version.startswith("logreg-") and f"{month:%Y-%m}" in fitted.version
    with pytest.raises(ValueError, match="both outcomes"):
        model.train(rows.head(3), [True, True, True], trained_through=month)
