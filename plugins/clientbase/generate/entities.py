"""The cast: products, clients, their trade points, census points and the sales staff.

Only attributes that do not change over time live here; owners, tiers, assigned reps and
point closures change between reference lists and are drawn in ``history``.
Frames carry the contract columns plus a few internal ones (``kind``, ``territory`` of a
rep, price …) that the simulation needs and the writers drop.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from clientbase.generate import names

TIERS = ("vip", "key", "regular")
TIER_SHARES = (0.08, 0.22, 0.70)
# Clients won during the period are what hunters chase: big accounts more often than the
# base at large, so a hunter has VIP and key clients to hand over (metrics §3, target 5).
LATE_TIER_SHARES = (0.25, 0.45, 0.30)
CHANNELS_BY_TIER = {
    "vip": (("chain", "wholesale"), (0.6, 0.4)),
    "key": (("retail", "chain", "horeca", "wholesale"), (0.4, 0.2, 0.2, 0.2)),
    "regular": (("retail", "horeca", "wholesale"), (0.6, 0.35, 0.05)),
}
POINTS_BY_TIER = {"vip": ((3, 4, 5, 6), None), "key": ((2, 3, 4), None),
                  "regular": ((1, 2, 3), (0.6, 0.3, 0.1))}
CENSUS_SHARE = 0.35           # census-only points per client
CLIENTS_PER_FARMER = 60
CLIENTS_PER_HUNTER = 100
POINTS_PER_REP = 40
PRICE_RANGE = {"Чай": (80, 450), "Кофе": (150, 1200), "Кондитерские изделия": (60, 700),
               "Бакалея": (50, 200), "Напитки": (40, 150), "Снеки": (40, 250)}


PACK_SIZES = ("", "x2", "x4", "x6", "x12", "x24", "x48", "x96")  # variants of a line at scale (scale.py)


def build_products(rng: np.random.Generator, variants: int = 1) -> pd.DataFrame:
    """The 40-SKU catalogue (40 x ``variants`` at scale) with list price, unit cost, case
    size and popularity. Variant 0 of a line is the demo's SKU; the others are the same line
    in a multipack (``... x4``), drawn after it, so one variant draws exactly what the demo did."""
    rows = []
    for category, (brands, lines) in names.CATALOGUE.items():
        low, high = PRICE_RANGE[category]
        for line in lines:
            for variant in range(variants):
                brand = brands[rng.integers(len(brands))]
                label = f'{line} "{brand}"' + (f" {PACK_SIZES[variant % len(PACK_SIZES)]}" if variant else "")
                rows.append({"name": label, "category": category, "brand": brand,
                             "price": round(float(rng.uniform(low, high)), 2)})
    products = pd.DataFrame(rows)
    products.insert(0, "sku", [f"SKU{i + 1:03d}" for i in range(len(products))])
    products["unit_cost"] = (products["price"] * rng.uniform(0.68, 0.85, len(products))).round(2)
    products["case_size"] = rng.choice((6, 10, 12, 20, 24), len(products))
    products["popularity"] = rng.lognormal(0.0, 0.7, len(products))
    return products


def territories_for(n_clients: int) -> tuple[str, ...]:
    """Two territories for a tiny demo, up to six for the full one."""
    return tuple(names.TERRITORIES)[: int(np.clip(n_clients // 50, 2, len(names.TERRITORIES)))]


def build_clients(kinds: np.ndarray, territories: tuple[str, ...], rng: np.random.Generator) -> pd.DataFrame:
    """Counterparties with their initial tier, channel, home territory and discount."""
    n = len(kinds)
    tier = rng.choice(TIERS, n, p=TIER_SHARES).astype(object)
    won = kinds == "late"
    tier[won] = rng.choice(TIERS, won.sum(), p=LATE_TIER_SHARES)
    # The scripted "new" client is a key account: a hunter's handover candidate in the last month.
    tier[np.flatnonzero(kinds == "late")[0]] = "key"
    channel = np.empty(n, dtype=object)
    for t, (options, p) in CHANNELS_BY_TIER.items():
        mask = tier == t
        channel[mask] = rng.choice(options, mask.sum(), p=p)
    territory = rng.choice(territories, n)
    sole_trader = (tier == "regular") & (rng.random(n) < 0.4) | (tier == "key") & (rng.random(n) < 0.1)
    sign = names.trade_names(rng, n)
    inn = np.asarray(names.inns(rng, territory, sole_trader), dtype=object)
    inn[rng.random(n) < 0.05] = None  # not every card in the ERP has its INN filled in
    discount = np.select([tier == "vip", tier == "key"],
                         [rng.uniform(0.08, 0.12, n), rng.uniform(0.04, 0.08, n)],
                         rng.uniform(0.0, 0.03, n))
    return pd.DataFrame({
        "client_id": [f"CL{i + 1:05d}" for i in range(n)],
        "name": names.company_names(rng, sign, sole_trader),
        "tier": tier, "channel": channel, "inn": inn,
        "territory": territory, "sign": sign, "kind": kinds, "discount": discount,
    })


def build_points(clients: pd.DataFrame, territories: tuple[str, ...], n_products_categories: int,
                 rng: np.random.Generator, extra_points: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Trade points of clients plus census points nobody buys for yet.

    Returns the points and a (P, categories) matrix of each point's category appetite, so
    that points buy whole assortments of some categories (what category АКБ measures).
    """
    per_client = np.empty(len(clients), dtype=np.int64)
    for tier, (options, p) in POINTS_BY_TIER.items():
        mask = (clients["tier"] == tier).to_numpy()
        per_client[mask] = rng.choice(options, mask.sum(), p=p)
    per_client += extra_points  # a larger distributor's clients have more shops (scale.py); 0 in the demo
    owner = np.repeat(np.arange(len(clients)), per_client)
    number = np.concatenate([np.arange(1, k + 1) for k in per_client])
    n_census = max(3, round(CENSUS_SHARE * len(clients)))
    n = len(owner) + n_census

    client_idx = np.concatenate([owner, np.full(n_census, -1)])
    is_census = client_idx < 0
    c = np.where(is_census, 0, client_idx)
    channel = np.where(is_census, rng.choice(("retail", "horeca"), n, p=(0.7, 0.3)),
                       clients["channel"].to_numpy()[c]).astype(object)
    territory = clients["territory"].to_numpy()[c].astype(object)
    roam = is_census | ((channel == "chain") & (rng.random(n) < 0.3))
    territory[roam] = rng.choice(territories, roam.sum())

    word = np.array([names.POINT_KINDS[ch][rng.integers(len(names.POINT_KINDS[ch]))] for ch in channel],
                    dtype=object)
    sign = np.where(is_census, names.trade_names(rng, n), clients["sign"].to_numpy()[c])
    numbered = np.concatenate([number, np.ones(n_census, dtype=np.int64)]).astype(str).astype(object)
    name = np.where(channel == "chain", sign + " №" + numbered, word + ' "' + sign + '"')

    tier = np.where(is_census, "census", clients["tier"].to_numpy()[c])
    systematic = ~is_census & (tier != "regular") & (rng.random(n) < 0.12)
    base_order = np.select([tier == "vip", tier == "key"], [0.6, 0.5], 0.45)
    points = pd.DataFrame({
        "client_idx": client_idx,
        "name": name, "address": names.addresses(rng, territory),
        "territory": territory, "channel": channel, "tier": tier,
        "is_main": np.concatenate([number == 1, np.zeros(n_census, dtype=bool)]),
        "weekday": rng.integers(0, 5, n), "parity": rng.integers(0, 2, n),
        "occurrence": rng.integers(0, 4, n),
        "p_order": np.where(systematic, 0.95, np.clip(base_order + rng.normal(0, 0.1, n), 0.15, 0.85)),
        "spread": rng.uniform(0.5, 0.9, n), "systematic": systematic,
    })
    # Point ids follow creation order in the SFA, which is not grouped by client.
    order = rng.permutation(n)
    points = points.iloc[order].reset_index(drop=True)
    points.insert(0, "point_id", [f"TP{i + 1:05d}" for i in range(n)])
    appetite = rng.dirichlet(np.full(n_products_categories, 0.6), n)
    return points, appetite


