"""Independent cross-check of expected/: recompute every cell from landing/ in plain Python.

Not the source of the expected values (those are the hand tables of README.md, written out by
make_expected.py): a second, mechanical reading of spec/metrics.md §4, §5, §8–§10 with the readings
listed in README.md, which names any cell where the two disagree. It reads only this scenario's plain
CSVs (UTF-8, comma, ISO dates), never the warehouse or the dbt SQL.
Run: ``.venv/bin/python tests/scenarios/receivables_audits/crosscheck_from_spec.py`` (exit 0 = agree).
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
import math
import sys
from collections import defaultdict
from fractions import Fraction
from pathlib import Path

HERE = Path(__file__).resolve().parent
LANDING = HERE / "landing"
MONTHS = [dt.date(2024, m, 1) for m in (1, 2, 3, 4)]
FIRST_DATA_MONTH = MONTHS[0]
# the spec's defaults (metrics.md §4, §5): the scenario uses them unchanged
CATEGORY_MIN_SKUS = 3
EFFECTIVE_MIN_SKUS = 3
EFFECTIVE_MIN_REVENUE = 0
STT_THRESHOLD = Fraction(3, 4)
TRUE = {"true", "1", "yes", "да"}

log = logging.getLogger("crosscheck")


def rows(dataset: str) -> list[dict[str, str]]:
    out = []
    for path in sorted((LANDING / dataset).glob("*.csv")):
        with open(path, newline="", encoding="utf-8") as handle:
            out.extend(csv.DictReader(handle))
    return out


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text[:10])


def month_of(d: dt.date) -> dt.date:
    return d.replace(day=1)


def month_end(m: dt.date) -> dt.date:
    nxt = (m.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return nxt - dt.timedelta(days=1)


def shift(m: dt.date, k: int) -> dt.date:
    i = m.year * 12 + m.month - 1 + k
    return dt.date(i // 12, i % 12 + 1, 1)


def window(m: dt.date) -> list[dt.date]:
    """M−2 … M (the quarter at quarter ends, which is the same three months), limited to months with data."""
    return [w for w in (shift(m, -2), shift(m, -1), m) if w >= FIRST_DATA_MONTH]


def ratio(a, b):
    return None if b in (0, None) or a is None else Fraction(a) / Fraction(b)


def as_of(lists: list[dict[str, str]], key: str, m: dt.date) -> dict[str, dict[str, str]]:
    """The list in force on M's last day (the first list before any list), as a whole."""
    dates = sorted({day(r["snapshot_date"]) for r in lists})
    chosen = [d for d in dates if d <= month_end(m)]
    pick = chosen[-1] if chosen else dates[0]
    return {r[key]: r for r in lists if day(r["snapshot_date"]) == pick}


# --- load -----------------------------------------------------------------------------------------
PRODUCTS = {r["sku"]: r for r in rows("products")}
MML = {s for s, r in PRODUCTS.items() if r.get("mml", "").strip().lower() in TRUE}
CATEGORIES = sorted({r["category"] for r in PRODUCTS.values()})
CLIENT_LISTS = rows("clients")
POINT_LISTS = rows("trade_points")
LINES = [r for r in rows("shipments") if (r.get("status") or "posted") == "posted"]
PLANS = rows("visit_plan")
VISITS = rows("visits")
COSTS = {(month_of(day(r["month"] + ("-01" if len(r["month"]) == 7 else ""))), r["rep_id"]):
         sum(Fraction(r[c] or 0) for c in ("salary", "car", "fuel")) for r in rows("rep_costs")}
INVOICES: dict[str, dict[str, str]] = {}
for r in rows("invoices"):           # files in name order: the last version of a doc_id wins
    INVOICES[r["doc_id"]] = r
DEFERRED = {k: r for k, r in INVOICES.items()
            if (r.get("status") or "posted") == "posted" and day(r["due_date"]) > day(r["doc_date"])}
PAYMENTS = rows("payments")
AUDIT_ROWS = rows("retail_audits")


def points(m):
    return as_of(POINT_LISTS, "point_id", m)


def owners(m):
    return {c: r["manager_id"] for c, r in as_of(CLIENT_LISTS, "client_id", m).items()}


def lines_of(point: str, m: dt.date) -> list[dict[str, str]]:
    return [r for r in LINES if r["point_id"] == point and month_of(day(r["doc_date"])) == m]


def active(point: str, m: dt.date) -> bool:
    return sum(Fraction(r["revenue"]) for r in lines_of(point, m)) > 0


