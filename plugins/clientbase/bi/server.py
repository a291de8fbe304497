"""Superset for ``clientbase bi``: its own virtual environment, metadata, import, and a server.

Superset 6.1's pins clash with Airflow's, so it lives in a virtual environment of its own
(``CLIENTBASE_SUPERSET_VENV``, default ``.venv-superset`` beside the project), installed once
and reused: the stamp file records the requirements, and a change reinstalls. Superset's own
metadata (users, dashboards) goes into SQLite under ``$CLIENTBASE_HOME/superset/``; that is
Superset's internal store, never the warehouse, which it reads as ``bi_reader``.

Local secrets: ``SUPERSET_SECRET_KEY``, ``CLIENTBASE_BI_ADMIN_PASSWORD`` and
``CLIENTBASE_BI_READER_PASSWORD`` come from the environment; for the embedded demo, any of
them unset is generated once and kept in a 0600 file under ``$CLIENTBASE_HOME/superset/``
(beside the embedded server's own data), never printed, never on a command line.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from clientbase.bi import access, bundle
from clientbase.bi.definitions import LANGUAGES

log = logging.getLogger(__name__)

SUPERSET_VERSION = "6.1.0"
# Superset 6.1 from PyPI imports these without declaring them (rich, cachetools), and breaks
# with flask-caching 2.3.1+; psycopg2 is the warehouse driver (the same pin as constraints.txt).
REQUIREMENTS = (f"apache-superset=={SUPERSET_VERSION}", "rich", "cachetools", "flask-caching<2.3.1",
                "psycopg2-binary==2.9.13")
SUPERSET_SIDE = Path(__file__).with_name("superset_side.py")
HOST = "127.0.0.1"
DEFAULT_PORT = 8088
ADMIN_USERNAME = "admin"
START_TIMEOUT_S = 180


class BiError(RuntimeError):
    """Superset could not be installed, set up or started; the message says what to do next."""


@dataclass(frozen=True)
class BiSettings:
    """Where and how ``clientbase bi`` runs Superset (environment variables, README "BI")."""

    venv: Path
    home: Path
    language: str = "ru"
    port: int = DEFAULT_PORT
    admin_username: str = ADMIN_USERNAME
    admin_password: str | None = field(default=None, repr=False)
    secret_key: str | None = field(default=None, repr=False)
    bi_reader_password: str | None = field(default=None, repr=False)
    user_password: str | None = field(default=None, repr=False)

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def config_path(self) -> Path:
        return self.home / "superset_config.py"

    @property
    def pidfile(self) -> Path:
        return self.home / "superset.pid"

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


def load_bi_settings(project_root: Path, clientbase_home: Path, **overrides) -> BiSettings:
    env = os.environ.get
    language = overrides.pop("language", None) or env("CLIENTBASE_BI_LANGUAGE") or "ru"
    if language not in LANGUAGES:
        raise BiError(f"CLIENTBASE_BI_LANGUAGE={language!r}: use one of {', '.join(LANGUAGES)}")
    port = overrides.pop("port", None) or int(env("CLIENTBASE_BI_PORT") or DEFAULT_PORT)
    return BiSettings(
        venv=Path(env("CLIENTBASE_SUPERSET_VENV") or project_root / ".venv-superset").resolve(),
        home=(clientbase_home / "superset").resolve(),
        language=language,
        port=port,
        admin_username=env("CLIENTBASE_BI_ADMIN_USERNAME") or ADMIN_USERNAME,
        admin_password=env("CLIENTBASE_BI_ADMIN_PASSWORD") or None,
        secret_key=env("SUPERSET_SECRET_KEY") or None,
        bi_reader_password=env("CLIENTBASE_BI_READER_PASSWORD") or None,
        user_password=env("CLIENTBASE_BI_USER_PASSWORD") or None,
        **overrides,
    )


def _stamp(settings: BiSettings) -> Path:
    return settings.venv / ".clientbase-requirements"


def ensure_venv(settings: BiSettings) -> None:
    """Install Superset into its own venv unless the same requirements are installed there."""
    wanted = "\n".join(REQUIREMENTS)
    stamp = _stamp(settings)
    if settings.python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return
    log.info("installing Superset %s into %s (once; about 2 minutes)", SUPERSET_VERSION, settings.venv)
    started = time.monotonic()
    try:
        if not settings.python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(settings.venv)], check=True)
        subprocess.run([str(settings.python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
        subprocess.run([str(settings.python), "-m", "pip", "install", "--quiet", *REQUIREMENTS], check=True)
    except subprocess.CalledProcessError as exc:
        raise BiError(f"installing Superset into {settings.venv} failed ({exc}): check that PyPI is reachable, "
                      f"or delete {settings.venv} and retry") from exc
    stamp.write_text(wanted)
    log.info("Superset installed in %.0f s", time.monotonic() - started)


def _secret(settings: BiSettings, value: str | None, name: str) -> str:
    """``value`` (from the environment), or the one generated earlier into a 0600 file."""
    if value:
        return value
    path = settings.home / name
    if path.exists():
        return path.read_text().strip()
    settings.home.mkdir(parents=True, exist_ok=True)
    generated = secrets.token_urlsafe(24)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(generated)
    return generated


def admin_password(settings: BiSettings) -> str:
    return _secret(settings, settings.admin_password, "admin_password")


def admin_password_source(settings: BiSettings) -> str:
    """Where the admin's password is (for the message; the password itself is never printed)."""
    return "CLIENTBASE_BI_ADMIN_PASSWORD" if settings.admin_password else str(settings.home / "admin_password")


