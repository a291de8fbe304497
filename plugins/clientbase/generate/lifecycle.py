"""When each client buys: the month-by-month activity matrix behind every status.

Each client gets a lifecycle *kind* and the kind decides in which months it buys. The
kinds are the behaviours the status rules of ``spec/metrics.md`` are built to tell apart:

- ``regular``   buys almost every month (stabilized);
- ``irregular`` buys one month in two or three (unstabilized, sometimes returned);
- ``churning``  stops buying for good at some month (lost, then dormant after a year);
- ``returning`` stops for 3–7 months, then comes back (returned);
- ``late``      first buys in the middle of the period (new);
- ``never``     is in the clients list but never buys (potential).

On top of the random draw a few clients are *scripted* so that the last month always
shows every status, whatever the seed and size.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

KIND_SHARES = {
    "regular": 0.38, "irregular": 0.17, "churning": 0.12,
    "returning": 0.08, "late": 0.15, "never": 0.10,
}
KINDS = tuple(KIND_SHARES)
# Smallest count per kind so that the scripted clients below always exist.
KIND_MINIMUM = {"regular": 1, "irregular": 1, "churning": 2, "returning": 1, "late": 1, "never": 1}
MIN_MONTHS = 6
MIN_CLIENTS = 12


@dataclass(frozen=True)
class Lifecycles:
    kind: np.ndarray        # (C,) kind name
    active: np.ndarray      # (C, T) bool: the client buys in month t
    return_gap: np.ndarray  # (C, 2) idle-from, return month of returning clients, else -1

    @property
    def first(self) -> np.ndarray:
        """First active month, -1 for never."""
        any_ = self.active.any(axis=1)
        return np.where(any_, self.active.argmax(axis=1), -1)

    @property
    def last(self) -> np.ndarray:
        """Last active month, -1 for never."""
        n = self.active.shape[1]
        any_ = self.active.any(axis=1)
        return np.where(any_, n - 1 - self.active[:, ::-1].argmax(axis=1), -1)


def assign_kinds(n_clients: int, rng: np.random.Generator) -> np.ndarray:
    """Kinds in proportion to KIND_SHARES, shuffled so client ids do not reveal them."""
    counts = {k: max(KIND_MINIMUM[k], round(share * n_clients)) for k, share in KIND_SHARES.items()}
    counts["regular"] += n_clients - sum(counts.values())
    kinds = np.concatenate([np.full(c, k, dtype=object) for k, c in counts.items()])
    return kinds[rng.permutation(n_clients)]


def simulate(kind: np.ndarray, n_months: int, rng: np.random.Generator) -> Lifecycles:
    """Draw each client's active months from its kind, then script the end-month showcase."""
    n, t_all = len(kind), n_months
    active = np.zeros((n, t_all), dtype=bool)
    gap = np.full((n, 2), -1, dtype=np.int64)
    noise = rng.random((n, t_all))
    months = np.arange(t_all)

    for c in range(n):
        k = kind[c]
        if k == "regular":
            active[c] = noise[c] < rng.uniform(0.85, 0.97)
        elif k == "irregular":
            active[c] = noise[c] < rng.uniform(0.30, 0.55)
        elif k == "churning":
            last = int(rng.integers(1, t_all - 3))
            _churn(active[c], noise[c], last)
        elif k == "returning":
            idle_from = int(rng.integers(1, t_all - 4)) + 1
            back = min(idle_from + int(rng.integers(3, 8)), t_all - 1)
            _return(active[c], noise[c], idle_from, back)
            gap[c] = idle_from, back
        elif k == "late":
            start = int(rng.integers(1, t_all))
            active[c] = (noise[c] < 0.85) & (months >= start)
            active[c, start] = True

    _script_end_month(kind, active, noise, gap)
    return Lifecycles(kind=kind, active=active, return_gap=gap)


def _churn(row: np.ndarray, noise: np.ndarray, last: int) -> None:
    row[:] = (noise < 0.9) & (np.arange(len(row)) <= last)
    row[last] = True


def _return(row: np.ndarray, noise: np.ndarray, idle_from: int, back: int) -> None:
    months = np.arange(len(row))
    row[:] = (noise < 0.85) & ((months < idle_from) | (months >= back))
    row[idle_from - 1] = True
    row[back] = True


# The clients _script_end_month forces, by kind: the first client of each (the second churning
# one too: the dormant showcase). Later steps that change activity leave them alone.
SCRIPTED = {"regular": 1, "irregular": 1, "churning": 2, "late": 1, "returning": 1}


def scripted_clients(kind: np.ndarray) -> np.ndarray:
    """Indices of the clients whose last months _script_end_month sets."""
    return np.concatenate([np.flatnonzero(kind == k)[:count] for k, count in SCRIPTED.items()])


def _script_end_month(kind: np.ndarray, active: np.ndarray, noise: np.ndarray, gap: np.ndarray) -> None:
    """Force one client per status at the last month M (the first client of a fitting kind).

    stabilized (active the last 3 months), unstabilized (active M-3 and M only), lost (last
    bought M-4), dormant (last bought M-13, needs 14 months), new (first bought M-1),
    returned (idle M-4..M-1, back in M); potential needs nothing: ``never`` clients are it.
    """
    t_all = active.shape[1]
    m = t_all - 1
    first_of = {k: np.flatnonzero(kind == k) for k in KINDS}

    active[first_of["regular"][0], m - 2:] = True
    c = first_of["irregular"][0]
    active[c, 0] = True
    active[c, m - 3:] = (True, False, False, True)
    _churn(active[first_of["churning"][0]], noise[first_of["churning"][0]], m - 4)
    if t_all >= 14:
        _churn(active[first_of["churning"][1]], noise[first_of["churning"][1]], m - 13)
    else:
        log.warning("%d months: too few for a dormant client (needs 14)", t_all)
    c = first_of["late"][0]
    active[c, : m - 1] = False
    active[c, m - 1:] = True
    c = first_of["returning"][0]
    _return(active[c], noise[c], m - 4, m)
    gap[c] = m - 4, m
