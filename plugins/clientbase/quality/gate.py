"""The quality gate: one decision from every check of a run (GX expectations, dbt tests).

A month is published only if no blocking check failed. The decision and its message are
stored in ``audit.gate_decisions`` so that the CLI (and a person) can read why a run
stopped without digging through task logs.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field

import psycopg

log = logging.getLogger(__name__)

BLOCKING = "blocking"
WARNING = "warning"
EXAMPLES_SHOWN = 3
ERROR_SHOWN = 200  # characters of a check's error shown in the message (the rest is in audit)
# Keys of ``Check.details`` naming the Data Docs of the run that produced the check (GX only).
DATA_DOCS = "data_docs"


@dataclass
class Check:
    source: str  # gx | dbt
    suite: str
    name: str
    severity: str  # blocking | warning
    success: bool
    details: dict = field(default_factory=dict)

    def describe(self) -> str:
        text = f"[{self.source}] {self.suite}: {self.name}"
        count = self.details.get("unexpected_count", self.details.get("failures"))
        if count is not None:
            text += f" — {count} failing rows"
        examples = self.details.get("examples") or self.details.get("partial_unexpected_list")
        if examples:
            text += f", e.g. {json.dumps(examples[:EXAMPLES_SHOWN], default=str, ensure_ascii=False)}"
        message = self.details.get("message")
        if message and count is None:
            text += f" — {message}"
        missing = (self.details.get("mismatched") or {}).get("missing")
        if missing:
            text += f" — missing column(s) {', '.join(map(str, missing))}"
        error = self.details.get("exception")
        if error and count is None:
            text += f" — error: {str(error)[:ERROR_SHOWN]}"
        return text


@dataclass
class GateDecision:
    passed: bool
    months: list[str]
    blocking_failures: list[Check]
    warnings: list[Check]
    checks_run: int

    @property
    def checks_passed(self) -> int:
        return self.checks_run - len(self.blocking_failures) - len(self.warnings)

    def message(self) -> str:
        if not self.months:
            span = "no months"
        elif self.months[0] == self.months[-1]:
            span = self.months[0][:7]
        else:
            span = f"{self.months[0][:7]} … {self.months[-1][:7]}"
        if self.passed:
            text = f"quality gate passed for {span}: {self.checks_run} checks, {len(self.warnings)} warnings"
        else:
            text = (f"quality gate BLOCKED publication of {span}: {len(self.blocking_failures)} blocking "
                    f"check(s) failed; reporting is unchanged.\nFailed checks:\n  - "
                    + "\n  - ".join(c.describe() for c in self.blocking_failures))
            text += ("\nFix the source data (or the rule), then rerun the month close; "
                     "the detail of every check is in audit.check_results.")
        if self.warnings:
            text += "\nWarnings:\n  - " + "\n  - ".join(c.describe() for c in self.warnings)
        docs = self.data_docs()
        if docs:
            text += "\n" + docs
        return text

    def data_docs(self) -> str | None:
        """Where to read the failed GX checks in full (every expectation, observed values).

        GX checks carry the path in ``details["data_docs"]`` (set by ``tasks.validate``).
        """
        for check in [*self.blocking_failures, *self.warnings]:
            if check.details.get(DATA_DOCS):
                return str(check.details[DATA_DOCS])
        return None


def decide(checks: list[Check], months: list[str]) -> GateDecision:
    blocking = [c for c in checks if not c.success and c.severity == BLOCKING]
    warnings = [c for c in checks if not c.success and c.severity != BLOCKING]
    return GateDecision(not blocking, months, blocking, warnings, len(checks))


def store(conn: psycopg.Connection, run_id: str, decision: GateDecision, checks: list[Check]) -> None:
    """Keep the decision and every check's outcome (passed ones too) in the audit schema.

    Idempotent per run: a rerun gate task replaces its run's check rows, not doubles them.
    """
    with conn.transaction():
        conn.execute("delete from audit.check_results where run_id = %s", (run_id,))
        conn.execute(
            "insert into audit.gate_decisions (run_id, months, passed, checks_run, blocking_failed, warnings, message) "
            "values (%s, %s::date[], %s, %s, %s, %s, %s)",
            (run_id, decision.months, decision.passed, decision.checks_run, len(decision.blocking_failures),
             len(decision.warnings), decision.message()),
        )
        conn.execute(
            "insert into audit.check_results (run_id, source, suite, check_name, severity, success, details) "
            "select %s, x.source, x.suite, x.name, x.severity, x.success, x.details "
            "from jsonb_to_recordset(%s::jsonb) as x(source text, suite text, name text, severity text, "
            "success boolean, details jsonb)",
            (run_id, json.dumps([asdict(c) for c in checks], default=str)),
        )


def last_decision(conn: psycopg.Connection, run_id: str | None = None) -> tuple[bool, str] | None:
    row = conn.execute(
        "select passed, message from audit.gate_decisions "
        + ("where run_id = %s " if run_id else "")
        + "order by decision_id desc limit 1",
        (run_id,) if run_id else (),
    ).fetchone()
    return (row[0], row[1]) if row else None
