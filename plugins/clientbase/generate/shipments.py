"""Orders and the waybill lines the ERP exports for them.

An order is a (point, day): most are taken on a rep's visit, some come by phone. Each
order becomes a waybill (sometimes two on the same day) with several SKUs drawn from the
point's favourite categories. The ERP noise a warehouse must handle is added on purpose:
returns (negative lines, a separate document), cancelled lines and cancelled duplicate
waybills, lines without cost, and a corrections batch that re-sends some lines of the
last months with new quantities or a cancellation (last version wins).

Returns never exceed 40 % of the line they return, corrections never cancel the first
line of a waybill: every month the lifecycle says a client buys keeps a positive net
revenue, so the statuses computed from the shipments match the simulated lifecycles.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from clientbase.generate.history import History
from clientbase.generate.timeline import Timeline

PHONE_ORDERS = {"vip": 0.8, "key": 0.5, "regular": 0.25}   # extra orders per active point-month
SKUS_PER_ORDER = {"vip": 3.0, "key": 2.5, "regular": 1.6}  # mean extra SKUs beyond the first
CASES_PER_LINE = {"vip": 2.0, "key": 1.2, "regular": 0.6}
MAX_SKUS = 12
INFLATION = 0.007      # monthly price drift
SPLIT_RATE = 0.05      # orders shipped on two waybills
DUPLICATE_RATE = 0.005  # waybills entered twice and the copy cancelled
CANCELLED_LINE_RATE = 0.015
RETURN_RATE = 0.03
NO_COST_RATE = 0.015
CORRECTION_RATE = 0.015
CORRECTION_MONTHS = 3
CORRECTION_FACTORS = (0.5, 0.8, 1.25, 1.5, 2.0)


def point_activity(points: pd.DataFrame, client_active: np.ndarray, point_open: np.ndarray,
                   rng: np.random.Generator) -> np.ndarray:
    """(P, T): the point buys this month. A buying client's main point always buys."""
    client_idx = points["client_idx"].to_numpy()
    is_client = client_idx >= 0
    active = np.zeros(point_open.shape, dtype=bool)
    active[is_client] = client_active[client_idx[is_client]]
    joins = points["is_main"].to_numpy()[:, None] | (rng.random(point_open.shape)
                                                      < points["spread"].to_numpy()[:, None])
    return active & joins & point_open


def orders(timeline: Timeline, points: pd.DataFrame, visit_rows: pd.DataFrame, buys: np.ndarray,
           rng: np.random.Generator, phone_factor: float = 1.0) -> pd.DataFrame:
    """Distinct (p, t, date) orders: on visits, by phone, and one at least per buying point-month."""
    p_v, t_v = visit_rows["p"].to_numpy(), visit_rows["t"].to_numpy()
    on_visit = buys[p_v, t_v] & (rng.random(len(visit_rows)) < points["p_order"].to_numpy()[p_v])
    taken = pd.DataFrame({"p": p_v[on_visit], "t": t_v[on_visit],
                          "date": visit_rows["visit_date"].to_numpy()[on_visit]})

    p_a, t_a = np.nonzero(buys)
    tier = points["tier"].to_numpy()[p_a]
    lam = np.select([tier == "vip", tier == "key"], [PHONE_ORDERS["vip"], PHONE_ORDERS["key"]],
                    PHONE_ORDERS["regular"])
    extra = rng.poisson(lam * phone_factor if phone_factor != 1.0 else lam)
    has_visit_order = np.zeros(buys.shape, dtype=bool)
    has_visit_order[taken["p"].to_numpy(), taken["t"].to_numpy()] = True
    extra = np.where(has_visit_order[p_a, t_a], extra, np.maximum(extra, 1))
    p_e, t_e = np.repeat(p_a, extra), np.repeat(t_a, extra)
    phone = pd.DataFrame({"p": p_e, "t": t_e, "date": _random_workday(timeline, t_e, rng)})

    out = pd.concat([taken, phone], ignore_index=True).drop_duplicates(["p", "date"])
    return out.sort_values(["date", "p"], kind="stable").reset_index(drop=True)


