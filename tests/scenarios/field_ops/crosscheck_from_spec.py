"""INDEPENDENT CROSS-CHECK of the hand-derived expected/*.csv, written from spec/metrics.md §1–§6.

Not a test and not the source of the expected values: the CSVs in expected/ were typed by hand from the
arithmetic in README.md. This script recomputes every expected value straight from landing/ with the
readings listed in README.md ("Readings of the spec"), in plain Python, without looking at the dbt SQL,
and reports any cell where the hand value and the recomputation disagree. Run it after editing the data:

    .venv/bin/python tests/scenarios/field_ops/crosscheck_from_spec.py

It exits 1 and names the cells that differ, 0 when the CSVs agree with the recomputation.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
LANDING, EXPECTED = HERE / "landing", HERE / "expected"
MONTHS = [(2024, m) for m in range(1, 7)]  # the run 2024-01 … 2024-06; the data also start in 2024-01
NEW_HOLD, RETURNED_HOLD, DORMANT_AFTER, ROTATION_AFTER = 3, 2, 12, 2
CATEGORY_MIN_SKUS, EFFECTIVE_MIN_SKUS, STT_THRESHOLD, MAX_CLIENTS = 3, 3, 0.75, 60


def rows(dataset: str) -> list[dict[str, str]]:
    out = []
    for path in sorted((LANDING / dataset).glob("*.csv")):
        with open(path, newline="", encoding="utf-8") as handle:
            out.extend(csv.DictReader(handle))
    return out


def mi(month: tuple[int, int]) -> int:
    return month[0] * 12 + month[1] - 1


def of_date(text: str) -> tuple[int, int]:
    d = dt.date.fromisoformat(text[:10]) if len(text) > 7 else dt.date.fromisoformat(text + "-01")
    return d.year, d.month


def month_end(month: tuple[int, int]) -> dt.date:
    y, m = month
    return dt.date(y + (m == 12), m % 12 + 1, 1) - dt.timedelta(days=1)


def label(month: tuple[int, int]) -> str:
    return f"{month[0]:04d}-{month[1]:02d}-01"


def ratio(a, b):
    return None if a is None or b in (None, 0) else a / b


NO_VERSION: dict[str, str] = {}  # the entity is not in the list in force: no owner, no attributes


def as_of(lists: dict[str, dict[str, dict[str, str]]], key: str, month: tuple[int, int]) -> dict[str, str]:
    """The entity's row in the list in force at the month's last day (sources.md: each file is the
    complete list on its date): the latest list dated on or before that day; months before the first
    list use the first list as a whole. An entity absent from that list has NO_VERSION."""
    dates = sorted(lists)
    in_force = dates[0]
    for date in dates:
        if dt.date.fromisoformat(date) <= month_end(month):
            in_force = date
    return lists[in_force].get(key, NO_VERSION)


# ---------------------------------------------------------------- sources
managers = {r["manager_id"]: r for r in rows("managers")}
products = {r["sku"]: r["category"] for r in rows("products")}
client_lists, point_lists = defaultdict(dict), defaultdict(dict)  # list date -> key -> row
for r in rows("clients"):
    client_lists[r["snapshot_date"]][r["client_id"]] = r
for r in rows("trade_points"):
    point_lists[r["snapshot_date"]][r["point_id"]] = r
lines = []
for r in rows("shipments"):
    if (r.get("status") or "posted") == "cancelled":
        continue
    lines.append({"date": r["doc_date"], "month": of_date(r["doc_date"]), "client": r["client_id"],
                  "point": r["point_id"], "sku": r["sku"], "qty": float(r["qty"]),
                  "revenue": float(r["revenue"]), "cost": None if r["cost"] == "" else float(r["cost"])})
plans = [(of_date(r["plan_date"]), r["point_id"]) for r in rows("visit_plan")]
visits = [(of_date(r["visit_date"]), r["point_id"]) for r in rows("visits")]
rep_costs = {}
for r in rows("rep_costs"):
    rep_costs[(of_date(r["month"]), r["rep_id"])] = sum(float(r[c] or 0) for c in ("salary", "car", "fuel"))

def window(month, size):
    return [(2024, k) for k in range(max(1, month[1] - size + 1), month[1] + 1)]


def revenue_of(key, value, month_set):
    return sum(line["revenue"] for line in lines if line[key] == value and line["month"] in month_set)


def active(key, value, month) -> bool:
    return revenue_of(key, value, {month}) > 0


def margin_of(selected):
    return (None if any(line["cost"] is None for line in selected)
            else sum(line["revenue"] - line["cost"] for line in selected))


# ---------------------------------------------------------------- clients (§1, §2, §6)
def status(client, month):
    act = {m: active("client", client, m) for m in MONTHS if mi(m) <= mi(month)}
    active_months = [m for m, a in act.items() if a]
    if not active_months:
        return "potential", None, False, False
    first, last = min(active_months, key=mi), max(active_months, key=mi)
    inactive = mi(month) - mi(last)
    returned_r = [r for r in active_months if mi(month) - mi(r) < RETURNED_HOLD and mi(r) > mi(first)
                  and all(not act.get(((mi(r) - k) // 12, (mi(r) - k) % 12 + 1), False) for k in (1, 2, 3))]
    last3 = sum(act.get(m, False) for m in window(month, 3))
    if mi(month) - mi(first) < NEW_HOLD:
        s = "new"
    elif returned_r:
        s = "returned"
    elif last3 >= 2:
        s = "stabilized"
    elif last3 == 1:
        s = "unstabilized"
    elif inactive > DORMANT_AFTER:
        s = "dormant"
    else:
        s = "lost"
    return s, inactive, first == month, bool(returned_r) and max(returned_r, key=mi) == month and s == "returned"


BASE = {"new", "returned", "stabilized", "unstabilized", "lost"}
clients = sorted({c for listed in client_lists.values() for c in listed})
st = {(m, c): status(c, m) for m in MONTHS for c in clients}


def abc(month):
    win = set(window(month, 12))
    totals = {}
    for c in clients:
        sel = [line for line in lines if line["client"] == c and line["month"] in win]
        if not sel:
            continue
        use_margin = all(line["cost"] is not None for line in sel)
        totals[c] = sum((line["revenue"] - line["cost"]) if use_margin else line["revenue"] for line in sel)
    out = {c: "E" for c, t in totals.items() if t <= 0}
    positive = sorted(((t, c) for c, t in totals.items() if t > 0), key=lambda x: (-x[0], x[1]))
    grand, above = sum(t for t, _ in positive), 0.0
    for t, c in positive:
        share = above / grand
        out[c] = "A" if share < 0.5 else "B" if share < 0.8 else "C" if share < 0.95 else "D"
        above += t
    return out


client_rows = []
for m in MONTHS:
    classes = abc(m)
    for c in clients:
        s, inactive, is_new, is_ret = st[(m, c)]
        prev = st.get(((2024, m[1] - 1), c), ("potential",))[0] if m[1] > 1 else "potential"
        sel = [line for line in lines if line["client"] == c and line["month"] == m]
        client_rows.append({
            "month": label(m), "client_id": c, "manager_id": as_of(client_lists, c, m).get("manager_id"),
            "status": s, "is_new_this_month": is_new, "is_returned_this_month": is_ret,
            "is_lost_this_month": s == "lost" and prev not in ("lost", "dormant"), "months_inactive": inactive,
            "revenue": sum(line["revenue"] for line in sel), "margin": margin_of(sel), "abc_class": classes.get(c)})

# ---------------------------------------------------------------- managers (§3)
score_rows, rotation_rows = [], []
for m in MONTHS:
    by_mgr = defaultdict(list)
    for c in clients:
        owner = as_of(client_lists, c, m).get("manager_id")
        if owner is not None:  # unassigned clients have no scorecard
            by_mgr[owner].append(c)
    for mgr, owned in sorted(by_mgr.items()):
        role = managers[mgr]["role"]
        base = [c for c in owned if st[(m, c)][0] in BASE]
        rot = [c for c in base if st[(m, c)][1] is not None and st[(m, c)][1] >= ROTATION_AFTER]
        handover = [c for c in owned if role == "hunter" and st[(m, c)][0] in ("new", "returned")
                    and as_of(client_lists, c, m).get("tier") in ("vip", "key")
                    and any(active("client", c, w) for w in window(m, 3))]
        mine = [r for r in client_rows if r["month"] == label(m) and r["client_id"] in owned]
        n_active = sum(active("client", c, m) for c in owned)
        score_rows.append({
            "month": label(m), "manager_id": mgr, "role": role, "clients": len(base), "active_clients": n_active,
            "overloaded": len(base) > MAX_CLIENTS, "rotation_candidates": len(rot),
            "new_clients": sum(st[(m, c)][2] for c in owned), "returned_clients": sum(st[(m, c)][3] for c in owned),
            "handover_candidates": len(handover), "revenue": sum(r["revenue"] for r in mine),
            "margin": None if any(r["margin"] is None for r in mine) else sum(r["margin"] for r in mine)})
        for c in rot:
            shipped = [line["date"] for line in lines if line["client"] == c and line["qty"] > 0
                       and dt.date.fromisoformat(line["date"]) <= month_end(m)]
            rotation_rows.append({"month": label(m), "client_id": c, "manager_id": mgr,
                                  "last_shipment_date": max(shipped), "months_inactive": st[(m, c)][1],
                                  "revenue_12m": revenue_of("client", c, set(window(m, 12)))})

# ---------------------------------------------------------------- points, orders (§4, §5)
points = sorted({p for listed in point_lists.values() for p in listed})


def orders_of(point, month):
    """{date: effective?} for the point's orders in the month (two waybills on one day = one order)."""
    days = defaultdict(list)
    for line in lines:
        if line["point"] == point and line["month"] == month:
            days[line["date"]].append(line)
    out = {}
    for day, sel in days.items():
        skus = {line["sku"] for line in sel if line["qty"] > 0}
        if skus:
            out[day] = len(skus) >= EFFECTIVE_MIN_SKUS and sum(line["revenue"] for line in sel) >= 0
    return out


