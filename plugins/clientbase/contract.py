"""The input contract of ``spec/sources.md`` as data: datasets, columns, types, keys.

One definition drives the raw DDL, the file reader, the SQL extractor and the row
validation, so a column added to the contract is added everywhere at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Logical type -> PostgreSQL type of the typed ``raw`` table.
PG_TYPES = {
    "text": "text",
    "int": "bigint",
    "numeric": "numeric",
    "date": "date",
    "bool": "boolean",
    "timestamp": "timestamptz",
    "month": "date",  # YYYY-MM or any date in the month, stored as the month's first day
}

ERP = "erp"
SFA = "sfa"


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool = False

    @property
    def pg_type(self) -> str:
        return PG_TYPES[self.type]


@dataclass(frozen=True)
class Reference:
    """A column that must name a key known to some reference dataset (else quarantine)."""

    column: str
    dataset: str
    key: str


@dataclass(frozen=True)
class Dataset:
    name: str
    source: str  # ERP or SFA
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    references: tuple[Reference, ...] = field(default=())
    is_reference: bool = False  # a reference list (loaded before the facts)
    optional: bool = False
    date_columns_in_range: tuple[str, ...] = field(default=())
    watermark: str | None = None  # SQL mode: incremental extraction by this column

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"{self.name} has no column {name!r}")


def _cols(*spec: str) -> tuple[Column, ...]:
    """``"name:type"`` with a trailing ``!`` for required, e.g. ``"doc_id:text!"``."""
    out = []
    for item in spec:
        name, typ = item.split(":")
        out.append(Column(name, typ.rstrip("!"), typ.endswith("!")))
    return tuple(out)


MANAGERS = Dataset(
    "managers", ERP,
    _cols("manager_id:text!", "name:text!", "role:text!", "team:text", "active:bool"),
    key=("manager_id",), is_reference=True,
)
PRODUCTS = Dataset(
    "products", ERP,
    _cols("sku:text!", "name:text!", "category:text!", "brand:text"),
    key=("sku",), is_reference=True,
)
CLIENTS = Dataset(
    "clients", ERP,
    _cols("client_id:text!", "name:text!", "tier:text", "channel:text", "inn:text",
          "manager_id:text!", "snapshot_date:date!"),
    key=("client_id", "snapshot_date"), is_reference=True,
    date_columns_in_range=("snapshot_date",),
)
TRADE_POINTS = Dataset(
    "trade_points", SFA,
    _cols("point_id:text!", "client_id:text", "name:text", "address:text", "territory:text!",
          "channel:text", "rep_id:text!", "active:bool", "snapshot_date:date!"),
    key=("point_id", "snapshot_date"), is_reference=True,
    date_columns_in_range=("snapshot_date",),
)
SHIPMENTS = Dataset(
    "shipments", ERP,
    _cols("doc_id:text!", "line_no:int!", "doc_date:date!", "client_id:text!", "point_id:text!",
          "sku:text!", "qty:numeric!", "revenue:numeric!", "cost:numeric", "manager_id:text",
          "status:text", "updated_at:timestamp"),
    key=("doc_id", "line_no"),
    references=(
        Reference("client_id", "clients", "client_id"),
        Reference("point_id", "trade_points", "point_id"),
        Reference("sku", "products", "sku"),
    ),
    date_columns_in_range=("doc_date",),
    watermark="updated_at",
)
VISIT_PLAN = Dataset(
    "visit_plan", SFA,
    _cols("plan_date:date!", "rep_id:text!", "point_id:text!"),
    key=("plan_date", "rep_id", "point_id"),
    references=(
        Reference("rep_id", "managers", "manager_id"),
        Reference("point_id", "trade_points", "point_id"),
    ),
    date_columns_in_range=("plan_date",),
)
VISITS = Dataset(
    "visits", SFA,
    _cols("visit_id:text!", "visit_date:date!", "rep_id:text!", "point_id:text!", "result:text"),
    key=("visit_id",),
    references=(
        Reference("rep_id", "managers", "manager_id"),
        Reference("point_id", "trade_points", "point_id"),
    ),
    date_columns_in_range=("visit_date",),
)
REP_COSTS = Dataset(
    "rep_costs", ERP,
    _cols("month:month!", "rep_id:text!", "salary:numeric!", "car:numeric", "fuel:numeric"),
    key=("month", "rep_id"),
    references=(Reference("rep_id", "managers", "manager_id"),),
    optional=True,
    date_columns_in_range=("month",),
)

# Load order matters: reference lists first, so facts can be checked against them.
DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (MANAGERS, PRODUCTS, CLIENTS, TRADE_POINTS, SHIPMENTS, VISIT_PLAN, VISITS, REP_COSTS)
}

# What each extraction DAG brings: its facts plus the reference lists they are checked against.
SHIPMENTS_FLOW = ("managers", "products", "clients", "trade_points", "shipments")
VISITS_FLOW = ("managers", "clients", "trade_points", "visit_plan", "visits", "rep_costs")

# The latest date a source row may carry is today + this many days (sources.md). The
# earliest is a setting, ``min_source_date`` (CLIENTBASE_MIN_SOURCE_DATE, settings.py).
MAX_DAYS_AHEAD = 31

# Lineage columns every raw table carries.
BATCH_COLUMN = "_batch_id"
LINE_COLUMN = "_line_no"
