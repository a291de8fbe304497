"""What each field rep costs per month: salary, car amortisation, fuel.

Fuel follows the number of visits the rep made, so cost per visit and per order (metrics
§5) move with the workload; reps without a company car have no car and no fuel cost.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from clientbase.generate.timeline import Timeline

CAR_SHARE = 0.7
ANNUAL_RAISE = 0.08  # every January


def rep_costs(timeline: Timeline, staff: pd.DataFrame, visit_rows: pd.DataFrame,
              rng: np.random.Generator) -> pd.DataFrame:
    reps = staff.loc[staff["kind"] == "rep", "manager_id"].to_numpy()
    n = len(reps)
    salary = np.round(rng.uniform(55_000, 80_000, n) / 500) * 500
    has_car = rng.permutation(n) >= max(1, round(n * (1 - CAR_SHARE)))  # at least one rep walks
    car = np.where(has_car, np.round(rng.uniform(8_000, 14_000, n) / 100) * 100, np.nan)
    per_km = rng.uniform(250, 400, n)

    t = np.repeat(np.arange(timeline.n), n)
    r = np.tile(np.arange(n), timeline.n)
    januaries = np.array([sum(m.month == 1 for m in timeline.months[1: i + 1]) for i in range(timeline.n)])
    counts = (visit_rows.groupby(["rep_id", "t"]).size()
              .reindex(pd.MultiIndex.from_arrays([reps[r], t]), fill_value=0).to_numpy())
    fuel = np.where(has_car[r], np.round(counts * per_km[r] * rng.uniform(0.9, 1.1, len(t)), 2), np.nan)
    return pd.DataFrame({
        "month": [timeline.start(i) for i in t],
        "rep_id": reps[r],
        "salary": np.round(salary[r] * (1 + ANNUAL_RAISE) ** januaries[t], -2),
        "car": car[r],
        "fuel": fuel,
    })
