"""Great Expectations suites: the data checks of the publication gate.

After dbt has built the staging views and the ``reporting_stage`` candidates, every
suite in ``expectations/*.json`` is run against its relation; a month is published only
when no *blocking* expectation fails.
Warnings are recorded and reported but never stop publication.

Why suites are JSON files and not a GX project: the pipeline must not depend on a
``gx/`` folder (its stores, its checkpoints) living in the repo or on the worker.
The JSON stays close to GX's own ``ExpectationSuite`` format (``name``, ``expectations``
with ``type``/``kwargs``/``meta``/``severity``) plus our fields: ``relation`` (which
table or view to validate, since dbt's names are not final) and ``meta.severity``
(``blocking``/``warning``, the gate's vocabulary). At run time the suites are loaded
into an *ephemeral* GX context that lives only for the call.

Run-time values use GX's own suite parameters: ``{"$PARAMETER": "max_date"}`` in
kwargs is resolved from the ``params`` given to :func:`validate`. GX has no parameters
inside SQL text, so ``{$name}`` in an ``unexpected_rows_query`` (or in the suite's
``where``) is replaced here by the SQL literal of the parameter before GX sees the query;
a suite's ``parameters`` give defaults (e.g. the volume check's tolerance). A suite's
``columns`` (name -> PostgreSQL type) becomes two generated checks: the columns exist,
and they have those types (GX's own type expectations cannot read the types of a query
asset, so the types are asked of PostgreSQL with ``pg_typeof``).

GX takes seconds to import, so it is imported inside the functions that need it:
loading suites, the gate's bookkeeping and storing results stay fast.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
import math
import re
import time
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable, Mapping

log = logging.getLogger(__name__)

SOURCE = "gx"
BLOCKING = "blocking"
WARNING = "warning"
# Our severity -> GX's native ``Expectation.severity`` (FailureSeverity values, GX >= 1.5).
GX_SEVERITY = {BLOCKING: "critical", WARNING: "warning"}
PARAMETER_KEY = "$PARAMETER"  # GX suite-parameter placeholder: {"$PARAMETER": "max_date"}
WHERE_PARAM = "where"  # reserved in params: restricts the validated rows, not a suite parameter
EXAMPLES = 5  # unexpected values / rows kept per failed check
DATASOURCE = "warehouse"
UNEXPECTED_ROWS = "unexpected_rows_expectation"

_SUITE_KEYS = {"name", "relation", "expectations", "meta", "notes", "id", "columns", "where",
               "parameters"}
# ``{$months}`` in SQL text: replaced by the SQL literal of a run parameter (see sql_literal)
_SQL_PARAMETER = re.compile(r"\{\$([A-Za-z_][A-Za-z0-9_]*)\}")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PG_TYPE = re.compile(r"^[a-z][a-z0-9 _]*(\[\])?$")
COLUMNS_LABEL = "columns"
COLUMN_TYPES_LABEL = "column_types"
_EXPECTATION_KEYS = {"type", "kwargs", "meta", "severity", "description", "notes", "id"}
_IDENT = r"[A-Za-z_][A-Za-z0-9_$]*"
_RELATION = re.compile(rf"^{_IDENT}(\.{_IDENT})?$")
_OBSERVED_KEYS = (
    "element_count",
    "unexpected_count",
    "unexpected_percent",
    "missing_count",
    "observed_value",
    "partial_unexpected_list",
    "partial_unexpected_counts",
)


class SuiteError(ValueError):
    """A suite file (or a suite given in code) is malformed; the message names file and field."""


class RelationMissing(RuntimeError):
    """The table or view a suite validates does not exist (dbt has not built it, or renamed it)."""


@dataclass(frozen=True)
class ExpectationSpec:
    """One expectation of a suite, as written in the JSON file."""

    type: str
    kwargs: dict
    severity: str  # BLOCKING or WARNING
    meta: dict = field(default_factory=dict)
    description: str | None = None

    @property
    def check_name(self) -> str:
        """A readable, stable name for reports and ``audit.check_results``.

        ``type(columns)`` from the kwargs, or ``type(label)`` when ``meta.label`` is set
        (needed for SQL expectations, whose kwargs are a query).
        """
        label = self.meta.get("label")
        if label is None:
            if "column_list" in self.kwargs:
                label = ", ".join(self.kwargs["column_list"])
            elif "column_A" in self.kwargs:
                label = f"{self.kwargs['column_A']}, {self.kwargs['column_B']}"
            else:
                label = self.kwargs.get("column", "")
        return f"{self.type}({label})"

    @property
    def parameters(self) -> set[str]:
        """Names of the suite parameters this expectation needs at run time."""
        names = {
            value[PARAMETER_KEY]
            for value in self.kwargs.values()
            if isinstance(value, dict) and PARAMETER_KEY in value
        }
        query = self.kwargs.get("unexpected_rows_query")
        if isinstance(query, str):
            names |= set(_SQL_PARAMETER.findall(query))
        return names

    def resolved(self, params: Mapping[str, Any]) -> ExpectationSpec:
        """This expectation with ``{$name}`` in its SQL replaced by SQL literals of ``params``."""
        query = self.kwargs.get("unexpected_rows_query")
        if not isinstance(query, str) or not _SQL_PARAMETER.search(query):
            return self
        return replace(self, kwargs={**self.kwargs,
                                     "unexpected_rows_query": substitute_sql(query, params)})

    def gx_config(self) -> dict:
        """Keyword arguments for GX's ``ExpectationConfiguration``."""
        config = {
            "type": self.type,
            "kwargs": copy.deepcopy(self.kwargs),  # GX resolves parameters in place
            "meta": {**copy.deepcopy(self.meta), "severity": self.severity},
            "severity": GX_SEVERITY[self.severity],
        }
        if self.description:
            config["description"] = self.description
        return config


