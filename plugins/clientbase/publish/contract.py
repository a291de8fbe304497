"""The BI contract: which tables are published, read from the dbt project itself.

The published tables are the models of dbt's ``reporting`` folder (built in
``reporting_stage``), each with an enforced dbt contract (column names and types in
``_reporting__models.yml``). There is no Python list of them: adding a model to that folder
publishes it, and the publisher, the history and the tests all follow the dbt manifest.

A month close reads the manifest its own ``dbt build`` wrote (:func:`published_tables`);
code that runs outside a build (history look-ups, tests) asks :func:`project_published_tables`,
which parses the project with ``dbt parse`` once and caches the manifest until a project file
changes.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

from clientbase.settings import Settings, load_settings
from clientbase.warehouse.schema import REPORTING_FOLDER

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
# `dbt parse` connects to nothing, but the profile must resolve: any URL will do
PARSE_URL = "postgresql://parse@127.0.0.1:5432/clientbase"


class ContractError(RuntimeError):
    """The dbt project does not define the published tables as the publisher needs them."""


def published_tables(manifest_path: Path) -> tuple[str, ...]:
    """The relations of the reporting folder's models in ``manifest_path``, by name.

    Each must have an enforced contract: BI reads these tables, so a renamed column or a
    changed type must fail the build, not reach a dashboard.
    """
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    models = [node for node in manifest["nodes"].values()
              if node["resource_type"] == "model" and node["fqn"][1:2] == [REPORTING_FOLDER]]
    if not models:
        raise ContractError(f"{manifest_path} has no model in models/{REPORTING_FOLDER}/: nothing to publish")
    loose = sorted(node["name"] for node in models if not node["config"].get("contract", {}).get("enforced"))
    if loose:
        raise ContractError(f"published model(s) {', '.join(loose)} have no enforced contract: add "
                            "`config: {contract: {enforced: true}}` and every column's data_type in "
                            f"models/{REPORTING_FOLDER}/_{REPORTING_FOLDER}__models.yml")
    return tuple(sorted(node["alias"] for node in models))


def _project_fingerprint(settings: Settings) -> str:
    digest = hashlib.sha256()
    project = settings.dbt_project_dir
    for path in sorted(p for p in project.rglob("*") if p.is_file()
                       and p.suffix in (".sql", ".yml", ".yaml", ".csv")
                       and not {"target", "logs"} & set(p.relative_to(project).parts)):
        digest.update(str(path.relative_to(project)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def project_manifest(settings: Settings | None = None) -> Path:
    """A manifest of the dbt project as it is on disk, parsed once per project content."""
    from clientbase.transform import dbt

    settings = settings or load_settings()
    target = settings.home / "dbt-parse" / _project_fingerprint(settings)
    manifest = target / MANIFEST
    if not manifest.is_file():
        log.info("parsing the dbt project for its published tables (dbt parse)")
        code = dbt.run_dbt(PARSE_URL, ["parse"], target, settings)
        if code != 0 or not manifest.is_file():
            raise ContractError(f"dbt parse failed (exit {code}); its log is in {target / 'logs'}")
    return manifest


def project_published_tables(settings: Settings | None = None) -> tuple[str, ...]:
    """The published tables of the dbt project on disk (no build needed)."""
    return published_tables(project_manifest(settings))
