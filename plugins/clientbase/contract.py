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
class NotBefore:
    """A row rule: date ``column`` may not be earlier than date ``other`` of the same row.

    A type rule sees one column; some contracts tie two together (an invoice's payment
    term cannot end before the invoice), and a row breaking that would make every
    receivables figure built on it wrong, so it is quarantined like a type error.
    """

    column: str
    other: str
    why: str  # the end of the quarantine message: what the rule protects


@dataclass(frozen=True)
class NotNegative:
    """A row rule: ``column`` may not be below zero (where the contract gives no meaning to a sign)."""

    column: str
    why: str


RowRule = NotBefore | NotNegative


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
    row_rules: tuple[RowRule, ...] = field(default=())  # checked after the type rules

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
    _cols("sku:text!", "name:text!", "category:text!", "brand:text", "mml:bool"),
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
INVOICES = Dataset(
    "invoices", ERP,
    _cols("doc_id:text!", "client_id:text!", "doc_date:date!", "due_date:date!", "amount:numeric!",
          "status:text", "updated_at:timestamp"),
    key=("doc_id",),
    references=(Reference("client_id", "clients", "client_id"),),
    optional=True,
    # due_date is not capped at today + 31 days: a long payment term is normal; it is held
    # to doc_date instead (row rule below), which also catches 1C's empty date
    date_columns_in_range=("doc_date",),
    watermark="updated_at",
    row_rules=(
        NotBefore("due_date", "doc_date",
                  "a payment term cannot end before the document it is for: fix the due date in the ERP "
                  "and export the invoice again"),
        NotNegative("amount",
                    "an invoice is what the client owes; a credit or a reversal is a payment with a "
                    "negative amount: fix the invoice in the ERP and export it again"),
    ),
)
PAYMENTS = Dataset(
    "payments", ERP,
    _cols("payment_id:text!", "doc_id:text!", "client_id:text!", "payment_date:date!", "amount:numeric!",
          "updated_at:timestamp"),
    key=("payment_id", "doc_id"),
    references=(
        Reference("doc_id", "invoices", "doc_id"),
        Reference("client_id", "clients", "client_id"),
    ),
    optional=True,
    date_columns_in_range=("payment_date",),
    watermark="updated_at",
)
RETAIL_AUDITS = Dataset(
    "retail_audits", SFA,
    _cols("audit_id:text!", "audit_date:date!", "point_id:text!", "rep_id:text!", "sku:text!",
          "present:bool!", "planogram_ok:bool", "updated_at:timestamp"),
    key=("audit_id", "sku"),
    references=(
        Reference("point_id", "trade_points", "point_id"),
        Reference("sku", "products", "sku"),
        Reference("rep_id", "managers", "manager_id"),
    ),
    optional=True,
    date_columns_in_range=("audit_date",),
    watermark="updated_at",
)

# Load order matters: reference lists first, so facts can be checked against them (and
# invoices before the payments that name them).
DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (MANAGERS, PRODUCTS, CLIENTS, TRADE_POINTS, SHIPMENTS, VISIT_PLAN, VISITS, REP_COSTS,
              INVOICES, PAYMENTS, RETAIL_AUDITS)
}

# What each extraction DAG brings: its facts plus the reference lists they are checked against.
SHIPMENTS_FLOW = ("managers", "products", "clients", "trade_points", "shipments", "invoices", "payments")
VISITS_FLOW = ("managers", "products", "clients", "trade_points", "visit_plan", "visits", "rep_costs",
               "retail_audits")

# The latest date a source row may carry is today + this many days (sources.md). The
# earliest is a setting, ``min_source_date`` (CLIENTBASE_MIN_SOURCE_DATE, settings.py).
MAX_DAYS_AHEAD = 31

# Lineage columns every raw table carries.
BATCH_COLUMN = "_batch_id"
LINE_COLUMN = "_line_no"
