"""The one place where clientbase reads its configuration.

Everything comes from environment variables (so Airflow connections / a .env file /
docker-compose can set it) with defaults that make a fresh clone work with nothing but
Python: an embedded PostgreSQL under ``.clientbase/`` and the demo landing folder.
Metric thresholds do not live here: they are dbt vars in ``dbt_project/dbt_project.yml``.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
# A second month close waits this long for the running one, then fails naming it; a run
# that holds the month-close lock but has run no task for STALE_AFTER (killed between two
# tasks, or its scheduler is gone) is taken over. Both in seconds.
MONTH_CLOSE_WAIT_S = 900.0
MONTH_CLOSE_STALE_AFTER_S = 1800.0
# The earliest date a source row may carry (sources.md "Bad rows"): it catches 1C's empty
# date 01.01.0001 and typed years like 0202; a company with older history lowers it.
MIN_SOURCE_DATE = dt.date(2000, 1, 1)
# SQL mode reads each system's tables through this Airflow connection (sources.md).
ERP_CONN_ID = "clientbase_erp"
SFA_CONN_ID = "clientbase_sfa"


class SettingError(ValueError):
    """A configuration value that cannot be used; the message names the variable and the fix."""


def _project_root() -> Path:
    explicit = os.environ.get("CLIENTBASE_PROJECT_DIR")
    if explicit:
        return Path(explicit).resolve()
    # plugins/clientbase/settings.py -> repository root
    return PACKAGE_DIR.parent.parent


@dataclass(frozen=True)
class Notifications:
    """Where a failed task is reported (``clientbase.notify``); both channels off by default."""

    webhook_url: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_starttls: bool = False
    mail_from: str = "clientbase@localhost"
    mail_to: tuple[str, ...] = ()
    timeout_s: float = 10.0

    @property
    def enabled(self) -> bool:
        return bool(self.webhook_url or (self.smtp_host and self.mail_to))


@dataclass(frozen=True)
class Roles:
    """The least-privilege roles ``warehouse/roles.py`` creates (names validated there).

    A password makes a role LOGIN; a role created without one is NOLOGIN (a group role to
    grant to real users). Passwords come only from the environment, never from a file.
    """

    loader: str = "clientbase_loader"
    transformer: str = "clientbase_transformer"
    bi_reader: str = "bi_reader"  # the docker stack's BI role has the same name
    loader_password: str | None = field(default=None, repr=False)
    transformer_password: str | None = field(default=None, repr=False)
    bi_reader_password: str | None = field(default=None, repr=False)


def _roles() -> Roles:
    env = os.environ.get
    return Roles(
        loader=env("CLIENTBASE_LOADER_ROLE") or Roles.loader,
        transformer=env("CLIENTBASE_TRANSFORMER_ROLE") or Roles.transformer,
        bi_reader=env("CLIENTBASE_BI_READER_ROLE") or Roles.bi_reader,
        loader_password=env("CLIENTBASE_LOADER_PASSWORD") or None,
        transformer_password=env("CLIENTBASE_TRANSFORMER_PASSWORD") or None,
        bi_reader_password=env("CLIENTBASE_BI_READER_PASSWORD") or None,
    )


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
    # month close lock (orchestration/month_close_lock.py)
    month_close_wait_s: float = MONTH_CLOSE_WAIT_S
    month_close_stale_after_s: float = MONTH_CLOSE_STALE_AFTER_S
    notifications: Notifications = Notifications()
    roles: Roles = Roles()
    # Least-privilege connections (warehouse/connection.py loader_url / transformer_url):
    # None = the warehouse URL, i.e. everything runs as the owner (the embedded default).
    loader_url: str | None = field(default=None, repr=False)
    transformer_url: str | None = field(default=None, repr=False)
    # Load type rules (load/rules.py) and the GX source suites (run parameter ``min_date``).
    min_source_date: dt.date = MIN_SOURCE_DATE

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
        month_close_wait_s=float(os.environ.get("CLIENTBASE_MONTH_CLOSE_WAIT_S") or MONTH_CLOSE_WAIT_S),
        month_close_stale_after_s=float(os.environ.get("CLIENTBASE_MONTH_CLOSE_STALE_AFTER_S")
                                        or MONTH_CLOSE_STALE_AFTER_S),
        notifications=_notifications(),
        roles=_roles(),
        loader_url=os.environ.get("CLIENTBASE_LOADER_URL") or None,
        transformer_url=os.environ.get("CLIENTBASE_TRANSFORMER_URL") or None,
        min_source_date=min_source_date(),
    )


def min_source_date() -> dt.date:
    """CLIENTBASE_MIN_SOURCE_DATE (default 2000-01-01), validated: it is spliced into SQL.

    It must be a real ``YYYY-MM-DD`` date no later than today, else every row would be
    quarantined; anything else stops with one line naming the variable.
    """
    text = (os.environ.get("CLIENTBASE_MIN_SOURCE_DATE") or "").strip()
    if not text:
        return MIN_SOURCE_DATE
    try:
        value = dt.date.fromisoformat(text)
    except ValueError:
        value = None
    if value is None or len(text) != 10:
        raise SettingError(f"CLIENTBASE_MIN_SOURCE_DATE={text!r} is not a date: write YYYY-MM-DD "
                           f"(e.g. 1995-01-01), or unset it for the default {MIN_SOURCE_DATE.isoformat()}")
    if value > dt.date.today():
        raise SettingError(f"CLIENTBASE_MIN_SOURCE_DATE={text} is in the future, so every dated row would be "
                           "quarantined: set an earlier date (YYYY-MM-DD), or unset it for the default "
                           f"{MIN_SOURCE_DATE.isoformat()}")
    return value


def _notifications() -> Notifications:
    env = os.environ.get
    return Notifications(
        webhook_url=env("CLIENTBASE_NOTIFY_WEBHOOK_URL") or None,
        smtp_host=env("CLIENTBASE_NOTIFY_SMTP_HOST") or None,
        smtp_port=int(env("CLIENTBASE_NOTIFY_SMTP_PORT") or "25"),
        smtp_user=env("CLIENTBASE_NOTIFY_SMTP_USER") or None,
        smtp_password=env("CLIENTBASE_NOTIFY_SMTP_PASSWORD") or None,
        smtp_starttls=(env("CLIENTBASE_NOTIFY_SMTP_STARTTLS") or "").lower() in ("1", "true", "yes"),
        mail_from=env("CLIENTBASE_NOTIFY_MAIL_FROM") or "clientbase@localhost",
        mail_to=tuple(a.strip() for a in (env("CLIENTBASE_NOTIFY_MAIL_TO") or "").split(",") if a.strip()),
        timeout_s=float(env("CLIENTBASE_NOTIFY_TIMEOUT_S") or "10"),
    )