def n_plans(point, months):
    return sum(1 for pm, p in plans if p == point and pm in months)


def n_effective(point, months):
    return sum(sum(orders_of(point, mm).values()) for mm in months)


coverage_rows, category_rows, visit_rows = [], [], []
for m in MONTHS:
    attrs = {p: as_of(point_lists, p, m) for p in points}
    w3 = window(m, 3)
    pt = {}
    for p in points:
        pt[p] = {"okb": attrs[p].get("active", "false").lower() in ("true", "1", "yes", "да"),
                 "pakb": n_plans(p, [m]) > 0, "akb": active("point", p, m),
                 "akb_3m": any(active("point", p, x) for x in w3),
                 "stable": len(w3) == 3 and all(active("point", p, x) for x in w3)}
    for dim, col in (("total", None), ("territory", "territory"), ("rep", "rep_id"), ("channel", "channel")):
        values = ["all"] if col is None else sorted({attrs[p][col] for p in points if attrs[p]})
        for v in values:
            grp = [p for p in points if col is None or attrs[p].get(col) == v]
            c = {k: sum(pt[p][k] for p in grp) for k in ("okb", "pakb", "akb", "akb_3m", "stable")}
            coverage_rows.append({"month": label(m), "dimension": dim, "dimension_value": v, "okb": c["okb"],
                                  "pakb": c["pakb"], "akb": c["akb"], "coverage_pakb": ratio(c["akb"], c["pakb"]),
                                  "coverage_okb": ratio(c["akb"], c["okb"]), "akb_3m": c["akb_3m"],
                                  "stable_akb_3m": c["stable"], "stability_3m": ratio(c["stable"], c["akb_3m"])})
    total_akb = sum(pt[p]["akb"] for p in points)
    for cat in sorted(set(products.values())):
        n = 0
        for p in points:
            net = defaultdict(float)
            for line in lines:
                if line["point"] == p and line["month"] == m and products[line["sku"]] == cat:
                    net[line["sku"]] += line["qty"]
            n += sum(q > 0 for q in net.values()) >= CATEGORY_MIN_SKUS
        category_rows.append({"month": label(m), "category": cat, "category_akb": n, "akb": total_akb,
                              "category_coverage": ratio(n, total_akb)})
    for rep in sorted({attrs[p]["rep_id"] for p in points if attrs[p]}):
        mine = [p for p in points if attrs[p].get("rep_id") == rep]
        planned = sum(n_plans(p, [m]) for p in mine)
        actual = sum(1 for vm, p in visits if vm == m and p in mine)
        orders = sum(len(orders_of(p, m)) for p in mine)
        effective = sum(n_effective(p, [m]) for p in mine)
        stt = sum(1 for p in mine if n_plans(p, w3) > 0 and n_effective(p, w3) / n_plans(p, w3) > STT_THRESHOLD)
        a3 = sum(pt[p]["akb_3m"] for p in mine)
        margin = margin_of([line for line in lines if line["point"] in mine and line["month"] == m])
        cost = rep_costs.get((m, rep))
        mpo = None if cost is None else ratio(margin, orders)
        cpo = None if cost is None else ratio(cost, orders)
        visit_rows.append({
            "month": label(m), "rep_id": rep, "planned_visits": planned, "actual_visits": actual, "orders": orders,
            "effective_orders": effective, "visit_effectiveness": ratio(orders, planned),
            "kpd_effectiveness": ratio(effective, planned), "stt_3m": stt, "akb_3m": a3, "stt_share": ratio(stt, a3),
            "rep_cost": cost, "cost_per_visit": None if cost is None else ratio(cost, planned),
            "cost_per_order": cpo, "margin": margin, "margin_per_order": mpo,
            "useful_income_share": None if mpo is None or cpo is None else ratio(mpo - cpo, mpo)})