@dataclass(frozen=True)
class SuiteSpec:
    """A suite: which relation to validate and what to expect of it."""

    name: str
    relation: str  # "schema.table" (a table or a view)
    expectations: tuple[ExpectationSpec, ...]
    meta: dict = field(default_factory=dict)
    path: Path | None = None
    where: str | None = None  # the suite's own row filter, e.g. "month = any({$months})"
    defaults: dict = field(default_factory=dict)  # the suite's "parameters": default values

    @property
    def parameters(self) -> set[str]:
        """Run-time parameters the suite needs and does not default itself."""
        used = set().union(*(e.parameters for e in self.expectations))
        if self.where:
            used |= set(_SQL_PARAMETER.findall(self.where))
        return used - set(self.defaults)

    def with_severity(self, label: str, severity: str) -> SuiteSpec:
        """The same suite with the severity of one check changed (``meta.label`` or check name).

        For a run-time option such as "the volume check blocks": the suite file keeps the
        default, the caller decides.
        """
        if severity not in GX_SEVERITY:
            raise ValueError(f"severity must be one of {sorted(GX_SEVERITY)}, got {severity!r}")
        matched = [e for e in self.expectations if label in (e.meta.get("label"), e.check_name)]
        if not matched:
            raise ValueError(f"suite {self.name} has no check {label!r}; its checks: "
                             f"{[e.check_name for e in self.expectations]}")
        return replace(self, expectations=tuple(
            replace(e, severity=severity) if e in matched else e for e in self.expectations))

    def with_relation(self, relation: str) -> SuiteSpec:
        """The same suite pointed at another relation (dbt renamed a view; tests)."""
        _check_relation(relation, self.path or self.name)
        return replace(self, relation=relation)


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one expectation, in the shape ``audit.check_results`` stores."""

    suite: str
    check_name: str
    severity: str  # BLOCKING or WARNING
    success: bool
    observed: dict = field(default_factory=dict)
    source: str = SOURCE
    relation: str = ""
    kwargs: dict = field(default_factory=dict)  # as evaluated: parameters resolved

    @property
    def blocks_publication(self) -> bool:
        return self.severity == BLOCKING and not self.success

    def details(self) -> dict:
        """The ``details`` jsonb: what was checked where, and what was observed."""
        return {"relation": self.relation, "kwargs": self.kwargs, **self.observed}


# --------------------------------------------------------------------------- loading


def load_suites(directory: Path) -> list[SuiteSpec]:
    """Every ``*.json`` suite in ``directory``, in file-name order.

    Structure is checked here, without GX, so a typo fails at once with the file
    named; whether GX knows the expectation type and its kwargs is checked by
    :func:`validate` when the suite is handed to GX.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise SuiteError(f"no suite directory at {directory}")
    suites = [parse_suite(json.loads(path.read_text(encoding="utf-8")), path)
              for path in sorted(directory.glob("*.json"))]
    _check_unique_names(suites)
    log.info("loaded %d expectation suites from %s: %s", len(suites), directory,
             ", ".join(s.name for s in suites))
    return suites