def orders(point: str, m: dt.date) -> list[tuple[bool, Fraction | None]]:
    """(effective, margin or None) per order (point-day with a line of qty > 0) of the month."""
    out = []
    for d in sorted({r["doc_date"] for r in lines_of(point, m) if Fraction(r["qty"]) > 0}):
        day_lines = [r for r in lines_of(point, m) if r["doc_date"] == d]
        skus = {r["sku"] for r in day_lines if Fraction(r["qty"]) > 0}
        revenue = sum(Fraction(r["revenue"]) for r in day_lines)
        margin = None if any(not r["cost"] for r in day_lines) else \
            sum(Fraction(r["revenue"]) - Fraction(r["cost"]) for r in day_lines)
        out.append((len(skus) >= EFFECTIVE_MIN_SKUS and revenue >= EFFECTIVE_MIN_REVENUE, margin))
    return out


def plans(point: str, m: dt.date) -> int:
    return sum(1 for r in PLANS if r["point_id"] == point and month_of(day(r["plan_date"])) == m)


def visits(point: str, m: dt.date) -> int:
    return sum(1 for r in VISITS if r["point_id"] == point and month_of(day(r["visit_date"])) == m)


def is_stt(point: str, months: list[dt.date]) -> bool:
    planned = sum(plans(point, w) for w in months)
    effective = sum(e for w in months for e, _ in orders(point, w))
    return planned > 0 and Fraction(effective, planned) > STT_THRESHOLD


def latest_audit(point: str, months: list[dt.date]) -> dict[str, bool] | None:
    """{'planogram': bool, 'present': MML SKUs present} of the point's latest audit in ``months``."""
    audits = {(day(r["audit_date"]), r["audit_id"]) for r in AUDIT_ROWS
              if r["point_id"] == point and month_of(day(r["audit_date"])) in months}
    if not audits:
        return None
    _, audit_id = max(audits)
    its = [r for r in AUDIT_ROWS if r["audit_id"] == audit_id]
    return {"planogram": (its[0].get("planogram_ok") or "").lower() in TRUE,
            "present": sum(1 for r in its if r["sku"] in MML and r["present"].lower() in TRUE)}


def groups(m: dt.date, with_channel: bool) -> dict[tuple[str, str], list[str]]:
    pts = points(m)
    out: dict[tuple[str, str], list[str]] = defaultdict(list)
    for p, r in sorted(pts.items()):
        out[("total", "all")].append(p)
        out[("territory", r["territory"])].append(p)
        out[("rep", r["rep_id"])].append(p)
        if with_channel:
            out[("channel", r["channel"])].append(p)
    return out


# --- §8 receivables --------------------------------------------------------------------------------
def paid(doc: str, until: dt.date) -> Fraction:
    return sum((Fraction(p["amount"]) for p in PAYMENTS if p["doc_id"] == doc and day(p["payment_date"]) <= until),
               Fraction(0))


def receivables_by_client(m: dt.date) -> dict[str, tuple[Fraction, Fraction, Fraction, Fraction, Fraction]]:
    """client -> (receivables, overdue, planned, payments, paid_on_time) of month M."""
    d = month_end(m)
    out = {c: [Fraction(0)] * 5 for c in as_of(CLIENT_LISTS, "client_id", m)}
    for doc, inv in DEFERRED.items():
        acc = out.setdefault(inv["client_id"], [Fraction(0)] * 5)
        amount, due = Fraction(inv["amount"]), day(inv["due_date"])
        if day(inv["doc_date"]) <= d:
            open_ = max(Fraction(0), amount - paid(doc, d))
            acc[0] += open_
            if due < d:
                acc[1] += open_
        if month_of(due) == m:
            acc[2] += amount
            acc[4] += min(amount, max(Fraction(0), paid(doc, due)))
        acc[3] += sum((Fraction(p["amount"]) for p in PAYMENTS
                       if p["doc_id"] == doc and month_of(day(p["payment_date"])) == m), Fraction(0))
    return {c: tuple(v) for c, v in out.items()}


def receivables_rows(m: dt.date) -> dict[str | None, list]:
    by_client, own = receivables_by_client(m), owners(m)
    out = {}
    for manager in sorted(set(own.values())) + [None]:
        clients = [c for c in by_client if manager is None or own.get(c) == manager]
        rec, over, plan, pay, ontime = (sum((by_client[c][i] for c in clients), Fraction(0)) for i in range(5))
        out[manager] = [rec, over, ratio(over, rec), sum(1 for c in clients if by_client[c][1] > 0),
                        plan, pay, ratio(pay, plan), ontime, ratio(ontime, plan)]
    return out


