"""How the reference lists change from one snapshot to the next.

The ERP and SFA send full clients / trade points lists every quarter. Between lists the
things the pipeline must historise (SCD2) change: owners (a farmer leaves and hands his
clients over, clients rotate between farmers, hunters hand grown clients to farmers and
take lapsed ones back), tiers, a point's assigned rep, points closing, and late clients
appearing — their points sat in the census with no client until then.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from clientbase.generate.entities import TIERS
from clientbase.generate.lifecycle import Lifecycles
from clientbase.generate.timeline import Timeline

SNAPSHOT_MONTHS = (1, 4, 7, 10)  # a list at the start of every quarter (and of the period)
ROTATION_RATE = 0.03
# The director acts on the rotation list (metrics §3): at each list, this share of the clients
# idle for the last IDLE_MONTHS months go to another manager of the same role (rotation.py gives
# some of them the new owner's first call).
IDLE_ROTATION_RATE = 0.3
IDLE_MONTHS = 2
TIER_CHANGE_RATE = 0.04
REP_CHANGE_RATE = 0.03
FARMER_WEIGHTS = (0.35, 0.2, 0.15, 0.12, 0.1, 0.08)  # uneven books: the first farmer is overloaded
# One farmer (the last who stays) keeps a tidy book: few of the clients that lapse come his
# way, so the demo shows a farmer on plan (metrics §3 plan shares) beside farmers off it.
TIDY_FARMER_MESSY_WEIGHT = 0.1
MESSY_KINDS = ("irregular", "churning", "returning")
# Hunters win new clients unevenly: the first is the star who meets the handover target.
HUNTER_WEIGHTS = (0.65, 0.25, 0.1)
HANDOVER_AFTER_MONTHS = 1          # a won VIP / key client goes to a farmer once it has ordered for a month
REGULAR_HANDOVER = (4, 0.3)        # a regular one after 4 months, and only sometimes
# Handovers are agreed at a review every other list (the latest list is one), so a good
# hunter hands several clients over at once: what the 3-month handover target measures.
HANDOVER_REVIEW_EVERY = 2


@dataclass(frozen=True)
class History:
    snap_t: np.ndarray        # (K,) month index of each list
    owner: np.ndarray         # (C, K) manager_id
    tier: np.ndarray          # (C, K)
    listed: np.ndarray        # (C, K) the client is in list k
    point_rep: np.ndarray     # (P, K) rep_id
    point_active: np.ndarray  # (P, K)
    point_linked: np.ndarray  # (P, K) client_id filled in list k

    def asof(self, n_months: int) -> np.ndarray:
        """(T,) index of the list in force in each month (the first list before it exists)."""
        k = np.searchsorted(self.snap_t, np.arange(n_months), side="right") - 1
        return np.maximum(k, 0)


def snapshot_months(timeline: Timeline) -> np.ndarray:
    quarter_starts = [t for t in range(1, timeline.n) if timeline.months[t].month in SNAPSHOT_MONTHS]
    return np.array([0, *quarter_starts], dtype=np.int64)


def simulate(timeline: Timeline, clients: pd.DataFrame, points: pd.DataFrame, staff: pd.DataFrame,
             life: Lifecycles, rng: np.random.Generator, idle_rng: np.random.Generator) -> History:
    """``idle_rng``: the draws of the idle clients' rotation, a stream of their own (the others'
    draws stay what they were before it existed)."""
    snap_t = snapshot_months(timeline)
    tier = _tiers(snap_t, clients, life, rng)
    owner, listed = _owners(snap_t, clients, tier, staff, life, rng, idle_rng)
    rep, active = _points(snap_t, points, staff, life, rng)
    client_idx = points["client_idx"].to_numpy()
    linked = (client_idx[:, None] >= 0) & listed[np.maximum(client_idx, 0)]
    return History(snap_t, owner, tier, listed, rep, active, linked)


def _owners(snap_t: np.ndarray, clients: pd.DataFrame, tier: np.ndarray, staff: pd.DataFrame,
            life: Lifecycles, rng: np.random.Generator, idle_rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(C, K) owner in every list and (C, K) whether the client is listed at all.

    ``tier`` is the (C, K) tier per list: a hunter hands a client over by its tier in the
    list that records the change (the tier metrics §3 checks at the change).
    """
    n, k_all = len(clients), len(snap_t)
    farmers = staff.loc[staff["kind"] == "farmer", "manager_id"].to_numpy()
    staying = farmers[:-1]  # the last farmer leaves
    hunters = staff.loc[staff["kind"] == "hunter", "manager_id"].to_numpy()
    kind, first = life.kind, life.first
    idle_from, back = life.return_gap[:, 0], life.return_gap[:, 1]

    weights = np.tile(np.resize(np.asarray(FARMER_WEIGHTS), len(farmers)), (n, 1))
    weights[np.isin(kind, MESSY_KINDS), len(farmers) - 2] *= TIDY_FARMER_MESSY_WEIGHT
    cumulative = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
    pick = (rng.random(n)[:, None] < cumulative).argmax(axis=1)
    owner = np.empty((n, k_all), dtype=object)
    owner[:, 0] = farmers[pick]
    tidy = farmers[len(farmers) - 2]
    late = kind == "late"
    hunter_weights = np.resize(np.asarray(HUNTER_WEIGHTS), len(hunters))
    owner[late, 0] = rng.choice(hunters, late.sum(), p=hunter_weights / hunter_weights.sum())
    home_farmer = owner[:, 0].copy()  # where a reactivated client goes back to
    home_farmer[late] = rng.choice(staying, late.sum())
    leaves_at = max(1, k_all * 2 // 3)

    for k in range(1, k_all):
        st = snap_t[k]
        cur = owner[:, k - 1].copy()
        if k == leaves_at:
            gone = cur == farmers[-1]
            cur[gone] = _successors(staying, tidy, kind[gone], rng)
        if k >= leaves_at:
            orphan = home_farmer == farmers[-1]
            home_farmer[orphan] = _successors(staying, tidy, kind[orphan], rng)
        pool = staying if k >= leaves_at else farmers
        by_farmer = np.isin(cur, pool)
        rotate = by_farmer & (rng.random(n) < ROTATION_RATE)
        for c in np.flatnonzero(rotate):
            others = pool[(pool != cur[c]) & ((pool != tidy) | (kind[c] not in MESSY_KINDS))]
            cur[c] = rng.choice(others if len(others) else pool[pool != cur[c]])
        home_farmer[by_farmer] = cur[by_farmer]
        by_hunter = np.isin(cur, hunters)
        # Hunters hand the clients they won to farmers: VIP and key accounts once they have
        # ordered for a couple of months (while still new), regular ones later and not always.
        big = np.isin(tier[:, k], ("vip", "key"))
        months_in = np.where(first >= 0, st - first, -1)
        review = (k_all - 1 - k) % HANDOVER_REVIEW_EVERY == 0
        hand = review & late & by_hunter & np.where(
            big, months_in >= HANDOVER_AFTER_MONTHS,
            (months_in >= REGULAR_HANDOVER[0]) & (rng.random(n) < REGULAR_HANDOVER[1]))
        cur[hand] = home_farmer[hand]
        # Lapsed returning clients go to a hunter while idle, and back once they buy again.
        lapsed = (idle_from >= 0) & (idle_from <= st) & (st < back) & np.isin(cur, pool)
        cur[lapsed] = rng.choice(hunters, lapsed.sum())
        recovered = (idle_from >= 0) & (st >= back + 3) & np.isin(cur, hunters) & ~late
        cur[recovered] = home_farmer[recovered]
        # Rotation candidates go to another manager of the same role (a farmer's never to the
        # tidy farmer), whatever kept them idle: a random share, so rotated and stayed compare.
        idle = (st >= IDLE_MONTHS) & (first >= 0) & (first < st) & ~life.active[:, st - IDLE_MONTHS:st].any(axis=1)
        managed = np.isin(cur, pool) | np.isin(cur, hunters)
        move = managed & idle & (idle_rng.random(n) < IDLE_ROTATION_RATE)
        for c in np.flatnonzero(move):
            by_farmer_c = cur[c] in pool
            same = pool if by_farmer_c else hunters
            others = same[(same != cur[c]) & (same != tidy)]
            if len(others):
                cur[c] = idle_rng.choice(others)
                if by_farmer_c:
                    home_farmer[c] = cur[c]
        owner[:, k] = cur

    # A late client enters the ERP with the list in force in its first month.
    k_first = np.searchsorted(snap_t, np.maximum(first, 0), side="right") - 1
    listed = ~late[:, None] | (np.arange(k_all)[None, :] >= k_first[:, None])
    return owner, listed


def _successors(staying: np.ndarray, tidy: str, kinds: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Farmers taking over the leaver's clients: any who stays, the tidy one only the steady clients."""
    out = rng.choice(staying, len(kinds)).astype(object)
    messy = np.isin(kinds, MESSY_KINDS) & (out == tidy)
    others = staying[staying != tidy]
    if len(others):
        out[messy] = rng.choice(others, messy.sum())
    return out


def _tiers(snap_t: np.ndarray, clients: pd.DataFrame, life: Lifecycles, rng: np.random.Generator) -> np.ndarray:
    n, k_all = len(clients), len(snap_t)
    level = np.empty((n, k_all), dtype=np.int64)
    level[:, 0] = pd.Categorical(clients["tier"], categories=TIERS).codes
    keep = np.flatnonzero(life.kind == "late")[0]  # the scripted new key account keeps its tier
    for k in range(1, k_all):
        step = np.where(rng.random(n) < TIER_CHANGE_RATE, rng.choice((-1, 1), n), 0)
        step[keep] = 0
        level[:, k] = np.clip(level[:, k - 1] + step, 0, len(TIERS) - 1)
    return np.asarray(TIERS, dtype=object)[level]


def _points(snap_t: np.ndarray, points: pd.DataFrame, staff: pd.DataFrame, life: Lifecycles,
            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    n, k_all, t_all = len(points), len(snap_t), life.active.shape[1]
    reps = staff[staff["kind"] == "rep"]
    territory = points["territory"].to_numpy()
    rep = np.empty((n, k_all), dtype=object)
    for terr, group in reps.groupby("territory", sort=True):
        ids = group["manager_id"].to_numpy()
        members = rng.permutation(np.flatnonzero(territory == terr))
        rep[members, 0] = ids[np.arange(len(members)) % len(ids)]
    active = np.ones((n, k_all), dtype=bool)

    client_idx = points["client_idx"].to_numpy()
    last = np.where(client_idx >= 0, life.last[np.maximum(client_idx, 0)], -1)
    churned = (client_idx >= 0) & (life.kind[np.maximum(client_idx, 0)] == "churning")
    # Clients that stopped long ago close some shops: gone from the census 4+ months later.
    closes_client = rng.random(life.active.shape[0]) < 0.6
    closing = churned & (last <= t_all - 8) & closes_client[np.maximum(client_idx, 0)]
    close_k = np.searchsorted(snap_t, last + 4, side="left")
    census_close = (client_idx < 0) & (rng.random(n) < 0.04) & (k_all > 1)
    close_k = np.where(census_close, rng.integers(1, max(2, k_all), n), close_k)
    for p in np.flatnonzero(closing | census_close):
        active[p, close_k[p]:] = False

    for k in range(1, k_all):
        rep[:, k] = rep[:, k - 1]
        for p in np.flatnonzero(rng.random(n) < REP_CHANGE_RATE):
            others = reps.loc[(reps["territory"] == territory[p]) & (reps["manager_id"] != rep[p, k]),
                              "manager_id"].to_numpy()
            if len(others):
                rep[p, k] = rng.choice(others)
    return rep, active


def clients_lists(timeline: Timeline, clients: pd.DataFrame, history: History) -> pd.DataFrame:
    """Every clients list, one row per (client, snapshot) the client is listed in."""
    c_idx, k_idx = np.nonzero(history.listed)
    order = np.lexsort((c_idx, k_idx))
    c_idx, k_idx = c_idx[order], k_idx[order]
    return pd.DataFrame({
        "client_id": clients["client_id"].to_numpy()[c_idx],
        "name": clients["name"].to_numpy()[c_idx],
        "tier": history.tier[c_idx, k_idx],
        "channel": clients["channel"].to_numpy()[c_idx],
        "inn": clients["inn"].to_numpy()[c_idx],
        "manager_id": history.owner[c_idx, k_idx],
        "snapshot_date": [timeline.start(t) for t in history.snap_t[k_idx]],
    })


def trade_points_lists(timeline: Timeline, clients: pd.DataFrame, points: pd.DataFrame,
                       history: History) -> pd.DataFrame:
    """Every census list: all points in every snapshot, client_id empty until linked."""
    n, k_all = history.point_rep.shape
    p_idx = np.tile(np.arange(n), k_all)
    k_idx = np.repeat(np.arange(k_all), n)
    client_idx = points["client_idx"].to_numpy()[p_idx]
    client_id = np.where(history.point_linked[p_idx, k_idx],
                         clients["client_id"].to_numpy()[np.maximum(client_idx, 0)], None)
    return pd.DataFrame({
        "point_id": points["point_id"].to_numpy()[p_idx],
        "client_id": client_id,
        "name": points["name"].to_numpy()[p_idx],
        "address": points["address"].to_numpy()[p_idx],
        "territory": points["territory"].to_numpy()[p_idx],
        "channel": points["channel"].to_numpy()[p_idx],
        "rep_id": history.point_rep[p_idx, k_idx],
        "active": history.point_active[p_idx, k_idx],
        "snapshot_date": np.repeat([timeline.start(t) for t in history.snap_t], n),
    })
