"""Import a clientbase bundle and its access rules into Superset: run by Superset's own Python.

    SUPERSET_CONFIG_PATH=... CLIENTBASE_BI_WAREHOUSE_URI=postgresql+psycopg2://bi_reader:...@host:port/db \\
        <superset venv>/bin/python superset_side.py import --bundle bi/superset/ru [--access access.json]

This file imports nothing from clientbase (Superset's pins clash with Airflow's, so the two
live in separate virtual environments); the docker stack runs it in its Superset image too.

Why not ``superset import-directory``: it exits 0 when validation fails, and without
``--overwrite`` it leaves existing charts and datasets as they were. Here the bundle goes
through ``ImportAssetsCommand`` (the command behind ``/api/v1/assets/import``), which
validates everything first, overwrites every object by UUID and imports in one transaction;
any validation error is printed and the exit code is 1. It runs as the admin user, since an
import without a user silently keeps the old version of every chart.

After the import: each native filter's ``chartsInScope`` is recomputed with the chart ids of
this Superset (the importer remaps ``scope.excluded`` but not that list), then the roles,
row-level security filters and users of ``--access`` (access.py) are applied, and stale
clientbase RLS filters are removed. The last line of stdout is a JSON summary with the
counts of objects, which the caller checks (an import must never add duplicates).

Secrets come from the environment only: the warehouse URI (its password is handed to the
importer's ``passwords``, masked in the stored URI) and CLIENTBASE_BI_USER_PASSWORD.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger("clientbase.bi.superset_side")
DATABASE_PREFIX = "databases/"


class ProvisionError(RuntimeError):
    """The bundle or the access rules could not be applied; the message says what to fix."""


def read_bundle(root: Path) -> dict[str, str]:
    if not (root / "metadata.yaml").is_file():
        raise ProvisionError(f"{root} is not a Superset bundle (no metadata.yaml): render it with "
                             "`python -m clientbase.bi.bundle`")
    return {p.relative_to(root).as_posix(): p.read_text(encoding="utf-8") for p in sorted(root.rglob("*.yaml"))}


def with_warehouse_uri(contents: dict[str, str], uri: str | None) -> tuple[dict[str, str], dict[str, str]]:
    """The bundle with the database's URI replaced by ``uri`` (password masked) and the passwords."""
    if not uri:
        return contents, {}
    from sqlalchemy.engine.url import make_url

    url = make_url(uri)
    password = url.password
    masked = url.set(password="XXXXXXXXXX") if password else url
    out, passwords = dict(contents), {}
    for name, text in contents.items():
        if name.startswith(DATABASE_PREFIX):
            config = yaml.safe_load(text)
            config["sqlalchemy_uri"] = masked.render_as_string(hide_password=False)
            out[name] = yaml.safe_dump(config, allow_unicode=True, sort_keys=True)
            if password:
                passwords[name] = password
    return out, passwords


def _adopt_database(configs: dict[str, str]) -> None:
    """A warehouse registered earlier under the same name (docker's bootstrap.sh
    ``set_database_uri``) takes the bundle's UUID, so the import updates it instead of
    failing on the unique database name."""
    from superset import db
    from superset.models.core import Database

    for name, text in configs.items():
        if not name.startswith(DATABASE_PREFIX):
            continue
        config = yaml.safe_load(text)
        existing = db.session.query(Database).filter_by(database_name=config["database_name"]).one_or_none()
        if existing is not None and str(existing.uuid) != config["uuid"]:
            import uuid

            log.info("database %r: adopting the bundle's UUID", config["database_name"])
            existing.uuid = uuid.UUID(config["uuid"])
            db.session.commit()


