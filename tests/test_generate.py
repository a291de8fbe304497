"""The demo data generator: deterministic, readable as the contract says, consistent, and
rich enough to show every status the metrics define.

The files are read back here with a small reader of their own (not the pipeline's), so a
generator bug cannot hide behind the same bug in the loader.
"""

from __future__ import annotations

import io
import itertools
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import pytest

from clientbase.contract import DATASETS
from clientbase.generate import GenerationSummary, generate, names
from clientbase.generate.timeline import default_end_month

# The demo does not generate the receivables and retail-audit datasets yet (issue 10, item 4:
# the generator's invoices, payments and audits); they are optional, the pipeline runs without them.
NOT_GENERATED_YET = {"invoices", "payments", "retail_audits"}
GENERATED = {name: ds for name, ds in DATASETS.items() if name not in NOT_GENERATED_YET}
SMALL = dict(months=16, end_month="2025-06", clients=60, seed=7)
TIER_LABELS = {"VIP": "vip", "Основной": "key", "Рядовой": "regular"}
BOOLS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False,
         "да": True, "нет": False}
STATUSES = {"potential", "new", "returned", "stabilized", "unstabilized", "dormant", "lost"}


# --------------------------------------------------------------------------- reading back

def decode(path: Path) -> tuple[str, str]:
    """(text, encoding): UTF-8 if it decodes, else Windows-1251."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return raw.decode("cp1251"), "cp1251"


def read_raw(path: Path) -> pd.DataFrame:
    """All cells as text ('' for empty), headers stripped and lower-cased."""
    text, _ = decode(path)
    header = text.splitlines()[0]
    sep = ";" if header.count(";") > header.count(",") else ","
    frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False)
    frame.columns = [c.strip().lower() for c in frame.columns]
    return frame


def _dates(values: pd.Series, with_time: bool = False) -> pd.Series:
    iso = values.str.match(r"^\d{4}-\d{2}")
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    suffix = " %H:%M:%S" if with_time else ""
    if iso.any():
        out[iso] = pd.to_datetime(values[iso], format="%Y-%m-%d" + suffix)
    if (~iso).any():
        out[~iso] = pd.to_datetime(values[~iso], format="%d.%m.%Y" + suffix)
    return out


def typed(frame: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """Values by contract type; raises on anything that does not parse."""
    out = {}
    for col in DATASETS[dataset].columns:
        v = frame[col.name].str.strip()
        empty = v == ""
        if col.type == "date":
            out[col.name] = _dates(v)
        elif col.type == "timestamp":
            out[col.name] = _dates(v, with_time=True)
        elif col.type == "month":
            month = v.where(~v.str.match(r"^\d{4}-\d{2}$"), v + "-01")
            out[col.name] = _dates(month)
        elif col.type == "numeric":
            out[col.name] = pd.to_numeric(v.str.replace(",", ".").where(~empty, None))
        elif col.type == "int":
            out[col.name] = v.astype(np.int64)
        elif col.type == "bool":
            out[col.name] = v.str.lower().map(BOOLS).where(~empty, True).astype(bool)
        else:
            out[col.name] = v.where(~empty, None)
    result = pd.DataFrame(out)
    if dataset == "clients":
        result["tier"] = result["tier"].map(lambda t: TIER_LABELS.get(t, t))
    if dataset == "shipments":
        result["status"] = result["status"].fillna("posted")
    return result


def load(root: Path) -> dict[str, list[tuple[Path, pd.DataFrame]]]:
    """Every dataset's files in load (name) order, typed."""
    return {name: [(p, typed(read_raw(p), name)) for p in sorted((root / name).glob("*.csv"))]
            for name in GENERATED}


def concat(files: list[tuple[Path, pd.DataFrame]]) -> pd.DataFrame:
    return pd.concat([f for _, f in files], ignore_index=True)


