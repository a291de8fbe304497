"""The new owner's first call: some idle clients handed to another manager buy again.

The seeds say that "when clients are handed to another manager, they suddenly start buying"
(issue 13); the demo gives ``reporting.rotation_outcomes_monthly`` something to find, and only
a modest effect, as a real distributor would see. A client handed to another manager at a list
(a new owner in list k, any manager) while it was idle (no active month in the two months
before the list: a rotation candidate of the month before, metrics.md §3) and that had bought
before buys again, with probability ``UPLIFT``, in the list's month or the next (within the
three months the outcome table measures from either candidate month before the list), if one
of its trade points is still open then.
Clients who would have come back anyway are unchanged; the scripted showcase clients of the
last month (lifecycle.py) are left alone.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from clientbase.generate.history import History
from clientbase.generate.lifecycle import Lifecycles, scripted_clients

UPLIFT = 0.4  # share of the idle clients handed over (and not coming back anyway) the new owner wins back
IDLE_MONTHS = 2  # months without activity before the list: a rotation candidate (rotation_after_months)
# the list's month and the next: within C+1 .. C+3 for a candidate of either month before the list
WINDOW = 2


def uplift(life: Lifecycles, hist: History, client_of_point: np.ndarray, rng: np.random.Generator) -> Lifecycles:
    """``life`` with the won-back months added (a new array; ``life`` is not changed).

    ``client_of_point``: each trade point's client index (-1: not a client's), to tell whether
    the client still has a shop to deliver to.
    """
    active = life.active.copy()
    n_clients, n_months = active.shape
    list_of_month = hist.asof(n_months)
    owned = client_of_point >= 0
    first = life.first
    protected = np.zeros(n_clients, dtype=bool)
    protected[scripted_clients(life.kind)] = True
    for k in range(1, len(hist.snap_t)):
        month = int(hist.snap_t[k])
        if month < IDLE_MONTHS:
            continue
        before, now = hist.owner[:, k - 1], hist.owner[:, k]
        handed = hist.listed[:, k - 1] & hist.listed[:, k] & (before != now)
        idle = ~active[:, month - IDLE_MONTHS:month].any(axis=1) & (first >= 0) & (first < month)
        draw = rng.random(n_clients)
        offset = rng.integers(0, WINDOW, n_clients)
        won = handed & idle & ~protected & (draw < UPLIFT)
        for c in np.flatnonzero(won):
            target = min(month + int(offset[c]), n_months - 1)
            shops = owned & (client_of_point == c)
            if hist.point_active[shops, list_of_month[target]].any():
                active[c, target] = True
    return dataclasses.replace(life, active=active)
