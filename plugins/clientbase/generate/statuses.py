"""The client status rules of ``spec/metrics.md`` §2, on an activity matrix.

The generator uses them to report (and the tests to prove) that the demo shows every
status; the warehouse computes the same rules in dbt — this is a check of the demo data,
not a second implementation the pipeline relies on.
"""

from __future__ import annotations

import numpy as np

STATUSES = ("potential", "new", "returned", "stabilized", "unstabilized", "dormant", "lost")


def client_statuses(active: np.ndarray, new_hold: int = 3, returned_hold: int = 2,
                    dormant_after: int = 12) -> np.ndarray:
    """(C, T) status of every client in every month, from a (C, T) bool activity matrix."""
    n, t_all = active.shape
    out = np.empty((n, t_all), dtype=object)
    ever = np.cumsum(active, axis=1) > 0
    first = np.where(active.any(axis=1), active.argmax(axis=1), t_all)
    padded = np.concatenate([np.zeros((n, 3), dtype=bool), active], axis=1)  # month t at t+3
    # A month R is a return when active, after the first active month, with R-3..R-1 idle.
    idle3 = ~(padded[:, 0:t_all] | padded[:, 1:t_all + 1] | padded[:, 2:t_all + 2])
    is_return = active & idle3 & (np.arange(t_all)[None, :] > first[:, None])
    last = np.full(n, -1)
    for t in range(t_all):
        last = np.where(active[:, t], t, last)
        in3 = active[:, max(0, t - 2): t + 1].sum(axis=1)
        returned = is_return[:, max(0, t - returned_hold + 1): t + 1].any(axis=1)
        out[:, t] = np.select(
            [~ever[:, t], t - first < new_hold, returned, in3 >= 2, in3 == 1,
             t - last > dormant_after],
            ["potential", "new", "returned", "stabilized", "unstabilized", "dormant"],
            default="lost",
        )
    return out


def status_counts(statuses: np.ndarray) -> dict[str, int]:
    """How many clients hold each status (all seven keys, zero included)."""
    values, counts = np.unique(statuses.astype(str), return_counts=True)
    found = dict(zip(values.tolist(), counts.tolist(), strict=True))
    return {s: int(found.get(s, 0)) for s in STATUSES}
