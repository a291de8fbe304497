"""The benchmark harness end to end at size XS on real embedded warehouses (issue 12).

It runs the real CLI (``clientbase run``) in subprocesses, each with its own warehouse, so
it checks the harness, not the figures: every target has a figure (or says why not), a
met flag, and the JSON and the plot are written.
"""

from __future__ import annotations

import json
import shutil

import pytest

from clientbase.bench import generation, report
from clientbase.bench.run import _series_plan, run_bench
from clientbase.bench.sizes import SIZES
from clientbase.bench.targets import TARGETS
from conftest import REPO


def test_files_known_at_the_end_of_a_month():
    assert generation.known_by("shipments/shipments_2025-03.csv", "2025-03")
    assert not generation.known_by("shipments/shipments_2025-04.csv", "2025-03")
    assert not generation.known_by("shipments/shipments_2025-12_corrections.csv", "2025-11")
    assert generation.known_by("clients/clients_2025-01-01.xlsx", "2025-01")
    assert not generation.known_by("trade_points/trade_points_2025-04-01.csv", "2025-03")
    assert generation.known_by("managers/managers.csv", "2024-01")


def test_rep_cost_sheet_is_cut_to_the_month():
    sheet = (" Rep_ID ;MONTH; visits_cost \r\n"
             "REP001;01.01.2025;100\r\nREP001;01.02.2025;110\r\nREP001;01.03.2025;120\r\n")
    cut = generation._cost_sheet_until(sheet.encode("cp1251"), "2025-02").decode("cp1251")
    assert cut == " Rep_ID ;MONTH; visits_cost \r\nREP001;01.01.2025;100\r\nREP001;01.02.2025;110\r\n"


def test_sparse_series_closes_the_months_before_each_compared_month_together():
    months = tuple(f"2025-{m:02d}" for m in range(1, 13))
    assert _series_plan(months, (6, 12), "sparse") == [("2025-05", False), ("2025-06", True),
                                                       ("2025-11", False), ("2025-12", True)]
    assert len(_series_plan(months, (6, 12), "all")) == 12


@pytest.mark.slow
def test_bench_xs_end_to_end(tmp_path):
    out = tmp_path / "results"
    result = run_bench(SIZES["XS"], out, series="sparse")
    path = out / f"XS-{result['date']}.json"
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert [row["figure"] for row in saved["targets"]] == [t.figure for t in TARGETS]
    for row in saved["targets"]:
        assert row["target"] and "met" in row
        if row["figure"] == "full_refresh_identical" and row["value"] is None:
            assert saved["not_measured"]["full_refresh_identical"].startswith("not measured")
        elif row["figure"] == "churn_model_beats_baselines":  # XS: 6 months, the backtest needs 10
            assert row["value"] is None and saved["not_measured"][row["figure"]].startswith("not measured (6 months")
        else:
            assert row["value"] is not None and row["met"] in (True, False), row
    figures = saved["figures"]
    assert figures["load_rows_per_s"] > 0 and figures["copy_floor_rows_per_s"] > 0
    assert saved["load"]["pipeline"]["rows"] == saved["load"]["copy_floor_shipments"]["rows"]
    assert 0 < figures["peak_rss_bytes"] and figures["warehouse_size_bytes"] > 0
    assert [s["month"] for s in saved["series"]] == [m for m, _ in _series_plan(tuple(saved["data"]["months"]),
                                                                                  SIZES["XS"].compare, "sparse")]
    assert all(s["seconds"] > 0 and "monthly_kpi" in s["phases"] for s in saved["series"])
    assert (out / f"XS-{result['date']}.png").stat().st_size > 1000
    doc = report.write_md(tmp_path / "BENCHMARKS.md", out)
    text = doc.read_text(encoding="utf-8")
    assert report.MD_BEGIN in text and "### Size XS" in text and "first close" in text


def test_write_md_ignores_a_run_that_stopped_early(tmp_path):
    """A ``.partial.json`` (a run stopped half-way) never replaces the complete run of its size."""
    complete = sorted((REPO / "bench" / "results").glob("M-*.json"))
    complete = [p for p in complete if not p.name.endswith(".partial.json")]
    assert complete, "bench/results holds the M run of record (BENCHMARKS.md shows it)"
    shutil.copy(complete[-1], tmp_path / complete[-1].name)
    (tmp_path / "M-2999-01-01.partial.json").write_text(
        json.dumps({"size": "M", "date": "2999-01-01", "complete": False, "stopped_by": "KeyboardInterrupt: "}),
        encoding="utf-8")
    text = report.write_md(tmp_path / "BENCHMARKS.md", tmp_path).read_text(encoding="utf-8")
    assert "### Size M" in text and "2999-01-01" not in text