def final_shipments(files: list[tuple[Path, pd.DataFrame]]) -> pd.DataFrame:
    """Last loaded version of each (doc_id, line_no) wins."""
    return concat(files).drop_duplicates(["doc_id", "line_no"], keep="last")


def statuses_at(active: list[bool]) -> str:
    """metrics §2 for one client at the last month of its activity list (plain loops)."""
    m = len(active) - 1
    months = [t for t, a in enumerate(active) if a]
    if not months:
        return "potential"
    first, last = months[0], max(t for t in months if t <= m)
    if m - first < 3:
        return "new"
    for r in (m, m - 1):
        if r > first and active[r] and not any(active[max(0, r - 3):r]):
            return "returned"
    recent = sum(active[max(0, m - 2): m + 1])
    if recent >= 2:
        return "stabilized"
    if recent == 1:
        return "unstabilized"
    return "dormant" if m - last > 12 else "lost"


# --------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple[Path, GenerationSummary]:
    root = tmp_path_factory.mktemp("landing")
    return root, generate(root, **SMALL)


@pytest.fixture(scope="module")
def data(generated) -> dict[str, list[tuple[Path, pd.DataFrame]]]:
    return load(generated[0])


def relative_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.csv"))}


# --------------------------------------------------------------------------- tests

def test_same_seed_gives_same_bytes(generated, tmp_path):
    root, _ = generated
    again = generate(tmp_path / "again", **SMALL)
    assert relative_bytes(tmp_path / "again") == relative_bytes(root)
    assert again.row_counts == generated[1].row_counts
    other = generate(tmp_path / "other", **{**SMALL, "seed": 8})
    assert relative_bytes(tmp_path / "other") != relative_bytes(root)
    assert other.first_month == again.first_month == "2024-03"


def test_rewrite_replaces_old_files(tmp_path):
    generate(tmp_path, **{**SMALL, "end_month": "2025-09"})
    generate(tmp_path, **SMALL)
    months = sorted(p.name for p in (tmp_path / "shipments").glob("*.csv"))
    assert months[-1] == "shipments_2025-06_corrections.csv"
    assert not any("2025-09" in name for name in months)


def test_every_dataset_has_files_with_the_contract_columns(generated, data):
    root, summary = generated
    for name, dataset in GENERATED.items():
        files = sorted((root / name).glob("*.csv"))
        assert files, f"no {name} files"
        for path in files:
            raw = read_raw(path)
            assert list(raw.columns) == list(dataset.column_names), path.name
            assert len(raw) > 0, path.name
        frame = concat(data[name])
        for column in dataset.required:
            assert frame[column].notna().all(), f"{name}.{column} has empty required values"
    assert {p.relative_to(root).parts[0] for p in summary.files} == set(GENERATED)


def test_summary_counts_match_the_files(generated, data):
    _, summary = generated
    for name in GENERATED:
        if name == "shipments":
            continue
        assert summary.row_counts[name] == len(concat(data[name])), name
    assert summary.row_counts["shipments"] == len(final_shipments(data["shipments"]))
    assert summary.correction_rows == len(data["shipments"][-1][1])
    assert (summary.first_month, summary.last_month) == ("2024-03", "2025-06")
    assert summary.row_counts["products"] == 40


def test_keys_are_unique_except_the_corrections(data):
    for name, dataset in GENERATED.items():
        for path, frame in data[name]:
            assert not frame.duplicated(list(dataset.key)).any(), f"duplicate keys in {path.name}"
        if name != "shipments":
            assert not concat(data[name]).duplicated(list(dataset.key)).any(), name

    files = data["shipments"]
    corrections_path, corrections = files[-1]
    assert corrections_path.name.endswith("_corrections.csv")
    monthly = concat(files[:-1])
    assert not monthly.duplicated(["doc_id", "line_no"]).any()
    # Every corrected line was sent before, in a file that sorts (= loads) earlier.
    sent = monthly.set_index(["doc_id", "line_no"])
    keys = list(zip(corrections["doc_id"], corrections["line_no"], strict=True))
    assert set(keys) <= set(sent.index)
    before = sent.loc[keys]
    changed = ((before["qty"].to_numpy() != corrections["qty"].to_numpy())
               | (before["status"].to_numpy() != corrections["status"].to_numpy()))
    assert changed.all()
    assert (corrections["updated_at"].to_numpy() > before["updated_at"].to_numpy()).all()
    latest_month = corrections["doc_date"].max().strftime("%Y-%m")
    assert f"shipments_{latest_month}.csv" < corrections_path.name
    assert [p.name for p, _ in files] == sorted(p.name for p, _ in files)