def parse_suite(data: Any, origin: Path | str = "<suite>") -> SuiteSpec:
    """A :class:`SuiteSpec` from the JSON structure of one suite file."""
    if not isinstance(data, dict):
        raise SuiteError(f"{origin}: a suite must be a JSON object")
    unknown = set(data) - _SUITE_KEYS
    if unknown:
        raise SuiteError(f"{origin}: unknown top-level field(s) {sorted(unknown)}; "
                         f"allowed: {sorted(_SUITE_KEYS)}")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise SuiteError(f"{origin}: 'name' must be a non-empty string")
    relation = data.get("relation")
    _check_relation(relation, origin)
    items = data.get("expectations")
    if not isinstance(items, list) or not items:
        raise SuiteError(f"{origin}: 'expectations' must be a non-empty list")
    expectations = _column_checks(data.get("columns"), origin) + tuple(
        _parse_expectation(item, f"{origin}: expectations[{i}]") for i, item in enumerate(items))
    where = data.get("where")
    if where is not None and (not isinstance(where, str) or not where.strip()):
        raise SuiteError(f"{origin}: 'where' must be one SQL condition, e.g. "
                         "\"month = any({$months})\"")
    defaults = data.get("parameters") or {}
    if not isinstance(defaults, dict) or not all(map(_plain_parameter, defaults.values())):
        raise SuiteError(f"{origin}: 'parameters' must map names to numbers, strings or "
                         "non-empty lists of them (defaults of run-time parameters)")
    names = [e.check_name for e in expectations]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SuiteError(f"{origin}: check names must be unique within a suite, repeated: "
                         f"{duplicates} (set meta.label to tell them apart)")
    meta = data.get("meta") or {}
    if not isinstance(meta, dict):
        raise SuiteError(f"{origin}: 'meta' must be an object")
    return SuiteSpec(name=name, relation=relation, expectations=expectations, meta=meta,
                     path=origin if isinstance(origin, Path) else None,
                     where=where, defaults=dict(defaults))


def _plain_parameter(value: Any) -> bool:
    if isinstance(value, list):
        return bool(value) and all(map(_plain_parameter, value))
    return isinstance(value, (int, float, str)) and not isinstance(value, bool)


def _column_checks(columns: Any, origin: Path | str) -> tuple[ExpectationSpec, ...]:
    """The checks a suite's ``columns`` declares: those columns exist, with those types.

    Both blocking: a renamed or retyped column breaks every consumer downstream. Extra
    columns are allowed (the BI contract: add columns freely, rename none). The types come
    from ``pg_typeof`` over the batch, left-joined to one row so an empty table is typed too.
    """
    if columns is None:
        return ()
    if not isinstance(columns, dict) or not columns:
        raise SuiteError(f"{origin}: 'columns' must map column names to PostgreSQL types, "
                         "e.g. {\"doc_id\": \"text\", \"line_no\": \"bigint\"}")
    for name, pg_type in columns.items():
        if not re.match(rf"^{_IDENT}$", name) or not isinstance(pg_type, str) \
                or not _PG_TYPE.match(pg_type):
            raise SuiteError(f"{origin}: columns: {name!r}: {pg_type!r} is not a column name "
                             "and a PostgreSQL type as pg_typeof spells it (e.g. 'bigint', "
                             "'timestamp with time zone')")
    expected = ", ".join(f"('{name}', '{pg_type}')" for name, pg_type in columns.items())
    actual = ", ".join(f"('{name}', pg_typeof(typed.{name})::text)" for name in columns)
    query = (
        "select expected.column_name, expected.expected_type, actual.actual_type "
        f"from (values {expected}) as expected (column_name, expected_type) "
        "left join ("
        f"select actual_types.* from (select 1) as one "
        f"left join (select * from {{batch}} as batch_rows limit 1) as typed on true "
        f"cross join lateral (values {actual}) as actual_types (column_name, actual_type)"
        ") as actual on actual.column_name = expected.column_name "
        "where actual.actual_type is distinct from expected.expected_type"
    )
    why = "declared in the suite's 'columns'; a renamed or retyped column breaks its consumers"
    return (
        ExpectationSpec(
            type="expect_table_columns_to_match_set",
            kwargs={"column_set": list(columns), "exact_match": False},
            severity=BLOCKING, meta={"label": COLUMNS_LABEL, "why": why},
            description="every declared column is present (extra columns are allowed)"),
        ExpectationSpec(
            type=UNEXPECTED_ROWS, kwargs={"unexpected_rows_query": query},
            severity=BLOCKING, meta={"label": COLUMN_TYPES_LABEL, "why": why},
            description="every declared column has its declared PostgreSQL type"),
    )


