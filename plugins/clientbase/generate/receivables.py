"""Invoices and the payments against them (the ERP's settlements, metrics §8).

Every posted waybill is an invoice for its revenue with VAT; a waybill keyed twice and
cancelled is a cancelled invoice; a few invoices are for services with no waybill behind
them (the contract says a doc_id is a shipment's *usually*). Each client has a payment
term: small shops often pay on delivery (due_date = doc_date), the others 14–45 days.

How a client pays follows its lifecycle, which the generator knows: steady clients pay
on time, mostly; clients heading to ``lost`` (churning) pay late more often and later,
and in their last months some invoices are never paid. On top of that the usual mess of
settlements: partial payments (the rest later, or never), a payment reversed by the bank
(a negative payment after the positive one, usually paid again), and clients who pay
several invoices with one payment order on fixed payment days (one ``payment_id``, one row
per invoice). No payment predates its invoice, a reversal never exceeds what it reverses
(an invoice's paid total is never negative), and nothing is dated after the last month:
what is not paid by then is the open receivables of the last month.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from clientbase.generate.lifecycle import Lifecycles
from clientbase.generate.timeline import HOLIDAYS, Timeline

VAT = 1.2
ON_DELIVERY_SHARE = {"vip": 0.0, "key": 0.05, "regular": 0.35}  # clients paying on delivery
TERMS = {"vip": ((30, 45), (0.5, 0.5)), "key": ((21, 30, 45), (0.3, 0.5, 0.2)),
         "regular": ((14, 21, 30), (0.5, 0.3, 0.2))}
SERVICE_INVOICE_RATE = 0.01   # extra invoices without a waybill (delivery, marketing services)
SERVICE_AMOUNT = (1_500.0, 9_000.0)
BATCH_PAYER_SHARE = 0.3       # deferred-term clients paying on fixed days, several invoices at once
PAYMENT_DAYS = (10, 25)       # the days of the month batch payers pay on
# Chance an invoice is paid late / never, by how the client's lifecycle is going.
LATE = {"steady": 0.10, "churning": 0.35, "ending": 0.65}
LATE_DAYS = {"steady": 8.0, "churning": 25.0, "ending": 45.0}  # mean days past the due date
MISSING = {"steady": 0.001, "churning": 0.01, "ending": 0.2}
ENDING_MONTHS = 3             # a churning client's last active months: "ending"
PARTIAL_RATE = 0.05           # paid in part first (30–70 %)
PARTIAL_NEVER_SETTLED = 0.1   # of partial payments, the rest never comes
REVERSAL_RATE = 0.01          # a payment the bank returns
REPAID_AFTER_REVERSAL = 0.85


def terms(clients: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """(C,) payment term in days per client; 0 = pays on delivery."""
    tier = clients["tier"].to_numpy()
    out = np.zeros(len(clients), dtype=np.int64)
    for t, (days, p) in TERMS.items():
        mask = tier == t
        out[mask] = rng.choice(days, mask.sum(), p=p)
        on_delivery = mask & (rng.random(len(clients)) < ON_DELIVERY_SHARE[t])
        out[on_delivery] = 0
    return out


def invoices(timeline: Timeline, final: pd.DataFrame, clients: pd.DataFrame, term: np.ndarray,
             rng: np.random.Generator) -> pd.DataFrame:
    """One invoice per sales waybill, for its posted revenue with VAT (return documents are
    not invoiced: the ERP settles them on their own), plus a few service invoices.
    Internal columns: c (client index), t (month index), term (days)."""
    sales = final[final["doc_id"].str.startswith("RN")]
    posted = sales["status"] == "posted"
    docs = sales.assign(net=np.where(posted, sales["revenue"], 0.0), posted=posted).groupby(
        "doc_id", sort=True).agg(client_id=("client_id", "first"), doc_date=("doc_date", "first"),
                                 net=("net", "sum"), gross=("revenue", "sum"), any_posted=("posted", "max"),
                                 updated_at=("updated_at", "max"))
    docs = docs.reset_index()
    # A waybill with no posted line left is a cancelled entry: its invoice is cancelled too.
    docs["status"] = np.where(docs["any_posted"], "posted", "cancelled")
    docs["amount"] = np.round(np.where(docs["any_posted"], docs["net"], docs["gross"]) * VAT, 2)
    docs = docs[docs["amount"] > 0]

    extra = docs[docs["status"] == "posted"].sample(frac=SERVICE_INVOICE_RATE, random_state=rng)
    extra = extra.sort_values(["doc_date", "doc_id"], kind="stable").reset_index(drop=True)
    year = pd.DatetimeIndex(extra["doc_date"]).year
    seq = extra.groupby(year).cumcount().to_numpy() + 1
    extra["doc_id"] = [f"US{y % 100:02d}-{s:06d}" for y, s in zip(year, seq, strict=True)]
    extra["amount"] = np.round(rng.uniform(*SERVICE_AMOUNT, len(extra)), -1)

    out = pd.concat([docs, extra], ignore_index=True)
    index = pd.Series(np.arange(len(clients)), index=clients["client_id"].to_numpy())
    out["c"] = index[out["client_id"]].to_numpy()
    out["t"] = timeline.month_of(out["doc_date"])
    out["term"] = term[out["c"].to_numpy()]
    out["due_date"] = out["doc_date"] + pd.to_timedelta(out["term"], unit="D")
    return out.sort_values(["doc_date", "doc_id"], kind="stable").reset_index(drop=True)


def payments(timeline: Timeline, inv: pd.DataFrame, life: Lifecycles, rng: np.random.Generator) -> pd.DataFrame:
    """Payment rows for the posted invoices (internal column ``group``: one payment order)."""
    inv = inv[inv["status"] == "posted"].reset_index(drop=True)
    n = len(inv)
    c, t = inv["c"].to_numpy(), inv["t"].to_numpy()
    churning = life.kind[c] == "churning"
    ending = churning & (t > life.last[c] - ENDING_MONTHS)
    mood = np.where(ending, "ending", np.where(churning, "churning", "steady"))
    p_late = np.vectorize(LATE.get)(mood)
    late_days = np.vectorize(LATE_DAYS.get)(mood)
    p_missing = np.vectorize(MISSING.get)(mood)

    doc = inv["doc_date"].to_numpy().astype("datetime64[D]")
    due = inv["due_date"].to_numpy().astype("datetime64[D]")
    term = inv["term"].to_numpy()
    amount = inv["amount"].to_numpy()

    u = rng.random(n)
    missing = u < p_missing
    partial = ~missing & (u < p_missing + PARTIAL_RATE)
    reversed_ = ~missing & ~partial & (u < p_missing + PARTIAL_RATE + REVERSAL_RATE)
    late = rng.random(n) < p_late
    # On time: some day within the term (on delivery: that day); late: days past the due date.
    on_time_day = doc + np.floor(term * rng.uniform(0.3, 1.0, n)).astype("timedelta64[D]")
    late_day = due + (1 + np.floor(rng.exponential(late_days))).astype("timedelta64[D]")
    first_day = np.where(late, late_day, on_time_day)

    # Batch payers pay a whole set of invoices on their payment days (one order, one row each).
    batch_client = (rng.random(len(life.kind)) < BATCH_PAYER_SHARE)[c] & (term >= 21)
    batched = batch_client & ~late & ~missing & ~partial & ~reversed_
    first_day = np.where(batched, _next_payment_day(doc + np.timedelta64(3, "D")), first_day)
    workday = _workdays(timeline)
    first_day = workday(first_day)

    rows = []
    full = ~missing & ~partial
    rows.append(_rows(inv, full, first_day, amount, batched, "first"))
    share = np.round(rng.uniform(0.3, 0.7, n), 2)
    part = np.round(amount * share, 2)
    rows.append(_rows(inv, partial, first_day, part, None, "part"))
    settles = partial & (rng.random(n) >= PARTIAL_NEVER_SETTLED)
    rest_day = workday(np.maximum(first_day, due) + (1 + np.floor(rng.exponential(20.0, n))).astype("timedelta64[D]"))
    rows.append(_rows(inv, settles, rest_day, np.round(amount - part, 2), None, "rest"))
    back_day = workday(first_day + rng.integers(2, 10, n).astype("timedelta64[D]"))
    rows.append(_rows(inv, reversed_, back_day, -amount, None, "reversal"))
    repaid = reversed_ & (rng.random(n) < REPAID_AFTER_REVERSAL)
    again_day = workday(back_day + rng.integers(3, 20, n).astype("timedelta64[D]"))
    rows.append(_rows(inv, repaid, again_day, amount, None, "again"))

    out = pd.concat(rows, ignore_index=True)
    # The export is taken after the last month: later payments have not happened yet. A
    # reversal is always later than what it reverses, so the cut never leaves a negative total.
    out = out[out["payment_date"] <= timeline.end(timeline.n - 1).to_datetime64()]
    out = out.sort_values(["payment_date", "client_id", "group", "doc_id"], kind="stable").reset_index(drop=True)
    orders = out[["payment_date", "group"]].drop_duplicates("group")
    year = pd.DatetimeIndex(orders["payment_date"]).year
    seq = orders.groupby(year).cumcount().to_numpy() + 1
    number = pd.Series([f"PP{y % 100:02d}-{s:06d}" for y, s in zip(year, seq, strict=True)],
                       index=orders["group"].to_numpy())
    out["payment_id"] = number[out["group"]].to_numpy()
    seconds = (9 * 3600 + rng.integers(0, 9 * 3600, len(out))).astype("timedelta64[s]")
    out["updated_at"] = out["payment_date"].to_numpy().astype("datetime64[s]") + seconds
    return out


def _workdays(timeline: Timeline) -> Callable[[np.ndarray], np.ndarray]:
    """Roll days forward to the next working day: banks book payments on working days only."""
    years = range(timeline.months[0].year, timeline.months[-1].year + 2)
    holidays = np.array([f"{y}-{m:02d}-{d:02d}" for y in years for m, d in sorted(HOLIDAYS)], dtype="datetime64[D]")

    def roll(days: np.ndarray) -> np.ndarray:
        return np.busday_offset(days.astype("datetime64[D]"), 0, roll="forward", holidays=holidays)

    return roll


def _next_payment_day(days: np.ndarray) -> np.ndarray:
    """The first of PAYMENT_DAYS on or after each day (in its month or the next)."""
    d = pd.DatetimeIndex(days)
    first, second = PAYMENT_DAYS
    this_month = d.to_period("M").to_timestamp()
    next_month = (d.to_period("M") + 1).to_timestamp()
    out = np.where(d.day <= first, this_month + pd.Timedelta(days=first - 1),
                   np.where(d.day <= second, this_month + pd.Timedelta(days=second - 1),
                            next_month + pd.Timedelta(days=first - 1)))
    return out.astype("datetime64[D]")


def _rows(inv: pd.DataFrame, mask: np.ndarray, day: np.ndarray, amount: np.ndarray,
          batched: np.ndarray | None, step: str) -> pd.DataFrame:
    """Payment rows of one step for the invoices in ``mask``; ``group`` names the payment
    order: one per row, except batched rows, which share one per client and day."""
    idx = np.flatnonzero(mask)
    client = inv["client_id"].to_numpy()[idx]
    date = day[idx]
    group = np.array([f"{step}:{d}" for d in inv["doc_id"].to_numpy()[idx]], dtype=object)
    if batched is not None:
        b = batched[idx]
        group[b] = [f"batch:{cl}:{dt}" for cl, dt in zip(client[b], date[b], strict=True)]
    return pd.DataFrame({"doc_id": inv["doc_id"].to_numpy()[idx], "client_id": client,
                         "payment_date": date.astype("datetime64[ns]"), "amount": amount[idx],
                         "group": group})