def test_facts_reference_known_clients_points_skus_and_reps(data):
    clients = concat(data["clients"])
    points = concat(data["trade_points"])
    managers = concat(data["managers"])
    skus = set(concat(data["products"])["sku"])
    staff = set(managers["manager_id"])
    shipments = concat(data["shipments"])
    assert set(shipments["client_id"]) <= set(clients["client_id"])
    assert set(shipments["point_id"]) <= set(points["point_id"])
    assert set(shipments["sku"]) <= skus
    assert set(shipments["manager_id"].dropna()) <= staff
    assert set(clients["manager_id"]) <= staff
    assert set(points["rep_id"]) <= staff
    for name in ("visit_plan", "visits"):
        frame = concat(data[name])
        assert set(frame["point_id"]) <= set(points["point_id"]), name
        assert set(frame["rep_id"]) <= staff, name
    assert set(concat(data["rep_costs"])["rep_id"]) <= staff
    assert set(managers["role"]) == {"farmer", "hunter"}

    # The point delivered to belongs to that client in the list in force that month.
    snaps = np.sort(points["snapshot_date"].unique())
    month_end = shipments["doc_date"] + pd.offsets.MonthEnd(0)
    shipments["snap"] = snaps[np.searchsorted(snaps, month_end.to_numpy(), side="right") - 1]
    asof = shipments.merge(points, left_on=["point_id", "snap"], right_on=["point_id", "snapshot_date"],
                           suffixes=("", "_list"))
    assert len(asof) == len(shipments)
    assert (asof["client_id"] == asof["client_id_list"]).all()
    assert asof["active"].all()

    # A plan names the rep assigned to the point in the list in force.
    plan = concat(data["visit_plan"])
    plan["snap"] = snaps[np.searchsorted(snaps, (plan["plan_date"] + pd.offsets.MonthEnd(0)).to_numpy(),
                                         side="right") - 1]
    planned = plan.merge(points, left_on=["point_id", "snap"], right_on=["point_id", "snapshot_date"],
                         suffixes=("", "_list"))
    assert (planned["rep_id"] == planned["rep_id_list"]).all()


def test_some_files_are_1c_exports(generated, data):
    root, _ = generated
    forms = {}
    for path in sorted(root.rglob("*.csv")):
        text, encoding = decode(path)
        header = text.splitlines()[0]
        forms[path.relative_to(root)] = (encoding, ";" in header, header)
    one_c = [p for p, (_, semi, header) in forms.items() if semi and header.startswith(" ")]
    plain = [p for p, (enc, semi, _) in forms.items() if enc == "utf-8" and not semi]
    assert {p.parts[0] for p in one_c} >= {"shipments", "clients", "products", "managers", "rep_costs"}
    # Files with Cyrillic text are Windows-1251 (shipments carry none: ASCII either way).
    assert all(forms[p][0] == "cp1251" for p in one_c if p.parts[0] in ("clients", "products", "managers"))
    assert plain and any(p.parts[0] == "shipments" for p in plain)
    assert any(p.parts[0] == "clients" for p in plain)

    products = root / "products" / "products.csv"
    with pytest.raises(UnicodeDecodeError):
        products.read_bytes().decode("utf-8")
    text = products.read_bytes().decode("cp1251")
    assert "Чай" in text and '""' in text  # Cyrillic, and quotes inside quoted names
    header = text.splitlines()[0]
    assert header.startswith(" ") and header != header.lower() and " ; " in header
    shipment_1c = next(p for p in one_c if p.parts[0] == "shipments")
    body = (root / shipment_1c).read_bytes().decode("cp1251")
    line = body.splitlines()[1]
    assert "\r\n" in body
    assert any(len(cell) == 10 and cell[2] == "." and cell[5] == "." for cell in line.split(";"))
    assert any("," in cell for cell in line.split(";"))  # decimal comma
    tiers = set(concat(data["clients"])["tier"])
    assert tiers == {"vip", "key", "regular"}