CONFIG_TEMPLATE = '''"""Written by `clientbase bi` (plugins/clientbase/bi/server.py): do not edit."""
import os

SECRET_KEY = os.environ["SUPERSET_SECRET_KEY"]
# Superset's own metadata only (users, dashboards); the warehouse is PostgreSQL, read as bi_reader.
SQLALCHEMY_DATABASE_URI = {metadata_uri!r}
# Without LANGUAGES Superset 6 has no locale to serve and the Russian login page renders blank.
LANGUAGES = {{"ru": {{"flag": "ru", "name": "Русский"}}, "en": {{"flag": "us", "name": "English"}}}}
BABEL_DEFAULT_LOCALE = {language!r}
# Render every chart of a dashboard at once (the browser test waits for all of them).
FEATURE_FLAGS = {{"DASHBOARD_VIRTUALIZATION": False, "DASHBOARD_RBAC": False}}
# Served on 127.0.0.1 over plain HTTP for one user at a time.
TALISMAN_ENABLED = False
RATELIMIT_ENABLED = False
SUPERSET_WEBSERVER_TIMEOUT = 120
# Numbers as the dashboards' language writes them (1 234,5 in Russian); amounts carry no currency.
D3_FORMAT = {d3_format!r}
'''


D3_FORMATS = {"ru": {"decimal": ",", "thousands": "\u00a0", "grouping": [3], "currency": ["", ""]},
              "en": {"decimal": ".", "thousands": ",", "grouping": [3], "currency": ["", ""]}}


def write_config(settings: BiSettings) -> None:
    settings.home.mkdir(parents=True, exist_ok=True)
    text = CONFIG_TEMPLATE.format(metadata_uri=f"sqlite:///{settings.home / 'superset.db'}",
                                  language=settings.language, d3_format=D3_FORMATS[settings.language])
    settings.config_path.write_text(text, encoding="utf-8")


def superset_env(settings: BiSettings, **extra: str) -> dict[str, str]:
    env = {**os.environ, "SUPERSET_CONFIG_PATH": str(settings.config_path), "SUPERSET_HOME": str(settings.home),
           "SUPERSET_SECRET_KEY": _secret(settings, settings.secret_key, "secret_key"),
           "FLASK_APP": "superset.app:create_app()", "SCARF_ANALYTICS": "false", "PYTHONUNBUFFERED": "1", **extra}
    # clientbase's own settings must not leak into Superset's interpreter
    env.pop("PYTHONPATH", None)
    return env