# --- tables -----------------------------------------------------------------------------------------
def computed() -> dict[str, dict[tuple, dict[str, object]]]:
    tables: dict[str, dict[tuple, dict[str, object]]] = defaultdict(dict)
    rec_cols = ["receivables", "overdue_receivables", "overdue_share", "overdue_clients", "planned_payments",
                "payments", "payment_discipline", "paid_on_time", "on_time_share"]
    for m in MONTHS:
        rec = receivables_rows(m)
        for manager, vals in rec.items():
            tables["receivables_monthly"][(m, manager)] = dict(zip(rec_cols, vals, strict=True))
            if manager is not None:
                tables["manager_scorecard_monthly"][(m, manager)] = {"receivables": vals[0],
                                                                      "overdue_share": vals[2]}
        for client, vals in receivables_by_client(m).items():
            tables["client_status_monthly"][(m, client)] = {"receivables": vals[0], "overdue_receivables": vals[1]}

        for key, pts in groups(m, with_channel=True).items():
            audits = [a for a in (latest_audit(p, [m]) for p in pts) if a]
            if audits:
                n, ok, present = len(audits), sum(a["planogram"] for a in audits), sum(a["present"] for a in audits)
                tables["retail_audit_monthly"][(m, *key)] = {
                    "audited_points": n, "planogram_points": ok, "planogram_coverage": ratio(ok, n),
                    "mml_skus": len(MML), "mml_present": present,
                    "distribution_coefficient": ratio(present, n * len(MML))}
            census = points(m)
            okb = sum(1 for p in pts if (census[p].get("active") or "true").lower() in TRUE)
            pakb = sum(1 for p in pts if plans(p, m))
            akb = sum(1 for p in pts if active(p, m))
            akb_3m = sum(1 for p in pts if any(active(p, w) for w in window(m)))
            full = [shift(m, -2), shift(m, -1), m]
            stable = sum(1 for p in pts if all(w >= FIRST_DATA_MONTH and active(p, w) for w in full))
            tables["coverage_monthly"][(m, *key)] = {
                "okb": okb, "pakb": pakb, "akb": akb, "coverage_pakb": ratio(akb, pakb),
                "coverage_okb": ratio(akb, okb), "akb_3m": akb_3m, "stable_akb_3m": stable,
                "stability_3m": ratio(stable, akb_3m)}
            if key[0] == "rep":
                rep = key[1]
                planned = sum(plans(p, m) for p in pts)
                orders_m = [o for p in pts for o in orders(p, m)]
                margin = None if any(mg is None for _, mg in orders_m) else \
                    sum((mg for _, mg in orders_m), Fraction(0))
                cost = COSTS.get((m, rep))
                n_orders = len(orders_m)
                stt = sum(1 for p in pts if is_stt(p, window(m)))
                mpo = ratio(margin, n_orders) if cost is not None else None
                cpo = ratio(cost, n_orders)
                row = {"planned_visits": planned, "actual_visits": sum(visits(p, m) for p in pts),
                       "orders": n_orders, "effective_orders": sum(e for e, _ in orders_m),
                       "visit_effectiveness": ratio(n_orders, planned),
                       "kpd_effectiveness": ratio(sum(e for e, _ in orders_m), planned),
                       "stt_3m": stt, "akb_3m": akb_3m, "stt_share": ratio(stt, akb_3m), "rep_cost": cost,
                       "cost_per_visit": ratio(cost, planned), "cost_per_order": cpo, "margin": margin,
                       "margin_per_order": mpo,
                       "useful_income_share": ratio(mpo - cpo, mpo) if mpo is not None and cpo is not None else None}
                if planned or row["actual_visits"] or n_orders:
                    tables["visits_monthly"][(m, rep)] = row

    for m in MONTHS[2:]:
        w = window(m)
        all_points = points(m)
        for key, pts in groups(m, with_channel=False).items():
            line: dict[int, object] = {}
            line[1] = sum(1 for p in pts if (all_points[p].get("active") or "true").lower() in TRUE)
            line[2] = sum(1 for p in pts if any(plans(p, x) for x in w))
            line[3] = sum(1 for p in pts if any(active(p, x) for x in w))
            line[4], line[5] = ratio(line[3], line[2]), ratio(line[3], line[1])
            line[6] = sum(1 for p in pts if all(active(p, x) for x in w) and len(w) == 3)
            line[7] = ratio(line[6], line[3])
            line[8] = sum(1 for p in pts if is_stt(p, w))
            line[9] = ratio(line[8], line[3])

            def qualifies(p: str, w: list[dt.date]) -> bool:
                """Line 10: ≥ 3 SKUs of net quantity > 0 over the whole window, in every category."""
                net: dict[str, Fraction] = defaultdict(Fraction)
                for x in w:
                    for r in lines_of(p, x):
                        net[r["sku"]] += Fraction(r["qty"])
                return all(sum(1 for s, q in net.items() if q > 0 and PRODUCTS[s]["category"] == c)
                           >= CATEGORY_MIN_SKUS for c in CATEGORIES)
            line[10] = sum(1 for p in pts if qualifies(p, w))
            line[11] = ratio(line[10], line[3])
            line[12] = sum(plans(p, x) for p in pts for x in w)
            all_orders = [o for p in pts for x in w for o in orders(p, x)]
            line[13] = len(all_orders)
            line[14] = sum(e for e, _ in all_orders)
            line[15], line[16] = ratio(line[13], line[12]), ratio(line[14], line[12])
            costed = [(all_points[p]["rep_id"], p, x) for p in pts for x in w if (x, all_points[p]["rep_id"]) in COSTS]
            if key[0] == "territory" or not costed:
                line[17] = line[18] = line[20] = None
            else:
                cost = sum(COSTS[(x, rep)] for rep, x in {(rep, x) for rep, _, x in costed})
                c_plans = sum(plans(p, x) for _, p, x in costed)
                c_orders = [o for _, p, x in costed for o in orders(p, x)]
                c_margin = sum((mg for _, mg in c_orders if mg is not None), Fraction(0))
                line[17], line[18] = ratio(cost, c_plans), ratio(cost, len(c_orders))
                line[20] = ratio(c_margin - cost, c_margin)
            with_margin = [mg for _, mg in all_orders if mg is not None]
            line[19] = None if key[0] == "territory" else ratio(sum(with_margin, Fraction(0)), len(with_margin))
            if key == ("total", "all"):
                line[21] = receivables_rows(m)[None][2]
                plan = sum(receivables_rows(x)[None][4] for x in w)
                pay = sum(receivables_rows(x)[None][5] for x in w)
                line[22] = ratio(pay, plan)
            else:
                line[21] = line[22] = None
            audits = [a for a in (latest_audit(p, w) for p in pts) if a]
            n = len(audits)
            line[23] = ratio(sum(a["planogram"] for a in audits), n)
            line[24] = ratio(sum(a["present"] for a in audits), n * len(MML))
            for no, val in line.items():
                tables["kpi_matrix_monthly"][(m, *key, no)] = {"value": val}
    return tables


