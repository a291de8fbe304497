"""Route plans and the visits that happened (the SFA side).

A rep plans each point of his route on a fixed weekday: weekly for VIP and key accounts,
every other week for regular clients, monthly for prospects (census points and clients
that never buy). Most planned visits happen, a few move to the next working day, the rest
are missed. Visit results are set later, from the orders (``assign_results``), so that a
visit reported as ``order`` is backed by a shipment to that point on that day.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from clientbase.generate.history import History
from clientbase.generate.lifecycle import Lifecycles
from clientbase.generate.timeline import Timeline

PROSPECT_SHARE = 0.4   # census points a rep visits to win them
VISIT_RATE = {"systematic": 0.97, "client": 0.9, "prospect": 0.8}
RESCHEDULE_RATE = 0.3  # of missed visits, done on the next working day instead
RESULTS_IDLE = (("no_order", "refused", "closed"), (0.6, 0.25, 0.15))
RESULTS_BUYING = (("no_order", "refused", "closed"), (0.88, 0.06, 0.06))


def route(points: pd.DataFrame, life: Lifecycles, history: History, n_months: int,
          rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(P, T) whether the point is on a rep's route, and (P,) its visit frequency."""
    client_idx = points["client_idx"].to_numpy()
    c = np.maximum(client_idx, 0)
    census = client_idx < 0
    kind = np.where(census, "census", life.kind[c])
    t = np.arange(n_months)[None, :]
    first, last = life.first[c][:, None], life.last[c][:, None]
    window = np.select(
        [kind[:, None] == "churning", kind[:, None] == "late"],
        [t <= last + 3, t >= first - 1],
        np.ones((1, n_months), dtype=bool),
    )
    prospect = census | (kind == "never")
    courted = rng.random(len(points)) < PROSPECT_SHARE
    window &= ~prospect[:, None] | courted[:, None]
    on_route = window & history.point_active[:, history.asof(n_months)]
    tier = points["tier"].to_numpy()
    freq = np.where(prospect, "monthly",
                    np.where((tier != "regular") | points["systematic"].to_numpy(), "weekly", "biweekly"))
    return on_route, freq


def plan(timeline: Timeline, points: pd.DataFrame, history: History, on_route: np.ndarray,
         freq: np.ndarray) -> pd.DataFrame:
    """The visit plan: one row per (plan_date, rep_id, point_id), plus internal p and t."""
    p_idx, t_idx = np.nonzero(on_route)
    pm = pd.DataFrame({"p": p_idx, "t": t_idx,
                       "weekday": points["weekday"].to_numpy()[p_idx],
                       "want_parity": points["parity"].to_numpy()[p_idx],
                       "want_occ": points["occurrence"].to_numpy()[p_idx],
                       "freq": freq[p_idx]})
    rows = pm.merge(timeline.days, on=["t", "weekday"], how="inner", sort=False)
    keep = ((rows["freq"] == "weekly")
            | ((rows["freq"] == "biweekly") & (rows["parity"] == rows["want_parity"]))
            | ((rows["freq"] == "monthly") & (rows["occurrence"] == rows["want_occ"])))
    rows = rows.loc[keep, ["p", "t", "date"]]
    asof = history.asof(timeline.n)
    rows["rep_id"] = history.point_rep[rows["p"].to_numpy(), asof[rows["t"].to_numpy()]]
    rows["point_id"] = points["point_id"].to_numpy()[rows["p"].to_numpy()]
    rows = rows.rename(columns={"date": "plan_date"})
    return rows.sort_values(["plan_date", "rep_id", "point_id"], kind="stable").reset_index(drop=True)


def visits(timeline: Timeline, points: pd.DataFrame, plan_rows: pd.DataFrame,
           rng: np.random.Generator) -> pd.DataFrame:
    """Visits that took place: most on the planned day, some a working day later."""
    p = plan_rows["p"].to_numpy()
    client = points["client_idx"].to_numpy()[p] >= 0
    rate = np.where(points["systematic"].to_numpy()[p], VISIT_RATE["systematic"],
                    np.where(client, VISIT_RATE["client"], VISIT_RATE["prospect"]))
    draw = rng.random(len(p))
    done = draw < rate
    moved = ~done & (rng.random(len(p)) < RESCHEDULE_RATE)

    days = timeline.days
    pos = np.searchsorted(days["date"].to_numpy(), plan_rows["plan_date"].to_numpy())
    nxt = np.minimum(pos + 1, len(days) - 1)
    same_month = (days["t"].to_numpy()[nxt] == plan_rows["t"].to_numpy()) & (nxt > pos)
    moved &= same_month

    out = plan_rows.loc[done | moved, ["p", "t", "rep_id", "point_id"]].copy()
    out["visit_date"] = np.where(moved[done | moved], days["date"].to_numpy()[nxt[done | moved]],
                                 plan_rows["plan_date"].to_numpy()[done | moved])
    out = out.drop_duplicates(["visit_date", "point_id"])
    out = out.sort_values(["visit_date", "rep_id", "point_id"], kind="stable").reset_index(drop=True)
    out.insert(0, "visit_id", [f"VIS{i + 1:07d}" for i in range(len(out))])
    return out


def assign_results(visit_rows: pd.DataFrame, orders: pd.DataFrame, buying: np.ndarray,
                   rng: np.random.Generator) -> pd.Series:
    """``order`` where the point got an order that day, otherwise a miss that fits the client.

    ``buying`` is the (P, T) matrix of points that are clients buying that month: visits to
    lapsed clients and prospects are refused or find the shop closed more often.
    """
    key = visit_rows["p"].astype(np.int64) * 100_000 + (visit_rows["visit_date"].to_numpy()
                                                         .astype("datetime64[D]").astype(np.int64))
    order_key = orders["p"].astype(np.int64) * 100_000 + (orders["date"].to_numpy()
                                                          .astype("datetime64[D]").astype(np.int64))
    ordered = np.isin(key.to_numpy(), order_key.to_numpy())
    live = buying[visit_rows["p"].to_numpy(), visit_rows["t"].to_numpy()]
    idle = rng.choice(RESULTS_IDLE[0], len(visit_rows), p=RESULTS_IDLE[1])
    busy = rng.choice(RESULTS_BUYING[0], len(visit_rows), p=RESULTS_BUYING[1])
    return pd.Series(np.where(ordered, "order", np.where(live, busy, idle)), index=visit_rows.index)
