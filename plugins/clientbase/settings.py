"""The one place where clientbase reads its configuration.

Everything comes from environment variables (so Airflow connections / a .env file /
docker-compose can set it) with defaults that make a fresh clone work with nothing but
Python: an embedded PostgreSQL under ``.clientbase/`` and the demo landing folder.
Metric thresholds do not live here: they are dbt vars in ``dbt_project/dbt_project.yml``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def _project_root() -> Path:
    explicit = os.environ.get("CLIENTBASE_PROJECT_DIR")
    if explicit:
        return Path(explicit).resolve()
    # plugins/clientbase/settings.py -> repository root
    return PACKAGE_DIR.parent.parent


@dataclass(frozen=True)
class Settings:
    project_root: Path
    home: Path
    warehouse_url: str | None
    landing_dir: Path
    erp_url: str | None
    sfa_url: str | None
    airflow_db_name: str
    extract_retries: int

    @property
    def dags_dir(self) -> Path:
        return self.project_root / "dags"

    @property
    def dbt_project_dir(self) -> Path:
        return self.project_root / "dbt_project"

    @property
    def expectations_dir(self) -> Path:
        return self.project_root / "expectations"

    @property
    def pgdata_dir(self) -> Path:
        return self.home / "pgdata"

    @property
    def airflow_home(self) -> Path:
        return self.home / "airflow"

    @property
    def run_dir(self) -> Path:
        """Where per-run artefacts go (dbt target, validation results)."""
        return self.home / "runs"

    @property
    def embedded(self) -> bool:
        return self.warehouse_url is None


def load_settings() -> Settings:
    """Read the environment now (not at import), so tests and the CLI can change it."""
    root = _project_root()
    home = Path(os.environ.get("CLIENTBASE_HOME", root / ".clientbase")).resolve()
    return Settings(
        project_root=root,
        home=home,
        warehouse_url=os.environ.get("CLIENTBASE_WAREHOUSE_URL") or None,
        landing_dir=Path(os.environ.get("CLIENTBASE_LANDING_DIR", home / "landing")).resolve(),
        erp_url=os.environ.get("CLIENTBASE_ERP_URL") or None,
        sfa_url=os.environ.get("CLIENTBASE_SFA_URL") or None,
        airflow_db_name=os.environ.get("CLIENTBASE_AIRFLOW_DB", "airflow"),
        # a scheduler retries a flaky source; an interactive `clientbase run` should fail at once
        extract_retries=int(os.environ.get("CLIENTBASE_EXTRACT_RETRIES", "2")),
    )