def import_bundle(contents: dict[str, str], passwords: dict[str, str]) -> None:
    from superset.commands.exceptions import CommandInvalidError, ImportFailedError
    from superset.commands.importers.v1.assets import ImportAssetsCommand

    _adopt_database(contents)
    try:
        ImportAssetsCommand(contents, passwords=passwords).run()
    except (CommandInvalidError, ImportFailedError) as exc:
        # run() rolls back and re-raises every error as ImportFailedError("unknown reason"):
        # the validation messages are on the CommandInvalidError it was raised from
        cause = exc if isinstance(exc, CommandInvalidError) else exc.__cause__
        if isinstance(cause, CommandInvalidError):
            details = json.dumps(cause.normalized_messages(), ensure_ascii=False, indent=1)
        else:
            details = f"{type(cause or exc).__name__}: {cause or exc}"
        raise ProvisionError(f"Superset refused the bundle (nothing was imported): {details}\n"
                             "fix definitions.py and re-render the bundle") from exc


def fix_filter_scopes(contents: dict[str, str]) -> None:
    """Native filters' ``chartsInScope`` with this Superset's chart ids (all charts but the excluded)."""
    from superset import db
    from superset.models.dashboard import Dashboard
    from superset.utils import json as sjson

    for name, text in contents.items():
        if not name.startswith("dashboards/"):
            continue
        uuid = yaml.safe_load(text)["uuid"]
        dashboard = db.session.query(Dashboard).filter_by(uuid=uuid).one()
        ids = sorted(chart.id for chart in dashboard.slices)
        metadata = sjson.loads(dashboard.json_metadata or "{}")
        for native in metadata.get("native_filter_configuration", []):
            excluded = set(native.get("scope", {}).get("excluded", []))
            native["chartsInScope"] = [i for i in ids if i not in excluded]
        metadata.setdefault("global_chart_configuration", {})["chartsInScope"] = ids
        dashboard.json_metadata = sjson.dumps(metadata)
    db.session.commit()


def _role(name: str):
    from superset import security_manager

    return security_manager.find_role(name) or security_manager.add_role(name)


def apply_access(spec: dict[str, Any], user_password: str | None) -> dict[str, int]:
    from superset import db, security_manager
    from superset.connectors.sqla.models import RowLevelSecurityFilter, SqlaTable

    datasets = {str(t.uuid): t for t in db.session.query(SqlaTable).filter(
        SqlaTable.uuid.in_(spec["dataset_uuids"])).all()}
    missing = set(spec["dataset_uuids"]) - set(datasets)
    if missing:
        raise ProvisionError(f"datasets {sorted(missing)} are not in Superset: import the bundle first")
    viewer = _role(spec["viewer_role"])
    for table in datasets.values():
        pv = security_manager.add_permission_view_menu("datasource_access", table.get_perm())
        security_manager.add_permission_role(viewer, pv)
    _role(spec["director_role"])
    for manager in spec["managers"]:
        _role(manager["role"])
    wanted = {f["name"] for f in spec["rls"]}
    prefix = "clientbase: "
    for stale in db.session.query(RowLevelSecurityFilter).filter(RowLevelSecurityFilter.name.like(prefix + "%")):
        if stale.name not in wanted:
            log.info("removing RLS filter %r (its manager left the list)", stale.name)
            db.session.delete(stale)
    for item in spec["rls"]:
        rls = db.session.query(RowLevelSecurityFilter).filter_by(name=item["name"]).one_or_none()
        if rls is None:
            rls = RowLevelSecurityFilter(name=item["name"])
            db.session.add(rls)
        rls.filter_type = item["filter_type"]
        rls.clause = item["clause"]
        rls.group_key = item["group_key"]
        rls.description = item["description"]
        rls.tables = [datasets[u] for u in item["dataset_uuids"]]
        rls.roles = [_role(r) for r in item["roles"]]
    db.session.commit()
    users = 0
    for user in spec.get("users", []):
        if not user_password:
            raise ProvisionError("users to create but CLIENTBASE_BI_USER_PASSWORD is not set")
        roles = [_role(r) for r in user["roles"]]
        existing = security_manager.find_user(username=user["username"])
        if existing is None:
            created = security_manager.add_user(user["username"], user["first_name"], user["last_name"],
                                                f"{user['username']}@clientbase.invalid", roles,
                                                password=user_password)
            if not created:
                raise ProvisionError(f"Superset could not create the user {user['username']!r} (see its log above)")
        else:
            existing.roles = roles  # the password stays as its owner set it
            security_manager.update_user(existing)
        users += 1
    db.session.commit()
    return {"rls_filters": len(spec["rls"]), "manager_roles": len(spec["managers"]), "users": users}


