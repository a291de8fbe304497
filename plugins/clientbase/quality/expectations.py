"""Great Expectations suites: the source contracts and the volume check of the gate.

Every suite in ``expectations/*.json`` checks one dbt *staging* model (the current state
of an incoming dataset: keys, required values, date window, allowed values, references)
or the shipment volume. Checks of what dbt builds from them (grains, invariants, the
published tables) are dbt tests, written once there; this module only runs GX.

A suite is GX's own ``ExpectationSuite`` JSON (``name``, ``expectations`` with
``type``/``kwargs``/``severity``/``meta``/``description``) plus:

- ``model``: the dbt model to validate. Its relation (``schema.alias``) is read from the
  run's dbt manifest (:func:`relations_from_manifest`), so a renamed model fails at load
  time with the suite named instead of validating a stale view. SQL expectations name the
  other models they read as ``{model:stg_clients}``, resolved the same way.
- ``columns`` (optional): ``{column: PostgreSQL type}``, the dataset's columns as
  sources.md defines them; becomes two blocking checks (present, typed). GX's own type
  expectations cannot read the types of a query asset, so ``pg_typeof`` is asked.
- ``parameters`` (optional): defaults of run-time parameters (the volume thresholds).
- ``month_column`` (optional): the model's column that dates a row by month. A month close
  that rebuilds only from its dirty month (transform/dirty.py) validates such a suite's rows
  from that month on (``rows_from``): rows of earlier months were checked when they were
  loaded and cannot have changed since, or the month would be dirty. Table-level checks read
  the same rows when the rows cannot change their verdict: the columns (the same in any rows)
  and a row-count lower bound ("not empty": met by some rows, met by all); a lower bound the
  scoped rows miss is asked of the whole table again, and other table-level checks always see
  the whole table. Suites without it (the reference lists) always see every row.
- ``history_months`` (optional, with ``month_column``): the name of the suite parameter that
  says how many months before a run month its checks read (the volume check compares a month
  with its trailing months). A scoped close then checks the run months from the dirty month on
  (an earlier month cannot have changed) and reads the rows from that many months before the
  dirty month, instead of every row.

Severity is GX's native field: ``critical`` blocks publication (the default, the safe
side of a gate), ``warning`` is reported only. Run-time values are GX suite parameters,
``{"$PARAMETER": "max_date"}``; GX has none inside SQL, so ``{$name}`` in an
``unexpected_rows_query`` is replaced here by the SQL literal of the parameter.

GX takes seconds to import, so it is imported inside the functions that need it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SOURCE = "gx"
BLOCKING = "blocking"
WARNING = "warning"
# GX's native ``Expectation.severity`` -> the gate's vocabulary (gate.BLOCKING / gate.WARNING)
GATE_SEVERITY = {"critical": BLOCKING, "warning": WARNING}
EXAMPLES = 5  # unexpected values / rows kept per failed check
DATASOURCE = "warehouse"
UNEXPECTED_ROWS = "unexpected_rows_expectation"

_SUITE_KEYS = {"name", "model", "expectations", "meta", "notes", "id", "columns", "parameters", "month_column",
               "history_months"}
# Table-level checks whose verdict is the same on any subset of the rows (the columns), and the
# row-count check, whose lower bound some rows meeting proves for all (see the module docstring).
_ROWS_INDEPENDENT = {"expect_table_columns_to_match_set", "expect_table_columns_to_match_ordered_list",
                     "expect_table_column_count_to_equal", "expect_table_column_count_to_be_between"}
_ROW_COUNT = "expect_table_row_count_to_be_between"
_EXPECTATION_KEYS = {"type", "kwargs", "meta", "severity", "description", "notes", "id"}
_SQL_PARAMETER = re.compile(r"\{\$([A-Za-z_][A-Za-z0-9_]*)\}")  # {$months}
_MODEL_REF = re.compile(r"\{model:([A-Za-z_][A-Za-z0-9_]*)\}")  # {model:stg_clients}
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PG_TYPE = re.compile(r"^[a-z][a-z0-9 _]*(\[\])?$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_OBSERVED_KEYS = ("element_count", "unexpected_count", "unexpected_percent", "missing_count",
                  "observed_value", "partial_unexpected_list", "partial_unexpected_counts")


class SuiteError(ValueError):
    """A suite file is malformed or names a dbt model the run does not have; the message says which."""


class RelationMissing(RuntimeError):
    """The relation of a suite's model does not exist in the warehouse (dbt has not built it)."""


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
        """``type(label)`` (``meta.label``, required for SQL checks) or ``type(columns)``."""
        label = self.meta.get("label")
        if label is None:
            label = ", ".join(self.kwargs.get("column_list") or [self.kwargs.get("column", "")])
        return f"{self.type}({label})"

    @property
    def sql(self) -> str | None:
        query = self.kwargs.get("unexpected_rows_query")
        return query if isinstance(query, str) else None

    def gx_config(self, params: Mapping[str, Any], relations: Mapping[str, str]) -> dict:
        """Keyword arguments for GX's ``ExpectationConfiguration``, SQL rendered for this run."""
        kwargs = json.loads(json.dumps(self.kwargs))  # GX resolves parameters in place
        if self.sql is not None:
            kwargs["unexpected_rows_query"] = render_sql(self.sql, params, relations)
        config = {"type": self.type, "kwargs": kwargs, "meta": dict(self.meta),
                  "severity": next(k for k, v in GATE_SEVERITY.items() if v == self.severity)}
        if self.description:
            config["description"] = self.description
        return config


