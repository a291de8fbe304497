"""Retail audits: what a rep finds on the shelf of a client's shop (metrics §9).

The must-have list (MML) is the best seller of each category. Every month a rep audits
part of the client points he visits, during a visit; now and then a point is audited twice
in a month (the later audit counts). An audit lists the MML SKUs — once in a while the rep
skips one (not listed = absent, metrics §9) — and a few other SKUs he noticed. A SKU the
point bought in the last three months is usually on the shelf, others seldom, so the
distribution coefficient follows the shipments. The planogram verdict is one per audit,
written on each of its rows, and mostly ok where the MML is (nearly) complete.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from clientbase.generate.history import History
from clientbase.generate.timeline import Timeline

AUDIT_SHARE = 0.3          # of a rep's visited client points, audited in a month
SECOND_AUDIT_RATE = 0.08   # of audited point-months, a second audit on another visit
SKIPPED_MML_RATE = 0.1     # audits where the rep left one MML SKU off the list
OTHER_SKUS = (1, 4)        # other SKUs listed per audit: from .. to (exclusive)
PRESENT = {"bought": 0.92, "not_bought": 0.3}
PLANOGRAM_OK = {"complete": 0.8, "gaps": 0.15}  # by MML: at most one missing, or more


def mml_flags(products: pd.DataFrame) -> np.ndarray:
    """(S,) the must-have list: the most popular SKU of every category."""
    best = products.groupby("category", sort=False)["popularity"].idxmax()
    flags = np.zeros(len(products), dtype=bool)
    flags[best.to_numpy()] = True
    return flags


def audits(timeline: Timeline, points: pd.DataFrame, history: History, visit_rows: pd.DataFrame,
           lines: pd.DataFrame, products: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Audit rows (audit_id, audit_date, point_id, rep_id, sku, present, planogram_ok, updated_at).

    Only points that are a client's in the list in force are audited: a prospect's shelf
    carries none of our must-have list yet.
    """
    p_v, t_v = visit_rows["p"].to_numpy(), visit_rows["t"].to_numpy()
    visited = visit_rows[history.point_linked[p_v, history.asof(timeline.n)[t_v]]]
    # One audit on a random visit of a chosen point-month, a second one on another visit sometimes.
    order = visited.assign(r=rng.random(len(visited))).sort_values(["p", "t", "r"], kind="stable")
    rank = order.groupby(["p", "t"]).cumcount().to_numpy()
    chosen_pm = rng.random(len(order)) < AUDIT_SHARE
    month_pick = order.assign(pick=chosen_pm).groupby(["p", "t"])["pick"].transform("first").to_numpy()
    twice = order.assign(two=rng.random(len(order)) < SECOND_AUDIT_RATE).groupby(["p", "t"])["two"] \
        .transform("first").to_numpy()
    take = month_pick & ((rank == 0) | ((rank == 1) & twice))
    done = order[take].sort_values(["visit_date", "rep_id", "point_id"], kind="stable").reset_index(drop=True)
    year = pd.DatetimeIndex(done["visit_date"]).year
    seq = done.groupby(year).cumcount().to_numpy() + 1
    done["audit_id"] = [f"RA{y % 100:02d}-{s:06d}" for y, s in zip(year, seq, strict=True)]

    n_products = len(products)
    bought = _bought_recently(lines, len(points), timeline.n, n_products)
    mml = np.flatnonzero(products["mml"].to_numpy())
    others = np.flatnonzero(~products["mml"].to_numpy())
    n = len(done)
    p, t = done["p"].to_numpy(), done["t"].to_numpy()

    # MML rows: every MML SKU, one of them left off in some audits.
    a_idx = np.repeat(np.arange(n), len(mml))
    s_idx = np.tile(mml, n)
    skipped = np.where(rng.random(n) < SKIPPED_MML_RATE, rng.integers(0, len(mml), n), -1)
    keep = np.tile(np.arange(len(mml)), n) != skipped[a_idx]
    a_idx, s_idx = a_idx[keep], s_idx[keep]
    # Other rows: a few distinct non-MML SKUs per audit.
    k = rng.integers(*OTHER_SKUS, n)
    ranked = np.argsort(rng.random((n, len(others))), axis=1)
    o_a, o_slot = np.nonzero(np.arange(len(others))[None, :] < k[:, None])
    a_idx = np.concatenate([a_idx, o_a])
    s_idx = np.concatenate([s_idx, others[ranked[o_a, o_slot]]])

    had = bought[p[a_idx], t[a_idx], s_idx]
    present = rng.random(len(a_idx)) < np.where(had, PRESENT["bought"], PRESENT["not_bought"])
    is_mml = np.isin(s_idx, mml)
    mml_missing = np.bincount(a_idx, weights=is_mml & ~present, minlength=n) + (skipped >= 0)
    p_ok = np.where(mml_missing <= 1, PLANOGRAM_OK["complete"], PLANOGRAM_OK["gaps"])
    planogram = rng.random(n) < p_ok

    seconds = (9 * 3600 + rng.integers(0, 9 * 3600, n)).astype("timedelta64[s]")
    stamp = done["visit_date"].to_numpy().astype("datetime64[s]") + seconds
    out = pd.DataFrame({
        "audit_id": done["audit_id"].to_numpy()[a_idx],
        "audit_date": done["visit_date"].to_numpy()[a_idx],
        "point_id": done["point_id"].to_numpy()[a_idx],
        "rep_id": done["rep_id"].to_numpy()[a_idx],
        "sku": products["sku"].to_numpy()[s_idx],
        "present": present,
        "planogram_ok": planogram[a_idx],
        "updated_at": stamp[a_idx],
        "s": s_idx,
    })
    return out.sort_values(["audit_id", "s"], kind="stable").drop(columns="s").reset_index(drop=True)


def _bought_recently(lines: pd.DataFrame, n_points: int, n_months: int, n_products: int) -> np.ndarray:
    """(P, T, S): the point got the SKU (a posted line of positive quantity) in t-2 .. t."""
    sold = lines[(lines["status"] == "posted") & (lines["qty"] > 0)]
    grid = np.zeros((n_points, n_months, n_products), dtype=bool)
    grid[sold["p"].to_numpy(), sold["t"].to_numpy(), sold["sku_idx"].to_numpy()] = True
    recent = grid.copy()
    recent[:, 1:] |= grid[:, :-1]
    recent[:, 2:] |= grid[:, :-2]
    return recent