def counts(contents: dict[str, str]) -> dict[str, Any]:
    """Objects in Superset: all of them, and those of the bundle (by UUID) — 1 each when idempotent."""
    from superset import db
    from superset.connectors.sqla.models import SqlaTable
    from superset.models.core import Database
    from superset.models.dashboard import Dashboard
    from superset.models.slice import Slice

    models = {"databases": Database, "datasets": SqlaTable, "charts": Slice, "dashboards": Dashboard}
    out: dict[str, Any] = {}
    for kind, model in models.items():
        uuids = [yaml.safe_load(t)["uuid"] for n, t in contents.items() if n.startswith(kind + "/")]
        out[kind] = db.session.query(model).count()
        out[f"bundle_{kind}"] = len(uuids)
        out[f"bundle_{kind}_found"] = db.session.query(model).filter(model.uuid.in_(uuids)).count()
    dashboards = db.session.query(Dashboard).filter(Dashboard.uuid.in_(
        [yaml.safe_load(t)["uuid"] for n, t in contents.items() if n.startswith("dashboards/")])).all()
    out["dashboard_ids"] = {d.slug: d.id for d in dashboards}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="import a clientbase bundle into Superset")
    sub = parser.add_subparsers(dest="command", required=True)
    imp = sub.add_parser("import", help="import the bundle (overwriting by UUID) and apply the access rules")
    imp.add_argument("--bundle", type=Path, required=True)
    imp.add_argument("--access", type=Path, help="access.json written by clientbase (roles, RLS, users)")
    imp.add_argument("--admin", default=os.environ.get("CLIENTBASE_BI_ADMIN_USERNAME", "admin"))
    cnt = sub.add_parser("counts", help="print the object counts as JSON")
    cnt.add_argument("--bundle", type=Path, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)

    from superset.app import create_app

    app = create_app()
    with app.app_context():
        from superset import security_manager
        from superset.utils.core import override_user

        try:
            contents = read_bundle(args.bundle)
            if args.command == "counts":
                sys.stdout.write(json.dumps(counts(contents)) + "\n")
                return 0
            admin = security_manager.find_user(username=args.admin)
            if admin is None:
                raise ProvisionError(f"no Superset user {args.admin!r} to import as: create it with "
                                     "`superset fab create-admin` (clientbase bi does)")
            contents, passwords = with_warehouse_uri(contents, os.environ.get("CLIENTBASE_BI_WAREHOUSE_URI"))
            with override_user(admin):
                import_bundle(contents, passwords)
                fix_filter_scopes(contents)
                summary: dict[str, Any] = {}
                if args.access:
                    spec = json.loads(args.access.read_text(encoding="utf-8"))
                    summary.update(apply_access(spec, os.environ.get("CLIENTBASE_BI_USER_PASSWORD") or None))
                summary.update(counts(contents))
        except ProvisionError as exc:
            log.error("%s", exc)
            return 1
        problems = [k for k in ("databases", "datasets", "charts", "dashboards")
                    if summary[f"bundle_{k}_found"] != summary[f"bundle_{k}"]]
        sys.stdout.write(json.dumps(summary) + "\n")
        if problems:
            log.error("after the import, Superset lacks bundle objects: %s", ", ".join(problems))
            return 1
        return 0


if __name__ == "__main__":
    sys.exit(main())