@dataclass(frozen=True)
class SuiteSpec:
    """A suite: which dbt model to validate and what to expect of it."""

    name: str
    model: str  # a dbt model name, resolved through the run's manifest
    expectations: tuple[ExpectationSpec, ...]
    meta: dict = field(default_factory=dict)
    path: Path | None = None
    defaults: dict = field(default_factory=dict)  # the suite's "parameters"
    month_column: str | None = None  # scopes row checks to the dirty months (see the module docstring)
    history_months: str | None = None  # the parameter naming how many months before a run month it reads

    @property
    def models(self) -> set[str]:
        """Every dbt model the suite reads: its own and those its SQL names."""
        return {self.model} | {m for e in self.expectations if e.sql for m in _MODEL_REF.findall(e.sql)}

    @property
    def parameters(self) -> set[str]:
        """Run-time parameters the suite needs and does not default itself."""
        names = {v["$PARAMETER"] for e in self.expectations for v in e.kwargs.values()
                 if isinstance(v, dict) and "$PARAMETER" in v}
        names |= {n for e in self.expectations if e.sql for n in _SQL_PARAMETER.findall(e.sql)}
        return names - set(self.defaults)

    def with_severity(self, label: str, severity: str) -> SuiteSpec:
        """The same suite with one check's severity changed (e.g. "the volume check blocks")."""
        if severity not in GATE_SEVERITY.values():
            raise ValueError(f"severity must be {BLOCKING!r} or {WARNING!r}, got {severity!r}")
        names = [e.check_name for e in self.expectations]
        if not any(label in (e.meta.get("label"), e.check_name) for e in self.expectations):
            raise ValueError(f"suite {self.name} has no check {label!r}; its checks: {names}")
        return replace(self, expectations=tuple(
            replace(e, severity=severity) if label in (e.meta.get("label"), e.check_name) else e
            for e in self.expectations))


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
    rows: str = ""  # the rows checked when not all of the relation: "shipment_month >= 2026-05-01"

    @property
    def blocks_publication(self) -> bool:
        return self.severity == BLOCKING and not self.success

    def details(self) -> dict:
        """The ``details`` jsonb: what was checked where, and what was observed."""
        scope = {"rows": self.rows} if self.rows else {}
        return {"relation": self.relation, **scope, "kwargs": self.kwargs, **self.observed}


def blocking_failures(results: Iterable[CheckResult]) -> list[CheckResult]:
    """The results that stop publication (blocking and failed)."""
    return [r for r in results if r.blocks_publication]


# --------------------------------------------------------------------------- loading


