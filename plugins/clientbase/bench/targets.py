"""The benchmark's targets (issues 12 and 13), each once: the report, the JSON and BENCHMARKS.md read them here."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    """``figure`` (a key of the run's figures) must be ``op`` ``limit``; ``text`` says it for people."""

    figure: str
    op: str  # ">=", "<=" or "=="
    limit: float | bool
    text: str

    def met(self, value: float | bool | None) -> bool | None:
        """None when the figure was not measured (e.g. no full refresh yet)."""
        if value is None:
            return None
        if self.op == ">=":
            return value >= self.limit
        if self.op == "<=":
            return value <= self.limit
        return value == self.limit


GIB = 1024 ** 3
TARGETS: tuple[Target, ...] = (
    Target("load_vs_floor", ">=", 0.5, "load >= 50 % of the COPY floor's rows/s"),
    Target("close_growth", "<=", 1.2, "close of the late month <= 1.2 x close of the early month"),
    Target("first_close_vs_floor", "<=", 1.5, "first close <= 1.5 x its floor (dbt build + COPY)"),
    Target("late_correction_vs_first_close", "<=", 1 / 3, "close after a late correction <= 1/3 first close"),
    Target("peak_rss_bytes", "<=", GIB, "peak RSS of the pipeline's processes <= 1 GiB"),
    Target("full_refresh_identical", "==", True, "incremental and --full-refresh publish identical tables"),
    # issue 13: the backtest, when the history is long enough (10 months)
    Target("churn_model_beats_baselines", "==", True,
           "churn model beats the status rule and BG/NBD (ROC AUC, top-10 % precision)"),
)