def _run(settings: BiSettings, argv: list[str], what: str, **env: str) -> str:
    log_path = settings.home / "setup.log"
    started = time.monotonic()
    result = subprocess.run(argv, env=superset_env(settings, **env), capture_output=True, text=True)
    with open(log_path, "a", encoding="utf-8") as handle:
        handle.write(f"$ {' '.join(argv[:4])} …\n{result.stderr}\n")
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-15:])
        raise BiError(f"{what} failed (exit {result.returncode}); the last lines:\n{tail}\nfull log: {log_path}")
    log.info("%s: done in %.0f s", what, time.monotonic() - started)
    return result.stdout


def init_metadata(settings: BiSettings) -> None:
    """``superset db upgrade``, the admin user, ``superset init`` (each safe to repeat)."""
    superset = str(settings.venv / "bin" / "superset")
    _run(settings, [superset, "db", "upgrade"], "superset db upgrade")
    _run(settings, [str(settings.python), "-c", ENSURE_ADMIN], "the Superset admin user",
         CLIENTBASE_BI_ADMIN_USERNAME=settings.admin_username, CLIENTBASE_BI_ADMIN_PASSWORD=admin_password(settings))
    _run(settings, [superset, "init"], "superset init")


# The admin created from the environment, so the password is never on a command line
# (`superset fab create-admin --password` would put it in the process list).
ENSURE_ADMIN = """
import os
from superset.app import create_app
app = create_app()
with app.app_context():
    from superset import security_manager
    name = os.environ["CLIENTBASE_BI_ADMIN_USERNAME"]
    if security_manager.find_user(username=name) is None:
        user = security_manager.add_user(name, "Superset", "Admin", name + "@clientbase.invalid",
                                         security_manager.find_role("Admin"),
                                         password=os.environ["CLIENTBASE_BI_ADMIN_PASSWORD"])
        if not user:
            raise SystemExit("could not create the Superset admin user " + name)
"""


def import_bundle(settings: BiSettings, warehouse_uri: str, spec: dict, bundle_dir: Path | None = None) -> dict:
    """Import the language's bundle and the access spec; the importer's JSON summary."""
    bundle_dir = bundle_dir or bundle.REPO_BUNDLE_DIR / settings.language
    spec_path = settings.home / "access.json"
    spec_path.write_text(json.dumps(spec, indent=1, ensure_ascii=False), encoding="utf-8")
    extra = {"CLIENTBASE_BI_WAREHOUSE_URI": warehouse_uri, "CLIENTBASE_BI_ADMIN_USERNAME": settings.admin_username}
    if settings.user_password:
        extra["CLIENTBASE_BI_USER_PASSWORD"] = settings.user_password
    out = _run(settings, [str(settings.python), str(SUPERSET_SIDE), "import", "--bundle", str(bundle_dir),
                          "--access", str(spec_path)], f"importing the {settings.language} dashboards", **extra)
    return json.loads(out.strip().splitlines()[-1])


def running_pid(settings: BiSettings) -> int | None:
    try:
        pid = int(settings.pidfile.read_text())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
        return None
    return pid


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((HOST, port)) != 0