def load_suites(directory: Path) -> list[SuiteSpec]:
    """Every ``*.json`` suite in ``directory``, in file-name order.

    Structure is checked here, without GX, so a typo fails at once with the file named;
    whether GX accepts the expectation's kwargs is checked when :func:`validate` hands it over.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise SuiteError(f"no suite directory at {directory}")
    suites = [parse_suite(json.loads(path.read_text(encoding="utf-8")), path)
              for path in sorted(directory.glob("*.json"))]
    names = [s.name for s in suites]
    if len(set(names)) != len(names):
        raise SuiteError(f"suite names used twice in {directory}: "
                         f"{sorted({n for n in names if names.count(n) > 1})}")
    log.info("loaded %d expectation suites from %s: %s", len(suites), directory, ", ".join(names))
    return suites


def parse_suite(data: Any, origin: Path | str = "<suite>") -> SuiteSpec:
    """A :class:`SuiteSpec` from the JSON structure of one suite file."""
    if not isinstance(data, dict):
        raise SuiteError(f"{origin}: a suite must be a JSON object")
    unknown = set(data) - _SUITE_KEYS
    if unknown:
        raise SuiteError(f"{origin}: unknown top-level field(s) {sorted(unknown)}; allowed: "
                         f"{sorted(_SUITE_KEYS)}")
    name, model = data.get("name"), data.get("model")
    if not isinstance(name, str) or not name:
        raise SuiteError(f"{origin}: 'name' must be a non-empty string")
    if not isinstance(model, str) or not _IDENT.match(model):
        raise SuiteError(f"{origin}: 'model' must be the name of a dbt model, e.g. 'stg_shipments', "
                         f"got {model!r}")
    items = data.get("expectations")
    if not isinstance(items, list) or not items:
        raise SuiteError(f"{origin}: 'expectations' must be a non-empty list")
    expectations = _column_checks(data.get("columns"), origin) + tuple(
        _parse_expectation(item, f"{origin}: expectations[{i}]") for i, item in enumerate(items))
    names = [e.check_name for e in expectations]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise SuiteError(f"{origin}: check names must be unique within a suite, repeated: "
                         f"{repeated} (set meta.label to tell them apart)")
    month_column = data.get("month_column")
    if month_column is not None and not (isinstance(month_column, str) and _IDENT.match(month_column)):
        raise SuiteError(f"{origin}: 'month_column' must name the model's month column, e.g. "
                         f"'shipment_month', got {month_column!r}")
    defaults = data.get("parameters") or {}
    if not isinstance(defaults, dict) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in defaults.values()):
        raise SuiteError(f"{origin}: 'parameters' must map names to numbers (defaults of "
                         "run-time parameters, e.g. {\"volume_tolerance\": 0.5})")
    history_months = data.get("history_months")
    if history_months is not None and (month_column is None or not isinstance(defaults.get(history_months), int)
                                       or isinstance(defaults.get(history_months), bool)):
        raise SuiteError(f"{origin}: 'history_months' must name an integer of the suite's 'parameters' "
                         f"(e.g. \"volume_history_months\"), and needs 'month_column'; got {history_months!r}")
    return SuiteSpec(name=name, model=model, expectations=expectations,
                     meta=data.get("meta") or {}, defaults=dict(defaults),
                     path=origin if isinstance(origin, Path) else None, month_column=month_column,
                     history_months=history_months)


def _parse_expectation(item: Any, where: str) -> ExpectationSpec:
    if not isinstance(item, dict):
        raise SuiteError(f"{where}: an expectation must be an object")
    unknown = set(item) - _EXPECTATION_KEYS
    if unknown:
        raise SuiteError(f"{where}: unknown field(s) {sorted(unknown)}; allowed: "
                         f"{sorted(_EXPECTATION_KEYS)}")
    kind, kwargs, meta = item.get("type"), item.get("kwargs"), item.get("meta") or {}
    if not isinstance(kind, str) or not kind:
        raise SuiteError(f"{where}: 'type' must be a GX expectation type, e.g. "
                         "'expect_column_values_to_not_be_null'")
    if not isinstance(kwargs, dict) or not isinstance(meta, dict):
        raise SuiteError(f"{where} ({kind}): 'kwargs' and 'meta' must be objects")
    severity = item.get("severity", "critical")
    if severity not in GATE_SEVERITY:
        raise SuiteError(f"{where} ({kind}): severity {severity!r} is not one of "
                         f"{sorted(GATE_SEVERITY)} (critical blocks publication, warning reports)")
    if kind == UNEXPECTED_ROWS and "label" not in meta:
        raise SuiteError(f"{where} ({kind}): a SQL expectation needs meta.label, a short name "
                         "for reports")
    return ExpectationSpec(type=kind, kwargs=kwargs, severity=GATE_SEVERITY[severity], meta=meta,
                           description=item.get("description"))


def _column_checks(columns: Any, origin: Path | str) -> tuple[ExpectationSpec, ...]:
    """The checks a suite's ``columns`` declares: those columns exist (extra ones allowed), typed so.

    The types come from ``pg_typeof`` over one row of the batch, left-joined to a single row
    so that an empty table is typed too.
    """
    if columns is None:
        return ()
    if not isinstance(columns, dict) or not columns or not all(
            _IDENT.match(name) and isinstance(pg_type, str) and _PG_TYPE.match(pg_type)
            for name, pg_type in columns.items()):
        raise SuiteError(f"{origin}: 'columns' must map column names to PostgreSQL types as "
                         "pg_typeof spells them, e.g. {\"line_no\": \"bigint\"}")
    expected = ", ".join(f"('{name}', '{pg_type}')" for name, pg_type in columns.items())
    actual = ", ".join(f"('{name}', pg_typeof(typed.{name})::text)" for name in columns)
    query = ("select expected.column_name, expected.expected_type, actual.actual_type "
             f"from (values {expected}) as expected (column_name, expected_type) "
             "left join (select actual_types.* from (select 1) as one "
             "left join (select * from {batch} as batch_rows limit 1) as typed on true "
             f"cross join lateral (values {actual}) as actual_types (column_name, actual_type)"
             ") as actual on actual.column_name = expected.column_name "
             "where actual.actual_type is distinct from expected.expected_type")
    why = "sources.md: the dataset's columns and types; a renamed or retyped column breaks every model"
    return (
        ExpectationSpec("expect_table_columns_to_match_set",
                        {"column_set": list(columns), "exact_match": False}, BLOCKING,
                        {"label": "columns", "why": why}, "every declared column is present"),
        ExpectationSpec(UNEXPECTED_ROWS, {"unexpected_rows_query": query}, BLOCKING,
                        {"label": "column_types", "why": why},
                        "every declared column has its declared PostgreSQL type"),
    )


def relations_from_manifest(manifest: Path, models: Iterable[str]) -> dict[str, str]:
    """``{model: "schema.alias"}`` for ``models``, from a dbt ``manifest.json``."""
    from clientbase.transform import dbt

    manifest = Path(manifest)
    if not manifest.is_file():
        raise SuiteError(f"no dbt manifest at {manifest}: the suites name dbt models, resolved "
                         "from the manifest of the run's dbt build; run the build first")
    return resolve_models(dbt.model_relations(manifest), models, str(manifest))


def resolve_models(model_relations: Mapping[str, str], models: Iterable[str],
                   where: str = "the run's dbt manifest") -> dict[str, str]:
    """``{model: "schema.alias"}`` for ``models`` out of a build's ``model_relations``.

    Fails, naming the models, when the build has no such model: a suite must not
    silently validate a view that dbt no longer builds.
    """
    relations, missing = {}, []
    for model in sorted(set(models)):
        if model in model_relations:
            relations[model] = model_relations[model]
        else:
            missing.append(model)
    if missing:
        raise SuiteError(f"the suites name dbt model(s) {missing} that the dbt project does not "
                         f"have ({where}); rename 'model' / {{model:…}} in expectations/*.json "
                         "to the model's new name")
    return relations


# --------------------------------------------------------------------------- SQL parameters


def sql_literal(value: Any) -> str:
    """A run parameter as SQL text: dates (and ISO date strings) as ``date '…'``, lists as arrays.

    Only for values the pipeline itself passes (months, thresholds); strings are quoted
    with ``'`` doubled, so a value cannot end the literal.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, Decimal)) or (isinstance(value, float) and math.isfinite(value)):
        return str(value)
    if isinstance(value, dt.date):
        return f"date '{value.isoformat()}'"
    if isinstance(value, str):
        return f"date '{value}'" if _ISO_DATE.match(value) else "'" + value.replace("'", "''") + "'"
    if isinstance(value, (list, tuple)) and value:
        return "array[" + ", ".join(sql_literal(v) for v in value) + "]"
    raise ValueError(f"parameter value {value!r} has no SQL literal (pass a finite number, a date, "
                     "a string or a non-empty list of them)")


