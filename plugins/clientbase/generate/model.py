"""The whole simulated distributor, as one dataset frame per contract dataset.

``simulate`` wires the pieces in causal order — lifecycles decide who buys when, the
reference-list history decides who owns and visits whom, routes and visits come from the
history, orders from visits, waybills from orders — and returns frames holding exactly the
contract columns, ready for either writer. Each piece draws from its own random stream
(seed + piece name), so changing one piece does not reshuffle the others.
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from clientbase.contract import DATASETS
from clientbase.generate import (
    audits,
    costs,
    entities,
    history,
    lifecycle,
    receivables,
    rotation,
    shipments,
    visits,
)
from clientbase.generate.scale import DEMO, Scale
from clientbase.generate.statuses import client_statuses, status_counts
from clientbase.generate.timeline import Timeline

log = logging.getLogger(__name__)


def stream(seed: int, name: str) -> np.random.Generator:
    """An independent, reproducible random stream per simulation piece."""
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


@dataclass(frozen=True)
class DemoData:
    """The demo's datasets (contract columns only) and what the simulation guarantees."""

    timeline: Timeline
    managers: pd.DataFrame
    products: pd.DataFrame
    clients: pd.DataFrame        # every list, snapshot_date tells them apart
    trade_points: pd.DataFrame   # every list
    shipments: pd.DataFrame      # waybill lines as first exported
    corrections: pd.DataFrame    # lines re-sent later; same keys as some shipments rows
    visit_plan: pd.DataFrame
    visits: pd.DataFrame
    rep_costs: pd.DataFrame
    invoices: pd.DataFrame       # one per sales waybill (and a few services), current version
    payments: pd.DataFrame       # one row per (payment order, invoice)
    retail_audits: pd.DataFrame  # one row per SKU checked in an audit
    end_statuses: dict[str, int]  # client statuses in the last month, from the shipments
    scale: Scale = DEMO

    def final_shipments(self) -> pd.DataFrame:
        """The ERP's current state of the shipments (what SQL mode holds)."""
        final = shipments.apply_corrections(self.shipments, self.corrections)
        return final.sort_values(["doc_date", "doc_id", "line_no"], kind="stable").reset_index(drop=True)

    def tables(self) -> dict[str, pd.DataFrame]:
        """Dataset name -> its full current content, in contract load order."""
        current = {"shipments": self.final_shipments()}
        return {name: current.get(name, getattr(self, name)) for name in DATASETS}


def simulate(end_month: str, n_months: int, n_clients: int, seed: int, scale: Scale = DEMO) -> DemoData:
    if n_months < lifecycle.MIN_MONTHS:
        raise ValueError(f"months must be at least {lifecycle.MIN_MONTHS}, got {n_months}")
    if n_clients < lifecycle.MIN_CLIENTS:
        raise ValueError(f"clients must be at least {lifecycle.MIN_CLIENTS}, got {n_clients}")
    timeline = Timeline.build(end_month, n_months)

    kinds = lifecycle.assign_kinds(n_clients, stream(seed, "kinds"))
    life = lifecycle.simulate(kinds, n_months, stream(seed, "lifecycle"))
    territories = entities.territories_for(n_clients)
    products = entities.build_products(stream(seed, "products"), scale.sku_variants)
    products["mml"] = audits.mml_flags(products)
    clients = entities.build_clients(kinds, territories, stream(seed, "clients"))
    points, appetite = entities.build_points(clients, territories, products["category"].nunique(),
                                             stream(seed, "points"), scale.extra_points)
    staff = entities.build_staff(n_clients, points, territories, stream(seed, "staff"))
    hist = history.simulate(timeline, clients, points, staff, life, stream(seed, "history"),
                            stream(seed, "idle_rotation"))
    life = rotation.uplift(life, hist, points["client_idx"].to_numpy(), stream(seed, "rotation_uplift"))

    on_route, freq = visits.route(points, life, hist, n_months, stream(seed, "route"))
    plan_rows = visits.plan(timeline, points, hist, on_route, freq)
    visit_rows = visits.visits(timeline, points, plan_rows, stream(seed, "visits"))

    point_open = hist.point_active[:, hist.asof(n_months)]
    buys = shipments.point_activity(points, life.active, point_open, stream(seed, "point_activity"))
    order_rows = shipments.orders(timeline, points, visit_rows, buys, stream(seed, "orders"), scale.phone_orders)
    lines = shipments.waybill_lines(timeline, order_rows, points, appetite, products, clients, hist,
                                    stream(seed, "lines"), scale.skus_per_order, scale.max_skus)
    fixed = shipments.corrections(timeline, lines, stream(seed, "corrections"), scale.monthly_corrections)
    client_buys = np.zeros_like(buys)
    has_client = points["client_idx"].to_numpy() >= 0
    client_buys[has_client] = life.active[points["client_idx"].to_numpy()[has_client]]
    visit_rows["result"] = visits.assign_results(visit_rows, order_rows, client_buys, stream(seed, "results"))

    term = receivables.terms(clients, stream(seed, "terms"))
    invoice_rows = receivables.invoices(timeline, shipments.apply_corrections(lines, fixed), clients, term,
                                        stream(seed, "invoices"))
    payment_rows = receivables.payments(timeline, invoice_rows, life, stream(seed, "payments"))
    audit_rows = audits.audits(timeline, points, hist, visit_rows, lines, products, stream(seed, "audits"))

    shipped = _contract(lines, "shipments")
    corrected = _contract(fixed, "shipments")
    activity = activity_from_shipments(shipments.apply_corrections(shipped, corrected),
                                       clients["client_id"], timeline)
    if not np.array_equal(activity, life.active):
        log.warning("shipments disagree with the simulated lifecycles in %d client-months",
                    int((activity != life.active).sum()))
    return DemoData(
        timeline=timeline,
        managers=_contract(staff, "managers"),
        products=_contract(products, "products"),
        clients=_contract(history.clients_lists(timeline, clients, hist), "clients"),
        trade_points=_contract(history.trade_points_lists(timeline, clients, points, hist), "trade_points"),
        shipments=shipped,
        corrections=corrected,
        visit_plan=_contract(plan_rows, "visit_plan"),
        visits=_contract(visit_rows, "visits"),
        rep_costs=_contract(costs.rep_costs(timeline, staff, visit_rows, stream(seed, "costs")), "rep_costs"),
        invoices=_contract(invoice_rows, "invoices"),
        payments=_contract(payment_rows, "payments"),
        retail_audits=_contract(audit_rows, "retail_audits"),
        end_statuses=status_counts(client_statuses(activity)[:, -1]),
        scale=scale,
    )


def activity_from_shipments(final: pd.DataFrame, client_ids: pd.Series, timeline: Timeline) -> np.ndarray:
    """(C, T) active client-months per metrics §1: posted net revenue of the month > 0."""
    posted = final[final["status"] == "posted"]
    month = timeline.month_of(posted["doc_date"])
    net = posted.groupby([posted["client_id"].to_numpy(), month])["revenue"].sum()
    grid = net.unstack(fill_value=0.0).reindex(index=client_ids, columns=range(timeline.n), fill_value=0.0)
    return grid.to_numpy() > 0


def _contract(frame: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """The contract's columns in its order. An optional column the demo does not generate
    is left empty rather than failing, so the contract can grow ahead of the demo."""
    ds = DATASETS[dataset]
    missing = [c for c in ds.required if c not in frame.columns]
    if missing:
        raise KeyError(f"the demo's {dataset} lack the required column(s) {', '.join(missing)}")
    return frame.reindex(columns=list(ds.column_names)).reset_index(drop=True)