def sql_literal(value: Any) -> str:
    """A run parameter as SQL text: dates (and ISO date strings) as ``date '…'``, lists as arrays.

    Only for values the pipeline itself passes (months, thresholds); strings are quoted
    with ``'`` doubled, so a value cannot end the literal.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, Decimal)):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"parameter value {value!r} is not a finite number")
        return repr(value) if not isinstance(value, Decimal) else str(value)
    if isinstance(value, dt.datetime):
        return f"timestamptz '{value.isoformat()}'"
    if isinstance(value, dt.date):
        return f"date '{value.isoformat()}'"
    if isinstance(value, str):
        if _ISO_DATE.match(value):
            return f"date '{value}'"
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, (list, tuple)):
        if not value:
            raise ValueError("an empty list has no SQL array type; pass at least one value")
        return "array[" + ", ".join(sql_literal(v) for v in value) + "]"
    raise ValueError(f"parameter value {value!r} ({type(value).__name__}) has no SQL literal")


def substitute_sql(text: str, params: Mapping[str, Any]) -> str:
    """``text`` with every ``{$name}`` replaced by ``sql_literal(params[name])``."""
    missing = sorted({n for n in _SQL_PARAMETER.findall(text) if n not in params})
    if missing:
        raise ValueError(f"SQL parameter(s) {missing} not given; pass them in params")
    return _SQL_PARAMETER.sub(lambda m: sql_literal(params[m.group(1)]), text)


def _parse_expectation(item: Any, where: str) -> ExpectationSpec:
    if not isinstance(item, dict):
        raise SuiteError(f"{where}: an expectation must be an object")
    unknown = set(item) - _EXPECTATION_KEYS
    if unknown:
        raise SuiteError(f"{where}: unknown field(s) {sorted(unknown)}; "
                         f"allowed: {sorted(_EXPECTATION_KEYS)}")
    kind = item.get("type")
    if not isinstance(kind, str) or not kind:
        raise SuiteError(f"{where}: 'type' must be a GX expectation type, e.g. "
                         "'expect_column_values_to_not_be_null'")
    kwargs = item.get("kwargs")
    if not isinstance(kwargs, dict):
        raise SuiteError(f"{where} ({kind}): 'kwargs' must be an object")
    meta = item.get("meta") or {}
    if not isinstance(meta, dict):
        raise SuiteError(f"{where} ({kind}): 'meta' must be an object")
    severity = _severity(meta.get("severity"), item.get("severity"), f"{where} ({kind})")
    if kind == UNEXPECTED_ROWS and "label" not in meta:
        raise SuiteError(f"{where} ({kind}): a SQL expectation needs meta.label, "
                         "a short name for reports")
    return ExpectationSpec(type=kind, kwargs=kwargs, severity=severity, meta=meta,
                           description=item.get("description"))


def _severity(ours: Any, native: Any, where: str) -> str:
    """Our ``meta.severity`` and GX's native ``severity`` must agree; either may be omitted.

    Both omitted means blocking, the safe side of a gate (and GX's own default, critical).
    """
    from_native = None
    if native is not None:
        matches = [k for k, v in GX_SEVERITY.items() if v == native]
        if not matches:
            raise SuiteError(f"{where}: severity {native!r} is not one of "
                             f"{sorted(GX_SEVERITY.values())}")
        from_native = matches[0]
    if ours is not None and ours not in GX_SEVERITY:
        raise SuiteError(f"{where}: meta.severity {ours!r} is not one of {sorted(GX_SEVERITY)}")
    if ours is not None and from_native is not None and ours != from_native:
        raise SuiteError(f"{where}: meta.severity {ours!r} contradicts severity {native!r} "
                         f"(blocking = critical, warning = warning)")
    return ours or from_native or BLOCKING


def _check_relation(relation: Any, origin: Path | str) -> None:
    if not isinstance(relation, str) or not _RELATION.match(relation):
        raise SuiteError(f"{origin}: 'relation' must be 'schema.table' (plain identifiers), "
                         f"got {relation!r}")


def _check_unique_names(suites: Iterable[SuiteSpec]) -> None:
    seen: dict[str, SuiteSpec] = {}
    for suite in suites:
        if suite.name in seen:
            raise SuiteError(f"suite name {suite.name!r} used twice "
                             f"({seen[suite.name].path or '?'} and {suite.path or '?'})")
        seen[suite.name] = suite


def required_parameters(suites: Iterable[SuiteSpec]) -> set[str]:
    """The run-time parameters (e.g. ``max_date``) the suites refer to."""
    return set().union(*(s.parameters for s in suites))


def blocking_failures(results: Iterable[CheckResult]) -> list[CheckResult]:
    """The results that stop publication (blocking and failed)."""
    return [r for r in results if r.blocks_publication]


# --------------------------------------------------------------------------- validation


def validate(
    url: str,
    suites: list[SuiteSpec],
    params: Mapping[str, Any],
    run_id: str,
    *,
    results_dir: Path | None = None,
) -> list[CheckResult]:
    """Run every suite against its relation; one :class:`CheckResult` per expectation.

    ``url`` is a ``postgresql://`` URL (converted to ``postgresql+psycopg2://`` for GX).
    ``params`` supplies the suite parameters (``max_date``: a date or ISO string) and,
    optionally, ``where``: an SQL condition restricting the validated rows, either one
    string for every suite or ``{suite name: condition}``.

    A failed expectation is a result, not an exception. Exceptions are for what makes
    the verdict meaningless: a missing parameter, a missing relation, a suite GX rejects.
    An expectation that errors while running (e.g. a column dbt renamed) comes back as
    failed with the error in ``observed["exception"]``, so a blocking one still blocks.

    With ``results_dir`` the GX validation results are also written there as JSON
    (``<results_dir>/validations/``), for :func:`build_data_docs`.
    """
    if not suites:
        return []
    _check_unique_names(suites)
    missing = required_parameters(suites) - set(params)
    if missing:
        raise ValueError(f"suite parameter(s) {sorted(missing)} not given; pass them in params "
                         f"(suites: {', '.join(s.name for s in suites)})")
    wheres = _where_by_suite(params.get(WHERE_PARAM), suites)
    suite_parameters = {k: _gx_parameter(v) for k, v in params.items() if k != WHERE_PARAM}
    _check_relations_exist(url, suites)

    from clientbase.warehouse.connection import sqlalchemy_url

    started = time.monotonic()
    _quiet_gx_logging()
    context = _ephemeral_context(results_dir)
    log.debug("GX context ready in %.1fs", time.monotonic() - started)
    datasource = context.data_sources.add_postgres(
        DATASOURCE, connection_string=sqlalchemy_url(url, "psycopg2")
    )
    try:
        results: list[CheckResult] = []
        for suite in suites:
            results.extend(_validate_suite(context, datasource, suite, wheres.get(suite.name),
                                           suite_parameters, run_id))
    finally:
        datasource.get_engine().dispose()  # no pooled connections outlive the call
    failed = [r for r in results if not r.success]
    log.info("GX run %s: %d checks, %d failed (%d blocking) in %.1fs", run_id, len(results),
             len(failed), len(blocking_failures(results)), time.monotonic() - started)
    return results


def _validate_suite(context, datasource, suite: SuiteSpec, where: str | None,
                    suite_parameters: dict, run_id: str) -> list[CheckResult]:
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.exceptions import GreatExpectationsError
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    suite_parameters = {**{k: _gx_parameter(v) for k, v in suite.defaults.items()},
                        **suite_parameters}
    conditions = [f"({substitute_sql(suite.where, suite_parameters)})"] if suite.where else []
    if where:
        conditions.append(f"({where})")
    where = " and ".join(conditions) or None
    # A query asset even for a whole relation: TableAsset's schema_name is deprecated since
    # GX 1.14 and the Postgres datasource offers no other way to name a schema.
    query = f"select * from {_quoted(suite.relation)}" + (f" where {where}" if where else "")
    asset = datasource.add_query_asset(name=suite.name, query=query)
    batch_definition = asset.add_batch_definition_whole_table("whole")
    gx_suite = context.suites.add(
        gx.ExpectationSuite(name=suite.name, meta={**suite.meta, "relation": suite.relation})
    )
    position: dict[str, int] = {}
    added = []
    for index, spec in enumerate(suite.expectations):
        try:
            config = spec.resolved(suite_parameters).gx_config()
            expectation = ExpectationConfiguration(**config).to_domain_obj()
        except (GreatExpectationsError, ValueError) as exc:
            raise SuiteError(f"{suite.path or suite.name}: {spec.check_name}: GX rejects it: "
                             f"{exc}") from exc
        expectation = gx_suite.add_expectation(expectation)
        position[expectation.id] = index
        added.append(expectation)
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=suite.name, data=batch_definition, suite=gx_suite)
    )
    started = time.monotonic()
    outcome = definition.run(
        expectation_parameters=suite_parameters,
        result_format={"result_format": "SUMMARY", "partial_unexpected_count": EXAMPLES},
        run_id=RunIdentifier(run_name=run_id),
    )
    log.info("suite %s on %s%s: %d/%d expectations passed in %.2fs", suite.name,
             suite.relation, f" where {where}" if where else "",
             outcome.statistics["successful_expectations"],
             outcome.statistics["evaluated_expectations"], time.monotonic() - started)

    results: list[CheckResult | None] = [None] * len(suite.expectations)
    for result in outcome.results:
        index = position[result.expectation_config.id]
        spec = suite.expectations[index]
        observed = _observed(result)
        if spec.type == UNEXPECTED_ROWS and not result.success and "exception" not in observed:
            observed["partial_unexpected_list"] = _jsonable(_unexpected_rows(
                batch_definition, added[index], suite_parameters))
        results[index] = CheckResult(
            suite=suite.name,
            check_name=spec.check_name,
            severity=spec.severity,
            success=bool(result.success),
            observed=observed,
            relation=suite.relation,
            kwargs=_jsonable(dict(result.expectation_config.kwargs)),
        )
        if not result.success:
            log.log(logging.WARNING if spec.severity == BLOCKING else logging.INFO,
                    "%s %s failed on %s: %s", spec.severity, spec.check_name, suite.relation,
                    {k: v for k, v in observed.items() if k != "partial_unexpected_counts"})
    unanswered = [suite.expectations[i].check_name for i, r in enumerate(results) if r is None]
    if unanswered:  # GX answers every expectation; if not, say so rather than pass silently
        raise RuntimeError(f"GX returned no result for {unanswered} of suite {suite.name}")
    return results  # type: ignore[return-value]


def _observed(result) -> dict:
    """What the gate and the audit table keep of a GX result: counts, a few examples, errors."""
    raw = result.result or {}
    observed = {key: raw[key] for key in _OBSERVED_KEYS if key in raw}
    if result.expectation_config.type == UNEXPECTED_ROWS and "observed_value" in raw:
        observed["unexpected_count"] = raw["observed_value"]
    mismatched = (raw.get("details") or {}).get("mismatched")
    if mismatched:  # expect_table_columns_to_match_set: {"missing": [...], "unexpected": [...]}
        observed["mismatched"] = mismatched
    messages = _exception_messages(result.exception_info)
    if messages:
        observed["exception"] = "; ".join(messages)
    return _jsonable(observed)


def _exception_messages(info: Any) -> list[str]:
    """GX gives either one ``{raised_exception, exception_message}`` or one per failed metric."""
    if not isinstance(info, dict):
        return []
    if "raised_exception" in info:
        return [str(info.get("exception_message"))] if info["raised_exception"] else []
    messages: list[str] = []
    for value in info.values():
        for message in _exception_messages(value):
            if message not in messages:
                messages.append(message)
    return messages


def _unexpected_rows(batch_definition, expectation, suite_parameters: dict) -> list:
    """A few offending rows of a failed SQL expectation.

    GX returns rows only with the COMPLETE result format, which the suite run does not
    use (it would fetch every unexpected value of every column check), so the failed
    expectation alone is evaluated once more with COMPLETE (GX caps it at 200 rows).
    """
    batch = batch_definition.get_batch()
    again = batch.validate(expectation, result_format={"result_format": "COMPLETE"},
                           expectation_parameters=suite_parameters)
    rows = ((again.result or {}).get("details") or {}).get("unexpected_rows") or []
    return [dict(row) for row in rows[:EXAMPLES]]


def _quiet_gx_logging() -> None:
    """GX logs hundreds of INFO lines per run (decorator registration, per-metric notes).

    Raise its threshold to WARNING, before the first import, unless someone configured
    the ``great_expectations`` logger explicitly (then their level stands).
    """
    gx_logger = logging.getLogger("great_expectations")
    if gx_logger.level == logging.NOTSET:
        gx_logger.setLevel(logging.WARNING)


def _ephemeral_context(results_dir: Path | None):
    """An in-memory GX context: nothing is written unless ``results_dir`` is given.

    Progress bars are off: they go to stderr and clutter Airflow task logs.
    """
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    defaults = InMemoryStoreBackendDefaults()
    if results_dir is not None:
        defaults.stores[defaults.validation_results_store_name]["store_backend"] = {
            "class_name": "TupleFilesystemStoreBackend",
            "base_directory": str(Path(results_dir).resolve() / "validations"),
        }
        defaults.data_docs_sites = {"local_site": _site_config(Path(results_dir))}
    config = DataContextConfig(store_backend_defaults=defaults,
                               progress_bars=ProgressBarsConfig(globally=False))
    return gx.get_context(mode="ephemeral", project_config=config)


def _site_config(results_dir: Path) -> dict:
    return {
        "class_name": "SiteBuilder",
        "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                          "base_directory": str(results_dir.resolve() / "data_docs")},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    }


def build_data_docs(results_dir: Path) -> Path:
    """Render GX Data Docs (HTML) for every validation stored under ``results_dir``.

    Returns the site's ``index.html``. The site lists validation results of every run
    that passed this ``results_dir`` to :func:`validate`; suites themselves live in
    our JSON files, not in a GX store, so the site has no suite pages.
    """
    results_dir = Path(results_dir)
    _quiet_gx_logging()
    context = _ephemeral_context(results_dir)
    context.build_data_docs()
    index = results_dir.resolve() / "data_docs" / "index.html"
    log.info("GX Data Docs built at %s", index)
    return index


def _where_by_suite(where: Any, suites: list[SuiteSpec]) -> dict[str, str]:
    if where is None:
        return {}
    if isinstance(where, str):
        return {s.name: where for s in suites}
    if isinstance(where, Mapping):
        unknown = set(where) - {s.name for s in suites}
        if unknown:
            raise ValueError(f"params['where'] names unknown suite(s) {sorted(unknown)}")
        return {k: v for k, v in where.items() if v}
    raise ValueError("params['where'] must be an SQL condition or {suite name: condition}")


def _gx_parameter(value: Any) -> Any:
    """Dates as ISO strings: PostgreSQL compares them with date columns, and they serialise."""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def _quoted(relation: str) -> str:
    return ".".join(f'"{part}"' for part in relation.split("."))


def _check_relations_exist(url: str, suites: list[SuiteSpec]) -> None:
    """Fail with the relation named before GX does so with a page of SQL."""
    from clientbase.warehouse.connection import connect

    with connect(url) as conn:
        missing = [s for s in suites
                   if conn.execute("select to_regclass(%s)", (_quoted(s.relation),)).fetchone()[0]
                   is None]
    if missing:
        raise RelationMissing(
            "relation(s) to validate do not exist: "
            + ", ".join(f"{s.relation} (suite {s.name})" for s in missing)
            + ". Has dbt built them? If a model was renamed, update 'relation' in the suite file."
        )


def _jsonable(value: Any) -> Any:
    """Plain JSON for jsonb: dates as ISO, numerics as numbers, NaN/Infinity as strings."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, Decimal):
        if not value.is_finite():
            return str(value)
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    return str(value)