def as_float(v):
    if v is None or v == "":
        return None
    if isinstance(v, bool):
        return float(v)
    return float(Fraction(v)) if not isinstance(v, str) else float(v)


def main() -> int:
    """Compare every expected cell with the recomputation; log each difference; 0 when all agree."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    tables = computed()
    keys = {"receivables_monthly": ("month", "manager_id"), "client_status_monthly": ("month", "client_id"),
            "manager_scorecard_monthly": ("month", "manager_id"),
            "retail_audit_monthly": ("month", "dimension", "dimension_value"),
            "coverage_monthly": ("month", "dimension", "dimension_value"),
            "visits_monthly": ("month", "rep_id"),
            "kpi_matrix_monthly": ("month", "dimension", "dimension_value", "metric_no")}
    problems = 0
    for table, key_cols in keys.items():
        with open(HERE / "expected" / f"{table}.csv", newline="", encoding="utf-8") as handle:
            expected = list(csv.DictReader(handle))
        seen = set()
        for row in expected:
            key = tuple(row[k] or None for k in key_cols)
            key = (dt.date.fromisoformat(key[0]), *key[1:-1], int(key[-1])) if table == "kpi_matrix_monthly" \
                else (dt.date.fromisoformat(key[0]), *key[1:])
            seen.add(key)
            got = tables[table].get(key)
            if got is None:
                problems += 1
                log.error("%s %s: in expected/, not recomputed", table, key)
                continue
            for col, text in row.items():
                if col in key_cols or col not in got:
                    continue
                a, b = as_float(text), as_float(got[col])
                if (a is None) != (b is None) or (a is not None and not math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)):
                    problems += 1
                    log.error("%s %s %s: expected %s, recomputed %s", table, key, col, text, b)
        months = {k[0] for k in seen}
        for key in tables[table]:
            if key not in seen and key[0] in months:
                problems += 1
                log.error("%s %s: recomputed, missing from expected/", table, key)
    log.info("crosscheck: %d difference(s)", problems)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