def build_staff(n_clients: int, points: pd.DataFrame, territories: tuple[str, ...],
                rng: np.random.Generator) -> pd.DataFrame:
    """Farmers and hunters (client owners) and the field reps of each territory.

    The last farmer has left the company (active = false); ``history`` hands his clients
    over to the others part way through the period.
    """
    n_farmers = max(3, round(n_clients / CLIENTS_PER_FARMER))
    n_hunters = max(1, round(n_clients / CLIENTS_PER_HUNTER))
    per_territory = points["territory"].value_counts()
    reps = [(t, max(1, round(per_territory.get(t, 0) / POINTS_PER_REP))) for t in territories]
    n_reps = sum(k for _, k in reps)
    people = names.person_names(rng, n_farmers + n_hunters + n_reps)
    rows = []
    for i in range(n_farmers):
        rows.append(("farmer", f"MGR{len(rows) + 1:03d}", "farmer", "key_accounts", i < n_farmers - 1, None))
    for _ in range(n_hunters):
        rows.append(("hunter", f"MGR{len(rows) + 1:03d}", "hunter", "active_sales", True, None))
    number = 0
    for territory, k in reps:
        for _ in range(k):
            number += 1
            # Reps own no clients; the contract knows only farmer/hunter, their team says "field".
            rows.append(("rep", f"REP{number:03d}", "farmer", "field", True, territory))
    staff = pd.DataFrame(rows, columns=["kind", "manager_id", "role", "team", "active", "territory"])
    staff.insert(2, "name", people)
    return staff