COMPUTED = {"client_status_monthly": (client_rows, ("month", "client_id")),
            "manager_scorecard_monthly": (score_rows, ("month", "manager_id")),
            "rotation_candidates": (rotation_rows, ("month", "client_id")),
            "coverage_monthly": (coverage_rows, ("month", "dimension", "dimension_value")),
            "category_coverage_monthly": (category_rows, ("month", "category")),
            "visits_monthly": (visit_rows, ("month", "rep_id"))}


def norm(value):
    if value is None or value == "":
        return None
    if isinstance(value, bool) or value in ("True", "False"):
        return str(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def main() -> int:
    problems = 0
    for table, (computed, keys) in COMPUTED.items():
        with open(EXPECTED / f"{table}.csv", newline="", encoding="utf-8") as handle:
            expected = list(csv.DictReader(handle))
        exp = {tuple(r[k] for k in keys): r for r in expected}
        got = {tuple(str(r[k]) for k in keys): r for r in computed}
        for key in sorted(set(exp) | set(got)):
            if key not in exp or key not in got:
                problems += 1
                print(f"{table} {key}: only in {'expected CSV' if key in exp else 'recomputation'}")
                continue
            for col in exp[key]:
                a, b = norm(exp[key][col]), norm(got[key][col])
                if not (a == b or (isinstance(a, float) and isinstance(b, float) and math.isclose(a, b, abs_tol=1e-9))):
                    problems += 1
                    print(f"{table} {key} {col}: expected CSV {a!r}, recomputed {b!r}")
        print(f"{table}: {len(expected)} expected rows checked")
    print("OK: every hand value matches the recomputation" if not problems else f"{problems} difference(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