def render_sql(text: str, params: Mapping[str, Any], relations: Mapping[str, str]) -> str:
    """``text`` with ``{$name}`` as SQL literals of ``params`` and ``{model:x}`` as relations."""
    missing = sorted({n for n in _SQL_PARAMETER.findall(text) if n not in params})
    if missing:
        raise ValueError(f"SQL parameter(s) {missing} not given; pass them in params")
    text = _SQL_PARAMETER.sub(lambda m: sql_literal(params[m.group(1)]), text)
    return _MODEL_REF.sub(lambda m: _quoted(relations[m.group(1)]), text)


# --------------------------------------------------------------------------- validation


def validate(url: str, suites: list[SuiteSpec], params: Mapping[str, Any], run_id: str,
             relations: Mapping[str, str], *, results_dir: Path | None = None,
             rows_from: str | dt.date | None = None) -> list[CheckResult]:
    """Run every suite against its model's relation; one :class:`CheckResult` per expectation.

    ``relations`` maps every model the suites read to ``schema.table``
    (:func:`relations_from_manifest`; tests point a model at a broken copy). ``params`` are
    the suite parameters (``max_date``, ``min_date``, ``months``: dates or ISO strings).

    A failed expectation is a result, not an exception. Exceptions are for what makes the
    verdict meaningless: a missing parameter or relation, a suite GX rejects. An expectation
    that errors while running comes back failed with ``observed["exception"]``, so a
    blocking one still blocks. With ``results_dir`` the GX validation results are written
    there too, for :func:`build_data_docs`. ``rows_from`` (the build's dirty month; None:
    every row) limits the row checks of suites with a ``month_column`` to the rows of that
    month on.
    """
    if not suites:
        return []
    missing = sorted(set().union(*(s.parameters for s in suites)) - set(params))
    if missing:
        raise ValueError(f"suite parameter(s) {missing} not given; pass them in params "
                         f"(suites: {', '.join(s.name for s in suites)})")
    unresolved = sorted(set().union(*(s.models for s in suites)) - set(relations))
    if unresolved:
        raise SuiteError(f"no relation given for dbt model(s) {unresolved}; resolve them with "
                         "relations_from_manifest")
    _check_relations_exist(url, {m: relations[m] for s in suites for m in s.models})

    from clientbase.warehouse.connection import sqlalchemy_url

    started = time.monotonic()
    _quiet_gx_logging()
    context = _ephemeral_context(results_dir)
    # create_temp_table: GX computes each expectation's metric with its own query over the
    # asset's query; over a staging view (which picks the last of every loaded version of a key) that
    # re-ran the dedup once per expectation, the largest part of a month close at size M
    # (BENCHMARKS.md). A temporary table per batch runs the view once per batch (a suite's
    # dirty-month rows, its whole-table checks, a failed row check's examples: one each).
    datasource = context.data_sources.add_postgres(
        DATASOURCE, connection_string=sqlalchemy_url(url, "psycopg2"), create_temp_table=True)
    try:
        results = [result for suite in suites for result in _validate_suite(
            context, datasource, suite, {**suite.defaults, **_gx_parameters(params)}, relations,
            run_id, rows_from)]
    finally:
        datasource.get_engine().dispose()  # no pooled connections outlive the call
    log.info("GX run %s: %d checks, %d failed (%d blocking) in %.1fs", run_id, len(results),
             sum(not r.success for r in results), len(blocking_failures(results)),
             time.monotonic() - started)
    return results