def test_vocabulary_fits_windows_1251():
    words = [*names.TERRITORIES, *names.STREETS, *names.ADJECTIVES, *names.NOUNS, *names.SURNAMES,
             *names.MALE_NAMES, *names.FEMALE_NAMES, *names.PATRONYMICS, "№",
             *itertools.chain.from_iterable(b + lines for b, lines in names.CATALOGUE.values()),
             *itertools.chain.from_iterable(names.POINT_KINDS.values())]
    for word in words:
        word.encode("cp1251")


def test_lifecycle_mix_shows_every_status_in_the_last_month(generated, data):
    _, summary = generated
    final = final_shipments(data["shipments"])
    posted = final[final["status"] == "posted"]
    month = posted["doc_date"].dt.to_period("M")
    months = pd.period_range(end=SMALL["end_month"], periods=SMALL["months"], freq="M")
    net = posted.groupby([posted["client_id"], month])["revenue"].sum().unstack(fill_value=0)
    clients = sorted(concat(data["clients"])["client_id"].unique())
    active = net.reindex(index=clients, columns=months, fill_value=0) > 0

    found = {statuses_at(list(row)) for row in active.to_numpy()}
    assert found == STATUSES
    assert {s for s, n in summary.end_month_statuses.items() if n} == STATUSES

    def has_return(row):
        seen = [t for t, a in enumerate(row) if a]
        return any(b - a > 3 for a, b in zip(seen, seen[1:], strict=False))  # neighbours: one shorter

    assert any(has_return(list(row)) for row in active.to_numpy())
    assert (~active.any(axis=1)).any()  # listed, never buying
    first_active = active.to_numpy().argmax(axis=1)[active.any(axis=1).to_numpy()]
    assert (first_active >= 3).any()  # late starters


def test_reference_lists_change_between_snapshots(data):
    clients = concat(data["clients"])
    points = concat(data["trade_points"])
    managers = concat(data["managers"])
    assert clients["snapshot_date"].nunique() >= 3
    owners = clients.pivot(index="client_id", columns="snapshot_date", values="manager_id")
    tiers = clients.pivot(index="client_id", columns="snapshot_date", values="tier")
    assert (owners.nunique(axis=1) > 1).any()
    assert (tiers.nunique(axis=1) > 1).any()
    # late clients join later lists
    assert clients.groupby("snapshot_date")["client_id"].size().is_monotonic_increasing
    first_list = points[points["snapshot_date"] == points["snapshot_date"].min()]
    last_list = points[points["snapshot_date"] == points["snapshot_date"].max()]
    assert first_list["active"].all() and not last_list["active"].all()
    assert last_list["client_id"].isna().any()  # census points nobody buys for
    assert (points.groupby("point_id")["client_id"].nunique(dropna=False) > 1).any()  # census -> client
    per_client = last_list.dropna(subset=["client_id"]).groupby("client_id").size()
    assert per_client.max() >= 3
    assert set(managers["role"]) == {"farmer", "hunter"} and not managers["active"].all()
    hunters = set(managers.loc[managers["role"] == "hunter", "manager_id"])
    assert clients["manager_id"].isin(hunters).any()


