"""Who sees which rows: a Superset role per manager, row-level security, a director who sees all.

Row-level security is **deny by default**: one *base* filter (``1 = 0``) applies to every
clientbase dataset for every role except the director's and Superset's Admin; each manager's
role adds a *regular* filter in the same group, and Superset ORs the clauses of one group, so
a manager's query gets ``1 = 0 OR manager_id = 'M1'``, i.e. their own rows. A user with no
manager role, or a manager who has left the list (their role keeps no regular filter), sees
nothing, never everything.

The clause per dataset follows its ``owner_column`` (definitions.py):

* ``manager_id = '<id>'`` — the client tables (status mix, client statuses and the status
  flow by owner, scorecard, rotation list): the manager owning the client as of the month;
* ``rep_id = '<id>'`` — the trade-point tables (visits, coverage by rep, the shelf by rep):
  the point's rep as of the month (reps are in the same managers list, one id space);
* ``dimension = 'rep' AND dimension_value = '<id>'`` — the long tables of the KPI matrix and
  the retail audits (``owner_clause``): a rep's role sees its own rep rows, not the total,
  the territories or the channels;
* ``manager_id = '<id>'`` on receivables too: a manager sees their row, never the
  all-managers row (``manager_id`` NULL), which only the director sees;
* nothing — company-wide aggregates (coverage by territory and channel, the total, category
  АКБ): a manager's role sees none of their rows; the director sees them.

The managers list is taken from what is published (every manager or rep with a row in
``reporting``), so it can be read as ``bi_reader``, which reads nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clientbase.bi.bundle import object_uuid
from clientbase.bi.definitions import DATASETS, Dataset

VIEWER_ROLE = "clientbase_viewer"  # read the clientbase dashboards and datasets (with Gamma)
DIRECTOR_ROLE = "clientbase_director"  # sees every row
MANAGER_ROLE_PREFIX = "clientbase_manager_"
RLS_GROUP = "clientbase_owner"
DENY_FILTER = "clientbase: deny by default"
DENY_CLAUSE = "1 = 0"

MANAGERS_SQL = """
select manager_id from reporting.manager_scorecard_monthly where manager_id is not null
union select manager_id from reporting.client_status_monthly where manager_id is not null
union select rep_id from reporting.visits_monthly where rep_id is not null
order by 1
"""


def sql_literal(value: str) -> str:
    """A manager id as an SQL string literal (ids come from source data: quote, never trust)."""
    return "'" + value.replace("'", "''") + "'"


def manager_role(manager_id: str) -> str:
    return f"{MANAGER_ROLE_PREFIX}{manager_id}"


def manager_username(manager_id: str) -> str:
    """The login of a manager's Superset user (their id, lower case)."""
    return manager_id.lower()


@dataclass(frozen=True)
class RlsFilter:
    name: str
    filter_type: str  # "Regular" or "Base"
    roles: tuple[str, ...]
    dataset_uuids: tuple[str, ...]
    clause: str
    group_key: str = RLS_GROUP

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "filter_type": self.filter_type, "roles": list(self.roles),
                "dataset_uuids": list(self.dataset_uuids), "clause": self.clause, "group_key": self.group_key,
                "description": "provisioned by clientbase bi (plugins/clientbase/bi/access.py); edits are overwritten"}


def rule_name(dataset: Dataset) -> str:
    """What a manager's regular filter is named after: the owner column, or its rep rows."""
    return f"{dataset.owner_column} of the rep rows" if dataset.owner_clause else str(dataset.owner_column)