def _validate_suite(context, datasource, suite: SuiteSpec, params: dict,
                    relations: Mapping[str, str], run_id: str,
                    rows_from: str | dt.date | None = None) -> list[CheckResult]:
    """One suite: its row checks on the dirty months' rows when scoped, the rest on the whole relation."""
    everything = list(range(len(suite.expectations)))
    if rows_from is None or suite.month_column is None:
        groups = [(suite.name, "", everything)]
    else:
        start = dt.date.fromisoformat(str(rows_from)[:10])
        if suite.history_months is not None:
            # only the run months from the dirty month on: an earlier month's data, hence its
            # verdict, is what it was when a close last changed it (a close that closes every
            # month, as `clientbase run` does, read the whole history here: 11 s at month 12 of
            # size L, 42 s at month 36)
            params = {**params, "months": [m for m in params.get("months") or []
                                           if dt.date.fromisoformat(str(m)[:10]) >= start]}
            back = start.year * 12 + start.month - 1 - int(params[suite.history_months])
            start = dt.date(back // 12, back % 12 + 1, 1)
        rows = f"{suite.month_column} >= {sql_literal(start.isoformat())}"
        whole_table = [i for i in everything if _needs_whole_table(suite.expectations[i])]
        groups = [(suite.name, rows, [i for i in everything if i not in whole_table]),
                  (f"{suite.name} (whole table)", "", whole_table)]
    results: dict[int, CheckResult] = {}
    for name, rows, indices in groups:
        if indices:
            results.update(_validate_group(context, datasource, suite, name, rows, indices, params, relations,
                                           run_id))
    # a row-count lower bound the scoped rows miss may still be met by the whole table
    missed = [i for i in results if results[i].rows and not results[i].success
              and suite.expectations[i].type == _ROW_COUNT]
    if missed:
        results.update(_validate_group(context, datasource, suite, f"{suite.name} (whole table, row count)",
                                       "", missed, params, relations, run_id))
    if len(results) != len(suite.expectations):  # GX answers every expectation; if not, say so
        raise RuntimeError(f"GX returned no result for some expectations of suite {suite.name}")
    return [results[i] for i in everything]


def _needs_whole_table(spec: ExpectationSpec) -> bool:
    """A table-level check whose verdict some rows cannot give (see the module docstring)."""
    if not spec.type.startswith("expect_table_") or spec.type in _ROWS_INDEPENDENT:
        return False
    return not (spec.type == _ROW_COUNT and spec.kwargs.get("max_value") is None)


def _validate_group(context, datasource, suite: SuiteSpec, name: str, rows: str, indices: list[int],
                    params: dict, relations: Mapping[str, str], run_id: str) -> dict[int, CheckResult]:
    """The expectations ``indices`` of ``suite`` on its relation (``where rows`` if given), by index."""
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.exceptions import GreatExpectationsError
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    relation = relations[suite.model]
    # A query asset even for a whole relation: TableAsset's schema_name is deprecated since
    # GX 1.14 and the Postgres datasource offers no other way to name a schema.
    query = f"select * from {_quoted(relation)}" + (f" where {rows}" if rows else "")
    asset = datasource.add_query_asset(name=name, query=query)
    batch_definition = asset.add_batch_definition_whole_table("whole")
    gx_suite = context.suites.add(gx.ExpectationSuite(
        name=name, meta={**suite.meta, "model": suite.model, "relation": relation, **({"rows": rows} if rows else {})}))
    added = {}
    for index in indices:
        spec = suite.expectations[index]
        try:
            config = ExpectationConfiguration(**spec.gx_config(params, relations))
            added[index] = gx_suite.add_expectation(config.to_domain_obj())
        except (GreatExpectationsError, ValueError) as exc:
            raise SuiteError(f"{suite.path or suite.name}: {spec.check_name}: GX rejects it: "
                             f"{exc}") from exc
    position = {expectation.id: index for index, expectation in added.items()}
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=name, data=batch_definition, suite=gx_suite))
    outcome = definition.run(
        expectation_parameters=params,
        result_format={"result_format": "SUMMARY", "partial_unexpected_count": EXAMPLES},
        run_id=RunIdentifier(run_name=run_id))
    log.info("suite %s on %s%s: %d/%d expectations passed", name, relation, f" ({rows})" if rows else "",
             outcome.statistics["successful_expectations"],
             outcome.statistics["evaluated_expectations"])

    results: dict[int, CheckResult] = {}
    for result in outcome.results:
        index = position[result.expectation_config.id]
        spec = suite.expectations[index]
        observed = _observed(result)
        if spec.type == UNEXPECTED_ROWS and not result.success and "exception" not in observed:
            observed["partial_unexpected_list"] = _jsonable(
                _unexpected_rows(batch_definition, added[index], params))
        results[index] = CheckResult(suite=suite.name, check_name=spec.check_name,
                                     severity=spec.severity, success=bool(result.success),
                                     observed=observed, relation=relation,
                                     kwargs=_jsonable(dict(result.expectation_config.kwargs)), rows=rows)
        if not result.success:
            log.log(logging.WARNING if spec.severity == BLOCKING else logging.INFO,
                    "%s %s failed on %s: %s", spec.severity, spec.check_name, relation,
                    {k: v for k, v in observed.items() if k != "partial_unexpected_counts"})
    return results


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
    return list(dict.fromkeys(m for value in info.values() for m in _exception_messages(value)))