def test_shipments_carry_erp_noise(data):
    final = final_shipments(data["shipments"])
    returns = final[final["qty"] < 0]
    assert len(returns) and (returns["revenue"] < 0).all()
    assert (final["status"] == "cancelled").any()
    assert final["cost"].isna().any()
    assert final.groupby("doc_id").size().max() >= 3
    assert (final.groupby("doc_id")["sku"].nunique() > 1).mean() > 0.5


def test_visits_follow_plans_and_orders_follow_visits(data):
    plan = concat(data["visit_plan"])
    visits = concat(data["visits"])
    assert 0.8 < len(visits) / len(plan) < 1.0
    assert set(visits["result"]) == {"order", "no_order", "closed", "refused"}
    final = final_shipments(data["shipments"])
    sold = final[(final["status"] == "posted") & (final["qty"] > 0)]
    shipped = set(zip(sold["point_id"], sold["doc_date"], strict=True))
    ordered = visits[visits["result"] == "order"]
    assert np.mean([k in shipped for k in zip(ordered["point_id"], ordered["visit_date"], strict=True)]) > 0.95
    skus = sold.groupby(["point_id", "doc_date"])["sku"].nunique()
    effective = set(skus[skus >= 3].index)
    planned = set(zip(plan["point_id"], plan["plan_date"], strict=True))
    assert len(effective & planned) > 10
    costs = concat(data["rep_costs"])
    assert (costs["salary"] > 0).all() and costs["fuel"].isna().any() and costs["fuel"].notna().any()


def test_default_end_month_is_the_last_complete_month():
    assert default_end_month(date(2026, 11, 22)) == "2026-10"
    assert default_end_month(date(2026, 1, 1)) == "2025-12"


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError):
        generate(None)
    with pytest.raises(ValueError):
        generate(tmp_path, months=3)
    with pytest.raises(ValueError):
        generate(tmp_path, clients=5)
    with pytest.raises(ValueError):
        generate(None, "mysql://localhost/source", **SMALL)


# --------------------------------------------------------------------------- SQL mode

@pytest.fixture(scope="module")
def source_url(tmp_path_factory):
    from clientbase.warehouse import embedded
    from clientbase.warehouse.connection import with_database

    home = Path(tmp_path_factory.mktemp("pg"))
    url = embedded.ensure_running(home, ("clientbase", "source"))
    yield with_database(url, "source")
    embedded.stop(home)


def test_sql_mode_writes_the_same_data(source_url, generated, data):
    _, file_summary = generated
    for _ in range(2):  # the second run replaces, it does not append
        summary = generate(None, source_url, **SMALL)
    assert summary.row_counts == file_summary.row_counts and not summary.files
    with psycopg.connect(source_url) as conn:
        for name, dataset in GENERATED.items():
            assert conn.execute(f'select count(*) from "{name}"').fetchone()[0] == summary.row_counts[name]
            columns = [r[0] for r in conn.execute(
                "select column_name from information_schema.columns where table_name = %s "
                "order by ordinal_position", (name,))]
            assert columns == list(dataset.column_names)
        rows = conn.execute("select doc_id, line_no, qty, revenue, status, updated_at from shipments").fetchall()
        revenue = conn.execute("select sum(revenue) from shipments where status = 'posted'").fetchone()[0]
    db = pd.DataFrame(rows, columns=["doc_id", "line_no", "qty", "revenue", "status", "updated_at"])
    final = final_shipments(data["shipments"])
    assert float(revenue) == pytest.approx(final.loc[final["status"] == "posted", "revenue"].sum(), abs=0.01)
    corrections = data["shipments"][-1][1]
    merged = corrections.merge(db, on=["doc_id", "line_no"], suffixes=("", "_db"))
    assert len(merged) == len(corrections)
    assert (merged["qty"] == merged["qty_db"].astype(float)).all()
    assert (merged["status"] == merged["status_db"]).all()
    # The ERP's local (Moscow) change time, the watermark incremental extraction follows.
    local = merged["updated_at_db"].dt.tz_convert("+03:00").dt.tz_localize(None)
    assert (local == merged["updated_at"]).all()