def rls_filters(manager_ids: list[str]) -> list[RlsFilter]:
    """The deny-by-default base filter and each manager's regular filters, one per owner rule."""
    every = tuple(sorted(object_uuid("dataset", key) for key in DATASETS))
    filters = [RlsFilter(DENY_FILTER, "Base", ("Admin", DIRECTOR_ROLE), every, DENY_CLAUSE)]
    by_rule: dict[str, list[Dataset]] = {}
    for dataset in DATASETS.values():
        if dataset.owner_column:
            by_rule.setdefault(rule_name(dataset), []).append(dataset)
    for manager_id in manager_ids:
        for name, datasets in sorted(by_rule.items()):
            clause = datasets[0].owner_sql(sql_literal(manager_id))
            filters.append(RlsFilter(f"clientbase: {manager_id} by {name}", "Regular", (manager_role(manager_id),),
                                     tuple(sorted(object_uuid("dataset", d.key) for d in datasets)), str(clause)))
    return filters


def access_spec(manager_ids: list[str], user_password: str | None = None) -> dict[str, Any]:
    """What ``superset_side.py apply-access`` provisions, as JSON-ready data.

    ``user_password`` (from CLIENTBASE_BI_USER_PASSWORD, never a parameter on a command line):
    also create a login per manager (their id, lower case) and ``director``, each with that
    initial password; without it only the roles are provisioned, to be given to users
    managed elsewhere (SSO, LDAP, the admin UI).
    """
    ids = sorted(set(manager_ids))
    spec: dict[str, Any] = {
        "viewer_role": VIEWER_ROLE,
        "director_role": DIRECTOR_ROLE,
        "manager_role_prefix": MANAGER_ROLE_PREFIX,
        "dataset_uuids": sorted(object_uuid("dataset", key) for key in DATASETS),
        "managers": [{"id": m, "role": manager_role(m), "username": manager_username(m)} for m in ids],
        "rls": [f.as_dict() for f in rls_filters(ids)],
        "users": [],
    }
    if user_password:
        spec["users"] = [{"username": manager_username(m), "first_name": m, "last_name": "manager",
                          "roles": ["Gamma", VIEWER_ROLE, manager_role(m)]} for m in ids]
        spec["users"].append({"username": "director", "first_name": "Sales", "last_name": "director",
                              "roles": ["Gamma", VIEWER_ROLE, DIRECTOR_ROLE]})
    return spec


def published_managers(conn) -> list[str]:
    """Every manager and rep with a row in ``reporting`` (readable as bi_reader).

    ``conn`` is a psycopg 3 or a psycopg2 connection (the docker stack runs this in the
    Superset image, which has only psycopg2): both have cursors that execute and fetch.
    """
    with conn.cursor() as cur:
        cur.execute(MANAGERS_SQL)
        return [row[0] for row in cur.fetchall()]


def main(argv: list[str] | None = None) -> int:
    """Write the access spec for the managers published in the warehouse (docker's superset-init).

    The warehouse URI comes from CLIENTBASE_BI_WAREHOUSE_URI (never the command line); a
    warehouse with nothing published yet gives no manager roles (re-run superset-init after
    the first month close), only the deny-by-default filter.
    """
    import argparse
    import json
    import logging
    import os
    from pathlib import Path

    import psycopg2
    import psycopg2.errors

    parser = argparse.ArgumentParser(prog="python -m clientbase.bi.access", description=main.__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    log = logging.getLogger("clientbase.bi.access")
    uri = os.environ.get("CLIENTBASE_BI_WAREHOUSE_URI", "").replace("postgresql+psycopg2://", "postgresql://", 1)
    if not uri:
        log.error("CLIENTBASE_BI_WAREHOUSE_URI is not set: export the bi_reader URI of the warehouse")
        return 2
    with psycopg2.connect(uri) as conn:
        try:
            managers = published_managers(conn)
        except psycopg2.errors.UndefinedTable:
            log.warning("nothing is published in reporting yet: no manager roles; re-run superset-init "
                        "after the first month close")
            managers = []
    args.out.write_text(json.dumps(access_spec(managers, os.environ.get("CLIENTBASE_BI_USER_PASSWORD") or None),
                                   ensure_ascii=False, indent=1), encoding="utf-8")
    log.info("access for %d managers written to %s", len(managers), args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