def _unexpected_rows(batch_definition, expectation, params: dict) -> list:
    """A few offending rows of a failed SQL expectation.

    GX returns rows only with the COMPLETE result format, which the suite run does not use
    (it would fetch every unexpected value of every column check), so the failed
    expectation alone is evaluated once more with COMPLETE (GX caps it at 200 rows).
    """
    again = batch_definition.get_batch().validate(
        expectation, result_format={"result_format": "COMPLETE"}, expectation_parameters=params)
    rows = ((again.result or {}).get("details") or {}).get("unexpected_rows") or []
    return [dict(row) for row in rows[:EXAMPLES]]


def _quiet_gx_logging() -> None:
    """GX logs hundreds of INFO lines per run; WARNING unless someone set its level already."""
    gx_logger = logging.getLogger("great_expectations")
    if gx_logger.level == logging.NOTSET:
        gx_logger.setLevel(logging.WARNING)


def _ephemeral_context(results_dir: Path | None):
    """An in-memory GX context (no ``gx/`` folder): nothing is written unless ``results_dir`` is given.

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
        results_dir = Path(results_dir).resolve()
        defaults.stores[defaults.validation_results_store_name]["store_backend"] = {
            "class_name": "TupleFilesystemStoreBackend",
            "base_directory": str(results_dir / "validations"),
        }
        defaults.data_docs_sites = {"local_site": {
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                              "base_directory": str(results_dir / "data_docs")},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        }}
    config = DataContextConfig(store_backend_defaults=defaults,
                               progress_bars=ProgressBarsConfig(globally=False))
    return gx.get_context(mode="ephemeral", project_config=config)


def build_data_docs(results_dir: Path) -> Path:
    """Render GX Data Docs (HTML) for every validation stored under ``results_dir``; its index.html."""
    _quiet_gx_logging()
    _ephemeral_context(results_dir).build_data_docs()
    index = Path(results_dir).resolve() / "data_docs" / "index.html"
    log.info("GX Data Docs built at %s", index)
    return index


def _gx_parameters(params: Mapping[str, Any]) -> dict:
    """Dates as ISO strings: PostgreSQL compares them with date columns, and they serialise."""
    return {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in params.items()}


def _quoted(relation: str) -> str:
    return ".".join(f'"{part}"' for part in relation.split("."))


def _check_relations_exist(url: str, relations: Mapping[str, str]) -> None:
    """Fail with the relation named before GX does so with a page of SQL."""
    from clientbase.warehouse.connection import connect

    with connect(url) as conn:
        missing = [f"{relation} (model {model})" for model, relation in sorted(relations.items())
                   if conn.execute("select to_regclass(%s)", (_quoted(relation),)).fetchone()[0]
                   is None]
    if missing:
        raise RelationMissing(f"relation(s) to validate do not exist: {', '.join(missing)}. "
                              "Has dbt built them? Run the month close's dbt build first.")


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