def healthy(settings: BiSettings) -> bool:
    try:
        with urllib.request.urlopen(f"{settings.url}/health", timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def serve(settings: BiSettings, workers: int = 1, threads: int = 8) -> int:
    """Start Superset (gunicorn) in the background on 127.0.0.1; wait until it answers /health."""
    pid = running_pid(settings)
    if pid is not None:
        stop(settings)
    if not _port_free(settings.port):
        raise BiError(f"port {settings.port} on {HOST} is taken: set CLIENTBASE_BI_PORT (or --port) to a free one")
    log_path = settings.home / "server.log"
    gunicorn = str(settings.venv / "bin" / "gunicorn")
    argv = [gunicorn, "--bind", f"{HOST}:{settings.port}", "--workers", str(workers), "--threads", str(threads),
            "--worker-class", "gthread", "--timeout", "120", "--limit-request-line", "0",
            "--limit-request-field_size", "0", "superset.app:create_app()"]
    with open(log_path, "ab") as handle:
        process = subprocess.Popen(argv, env=superset_env(settings), stdout=handle, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    settings.pidfile.write_text(str(process.pid))
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BiError(f"Superset exited at start (code {process.returncode}): see {log_path}")
        if healthy(settings):
            log.info("Superset up on %s (pid %s)", settings.url, process.pid)
            return process.pid
        time.sleep(1)
    stop(settings)
    raise BiError(f"Superset did not answer {settings.url}/health within {START_TIMEOUT_S} s: see {log_path}")


def stop(settings: BiSettings) -> bool:
    """Stop the Superset this home started (its process group); False when none was running."""
    pid = running_pid(settings)
    if pid is None:
        return False
    os.killpg(pid, signal.SIGTERM)
    for _ in range(50):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        os.killpg(pid, signal.SIGKILL)
    settings.pidfile.unlink(missing_ok=True)
    return True


def bi_reader_uri(owner_url: str, role: str, password: str) -> str:
    """The warehouse URL as Superset's SQLAlchemy URI, logged in as ``bi_reader``."""
    from sqlalchemy.engine import make_url

    url = make_url(owner_url).set(drivername="postgresql+psycopg2", username=role, password=password)
    return url.render_as_string(hide_password=False)


def ensure_bi_reader(settings: BiSettings, owner_url: str) -> str:
    """bi_reader with a login (its password from the environment or generated), as a Superset URI.

    Re-applies the warehouse roles (``clientbase roles``) with that password, then checks that
    bi_reader can log in and read ``reporting``, so a wrong setup fails here and not in a chart.
    """
    import dataclasses

    import psycopg

    from clientbase.settings import load_settings
    from clientbase.warehouse import roles, schema
    from clientbase.warehouse.connection import connect

    names = load_settings().roles
    password = _secret(settings, settings.bi_reader_password or names.bi_reader_password, "bi_reader_password")
    names = dataclasses.replace(names, bi_reader_password=password)
    with connect(owner_url) as conn:
        schema.ensure_schema(conn)
        report = roles.ensure_roles(conn, names)
    if report.refused:
        raise BiError(f"could not give {names.bi_reader} its login: {report.summary()}; run `clientbase roles` "
                      "as a superuser with CLIENTBASE_BI_READER_PASSWORD set")
    uri = bi_reader_uri(owner_url, names.bi_reader, password)
    plain = uri.replace("postgresql+psycopg2://", "postgresql://", 1)
    try:
        with psycopg.connect(plain, connect_timeout=10) as conn:
            conn.execute("select count(*) from reporting.publications").fetchone()
    except psycopg.Error as exc:
        raise BiError(f"{names.bi_reader} cannot read reporting ({str(exc).strip().splitlines()[0]}): "
                      "run `clientbase roles` with CLIENTBASE_BI_READER_PASSWORD set, then retry") from exc
    return uri


def managers_for_access(warehouse_uri: str) -> list[str]:
    import psycopg

    with psycopg.connect(warehouse_uri.replace("postgresql+psycopg2://", "postgresql://", 1)) as conn:
        return access.published_managers(conn)


@dataclass
class Provisioned:
    url: str
    admin_username: str
    admin_password_source: str
    summary: dict
    managers: list[str]


def provision(settings: BiSettings, owner_url: str, serve_it: bool = True) -> Provisioned:
    """Everything ``clientbase bi`` does: venv, metadata, bi_reader, import, access, server."""
    ensure_venv(settings)
    write_config(settings)
    warehouse_uri = ensure_bi_reader(settings, owner_url)
    init_metadata(settings)
    managers = managers_for_access(warehouse_uri)
    spec = access.access_spec(managers, settings.user_password)
    summary = import_bundle(settings, warehouse_uri, spec)
    if serve_it:
        serve(settings)
    return Provisioned(settings.url, settings.admin_username, admin_password_source(settings), summary, managers)