def _random_workday(timeline: Timeline, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    days = timeline.days
    start = np.searchsorted(days["t"].to_numpy(), np.arange(timeline.n), side="left")
    count = np.bincount(days["t"].to_numpy(), minlength=timeline.n)
    pos = start[t] + (rng.random(len(t)) * count[t]).astype(np.int64)
    return days["date"].to_numpy()[pos]


def waybill_lines(timeline: Timeline, order_rows: pd.DataFrame, points: pd.DataFrame,
                  appetite: np.ndarray, products: pd.DataFrame, clients: pd.DataFrame,
                  history: History, rng: np.random.Generator, skus_factor: float = 1.0,
                  max_skus: int = MAX_SKUS) -> pd.DataFrame:
    """All waybill lines as first posted (sales, cancelled entries and returns)."""
    n = len(order_rows)
    p = order_rows["p"].to_numpy()
    t = order_rows["t"].to_numpy()
    tier = points["tier"].to_numpy()[p]
    mean_skus = np.select([tier == "vip", tier == "key"], [SKUS_PER_ORDER["vip"], SKUS_PER_ORDER["key"]],
                          SKUS_PER_ORDER["regular"])
    if skus_factor != 1.0:
        mean_skus = mean_skus * skus_factor
    systematic_skus = 1.5 if skus_factor == 1.0 else 1.5 * skus_factor
    k = np.where(points["systematic"].to_numpy()[p], 3 + rng.poisson(systematic_skus, n), 1 + rng.poisson(mean_skus))
    k = np.clip(k, 1, min(max_skus, len(products)))

    # Gumbel top-k: k distinct SKUs per order, weighted by the point's category appetite.
    categories = pd.Categorical(products["category"], categories=list(dict.fromkeys(products["category"])))
    weight = appetite[:, categories.codes] * products["popularity"].to_numpy()[None, :]
    o_idx, slot, sku_idx = _top_k(np.log(weight), p, k, rng)

    # Some orders ship on two waybills the same day; some waybills are keyed twice and cancelled.
    split = (rng.random(n) < SPLIT_RATE) & (k >= 2)
    part = np.where(split[o_idx] & (slot >= (k[o_idx] + 1) // 2), 1, 0)
    lines = pd.DataFrame({"o": o_idx, "part": part, "sku_idx": sku_idx, "status": "posted"})
    dup = np.flatnonzero(rng.random(n) < DUPLICATE_RATE)
    copies = lines[lines["o"].isin(dup) & (lines["part"] == 0)].assign(part=2, status="cancelled")
    lines = pd.concat([lines, copies], ignore_index=True)

    lines["p"] = p[lines["o"]]
    lines["t"] = t[lines["o"]]
    lines["doc_date"] = order_rows["date"].to_numpy()[lines["o"]]
    lines = _number_documents(lines, "RN")
    lines = _add_cancelled_lines(lines, len(products), rng)
    _price(lines, points, products, clients, rng)
    lines = pd.concat([lines, _returns(timeline, lines, rng)], ignore_index=True)
    lines["updated_at"] = _posting_times(lines, rng)
    c = points["client_idx"].to_numpy()[lines["p"].to_numpy()]
    lines["client_id"] = clients["client_id"].to_numpy()[c]
    lines["point_id"] = points["point_id"].to_numpy()[lines["p"].to_numpy()]
    lines["sku"] = products["sku"].to_numpy()[lines["sku_idx"].to_numpy()]
    lines["manager_id"] = history.owner[c, history.asof(timeline.n)[lines["t"].to_numpy()]]
    return lines.sort_values(["doc_date", "doc_id", "line_no"], kind="stable").reset_index(drop=True)


# Orders x SKUs drawn at once in the Gumbel top-k; above it the draw goes in chunks of rows
# (the same numbers: numpy fills an array in order), so memory stays flat at any size.
TOP_K_CELLS = 8_000_000


def _top_k(log_weight: np.ndarray, p: np.ndarray, k: np.ndarray,
           rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(order, slot, sku) of k distinct SKUs per order, by Gumbel top-k over the point's weights."""
    n, n_products = len(p), log_weight.shape[1]
    step = max(1, TOP_K_CELLS // n_products)
    o_parts, slot_parts, sku_parts = [], [], []
    for start in range(0, n, step):  # one pass in the demo; a few dozen chunks at size L
        rows = slice(start, min(n, start + step))
        keys = log_weight[p[rows]] + rng.gumbel(size=(len(p[rows]), n_products))
        ranked = np.argsort(-keys, axis=1, kind="stable")
        take = np.arange(n_products)[None, :] < k[rows, None]
        o_idx, slot = np.nonzero(take)
        o_parts.append(o_idx + start)
        slot_parts.append(slot)
        sku_parts.append(ranked[o_idx, slot])
    if not o_parts:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    return np.concatenate(o_parts), np.concatenate(slot_parts), np.concatenate(sku_parts)


def _number_documents(lines: pd.DataFrame, prefix: str) -> pd.DataFrame:
    """1C-style numbers, a running counter per year: ``RN25-000123``."""
    docs = lines[["o", "part", "doc_date", "p"]].drop_duplicates(["o", "part"])
    docs = docs.sort_values(["doc_date", "p", "part"], kind="stable").reset_index(drop=True)
    year = pd.DatetimeIndex(docs["doc_date"]).year
    seq = docs.groupby(year).cumcount().to_numpy() + 1
    docs["doc_id"] = [f"{prefix}{y % 100:02d}-{s:06d}" for y, s in zip(year, seq, strict=True)]
    lines = lines.merge(docs[["o", "part", "doc_id"]], on=["o", "part"], how="left", sort=False)
    lines["line_no"] = lines.groupby("doc_id").cumcount() + 1
    return lines


def _add_cancelled_lines(lines: pd.DataFrame, n_products: int, rng: np.random.Generator) -> pd.DataFrame:
    """A line added to a posted waybill and then cancelled (counts nowhere)."""
    last = lines[lines["status"] == "posted"].groupby("doc_id", sort=True).tail(1)
    chosen = last[rng.random(len(last)) < CANCELLED_LINE_RATE].copy()
    chosen["line_no"] += 1
    chosen["sku_idx"] = rng.integers(0, n_products, len(chosen))
    chosen["status"] = "cancelled"
    return pd.concat([lines, chosen], ignore_index=True)


def _price(lines: pd.DataFrame, points: pd.DataFrame, products: pd.DataFrame, clients: pd.DataFrame,
           rng: np.random.Generator) -> None:
    n = len(lines)
    p, s, t = lines["p"].to_numpy(), lines["sku_idx"].to_numpy(), lines["t"].to_numpy()
    tier = points["tier"].to_numpy()[p]
    lam = np.select([tier == "vip", tier == "key"], [CASES_PER_LINE["vip"], CASES_PER_LINE["key"]],
                    CASES_PER_LINE["regular"])
    lam = np.where(points["channel"].to_numpy()[p] == "wholesale", lam * 2, lam)
    qty = products["case_size"].to_numpy()[s] * (1 + rng.poisson(lam))
    drift = (1 + INFLATION) ** t
    discount = clients["discount"].to_numpy()[points["client_idx"].to_numpy()[p]]
    price = products["price"].to_numpy()[s] * drift * (1 - discount) * (1 + rng.normal(0, 0.01, n))
    cost = products["unit_cost"].to_numpy()[s] * drift * (1 + rng.normal(0, 0.005, n))
    lines["qty"] = qty.astype(float)
    lines["revenue"] = np.round(qty * price, 2)
    lines["cost"] = np.where(rng.random(n) < NO_COST_RATE, np.nan, np.round(qty * cost, 2))


def _returns(timeline: Timeline, lines: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Part of a waybill's first line comes back later that month on a return document."""
    first = lines[(lines["line_no"] == 1) & (lines["status"] == "posted") & (lines["qty"] >= 3)]
    back = first[rng.random(len(first)) < RETURN_RATE].copy()
    days = timeline.days
    dates = days["date"].to_numpy()
    pos = np.searchsorted(dates, back["doc_date"].to_numpy())
    month_last = np.searchsorted(days["t"].to_numpy(), back["t"].to_numpy(), side="right") - 1
    back["doc_date"] = dates[pos + (rng.random(len(back)) * (month_last - pos + 1)).astype(np.int64)]
    share = np.floor(back["qty"].to_numpy() * rng.uniform(0.1, 0.4, len(back))).clip(min=1) / back["qty"].to_numpy()
    back["qty"] = -np.round(back["qty"].to_numpy() * share)
    back["revenue"] = -np.round(back["revenue"].to_numpy() * share, 2)
    back["cost"] = -np.round(back["cost"].to_numpy() * share, 2)
    back["returned_doc"] = back["doc_id"]
    back = back.drop(columns=["doc_id", "line_no"]).assign(o=-1, part=np.arange(len(back)))
    return _number_documents(back, "VZ")


def _posting_times(lines: pd.DataFrame, rng: np.random.Generator) -> pd.Series:
    """One posting time per waybill: the working day, 09:00–19:00, sometimes the next day."""
    docs = lines[["doc_id", "doc_date"]].drop_duplicates("doc_id").sort_values("doc_id", kind="stable")
    offset = (9 * 3600 + rng.integers(0, 10 * 3600, len(docs))
              + np.where(rng.random(len(docs)) < 0.08, 86_400, 0))
    stamp = pd.Series(docs["doc_date"].to_numpy() + offset.astype("timedelta64[s]"), index=docs["doc_id"])
    return lines["doc_id"].map(stamp)


def corrections(timeline: Timeline, lines: pd.DataFrame, rng: np.random.Generator,
                monthly: bool = False) -> pd.DataFrame:
    """Lines of the last months re-sent later with a new quantity, or cancelled.

    The demo's ERP sends one corrections batch, in the last month. ``monthly`` (the
    distributor profile, generate/scale.py): one batch in every month from the third on, as
    a large ERP re-posts the month's and the two months before's documents every month; each
    line is corrected at most once, so the batches stay independent of their order. Why the
    benchmark needs it: a close with corrections rebuilds from two months back, one without
    only its own month, so comparing the close of month 36 (with the demo's one batch) with
    month 12 (without) would measure the corrections, not the history (BENCHMARKS.md).
    """
    months = range(CORRECTION_MONTHS - 1, timeline.n) if monthly else (timeline.n - 1,)
    returned = set(lines["returned_doc"].dropna())
    # what makes a line correctable whatever the month: computed once, not once per month
    open_lines = ((lines["status"] == "posted") & (lines["qty"] > 0)
                  & ~((lines["line_no"] == 1) & lines["doc_id"].isin(returned))).to_numpy().copy()
    batches = []
    for month in months:
        fixed, chosen = _corrections_in(timeline, lines, rng, month, open_lines)
        open_lines[chosen] = False  # each line is corrected at most once
        batches.append(fixed)
    return pd.concat(batches, ignore_index=True) if len(batches) > 1 else batches[0]


def _corrections_in(timeline: Timeline, lines: pd.DataFrame, rng: np.random.Generator, month: int,
                    open_lines: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """The corrections made during ``month`` (index), of lines of that month and the
    CORRECTION_MONTHS - 1 before among ``open_lines`` (posted, not yet corrected); returns
    them and the positions in ``lines`` they correct."""
    end = timeline.end(month)
    mask = (((lines["t"] >= month - CORRECTION_MONTHS + 1) & (lines["t"] <= month)
             & (lines["doc_date"] <= end - pd.Timedelta(days=3))).to_numpy() & open_lines)
    positions = np.flatnonzero(mask)
    n = max(5, round(CORRECTION_RATE * len(positions)))
    chosen = positions[np.sort(rng.choice(len(positions), min(n, len(positions)), replace=False))]
    fixed = lines.iloc[chosen].copy()
    cancel = (fixed["line_no"].to_numpy() >= 2) & (rng.random(len(fixed)) < 0.2)
    factor = rng.choice(CORRECTION_FACTORS, len(fixed))
    old = fixed["qty"].to_numpy()
    new = np.maximum(1, np.round(old * factor))
    new = np.where(new == old, old + 1, new)
    new = np.where(cancel, old, new)
    fixed["status"] = np.where(cancel, "cancelled", "posted")
    fixed["revenue"] = np.round(fixed["revenue"].to_numpy() * new / old, 2)
    fixed["cost"] = np.round(fixed["cost"].to_numpy() * new / old, 2)
    fixed["qty"] = new
    # Corrected in that month, on a working hour, at least two days after the shipment.
    earliest = np.maximum(fixed["doc_date"].to_numpy() + np.timedelta64(2, "D"),
                          timeline.start(month).to_datetime64())
    span = (end.to_datetime64() - earliest) // np.timedelta64(1, "D") + 1
    day = earliest + (rng.random(len(fixed)) * span).astype("timedelta64[D]")
    fixed["updated_at"] = day + (9 * 3600 + rng.integers(0, 10 * 3600, len(fixed))).astype("timedelta64[s]")
    return fixed.reset_index(drop=True), chosen


def apply_corrections(lines: pd.DataFrame, fixed: pd.DataFrame) -> pd.DataFrame:
    """The ERP's current state: the last version of each (doc_id, line_no) wins."""
    both = pd.concat([lines, fixed], ignore_index=True)
    return both.drop_duplicates(["doc_id", "line_no"], keep="last").reset_index(drop=True)
