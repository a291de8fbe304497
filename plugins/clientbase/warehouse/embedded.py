"""An embedded PostgreSQL started from the binaries of the ``pgserver`` wheel.

Why not ``pgserver.get_server()``: it listens on a Unix socket only, while Great
Expectations, Airflow connections and BI tools need a TCP host. So we drive the same
binaries (``initdb``/``pg_ctl``) ourselves and listen on 127.0.0.1. As root, PostgreSQL
refuses to run, so like pgserver we run it as a dedicated OS user.

The data directory lives under ``$CLIENTBASE_HOME/pgdata`` and the server is reused
across runs: starting it is idempotent and safe to call from several processes.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

SUPERUSER = "postgres"
HOST = "127.0.0.1"
DEFAULT_PORT = 54329
OS_USER_WHEN_ROOT = "pgserver"
SERVER_OPTIONS = {
    # TCP on loopback only; no Unix socket (its path could exceed 107 bytes under a deep home).
    "listen_addresses": HOST,
    "unix_socket_directories": "",
    "max_connections": "100",
    "shared_buffers": "256MB",
    "work_mem": "64MB",
    "maintenance_work_mem": "256MB",
    # the data lives on the machine's own disk and mostly in its page cache: with the default 4 the
    # planner hashed all 17 M versions of raw.shipments rather than probe the key index for the
    # rows of the months a close reads (5.4 s -> 1.5 s at size L; warehouse/schema.py raw_table_ddl)
    "random_page_cost": "1.1",
    "max_wal_size": "2GB",
    "timezone": "UTC",
}


def _bin(name: str) -> str:
    from pgserver._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / name)


def _run_as() -> dict:
    """subprocess kwargs that drop root privileges for the PostgreSQL binaries."""
    if os.geteuid() != 0:
        return {}
    return {"user": OS_USER_WHEN_ROOT, "group": OS_USER_WHEN_ROOT}


def _prepare_permissions(pgdata: Path) -> None:
    if os.geteuid() != 0:
        return
    import pwd
    import stat

    from pgserver._commands import POSTGRES_BIN_PATH
    from pgserver.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

    ensure_user_exists(OS_USER_WHEN_ROOT)
    read = stat.S_IRGRP | stat.S_IROTH
    execute = stat.S_IXGRP | stat.S_IXOTH
    ensure_prefix_permissions(pgdata)
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    ensure_folder_permissions(POSTGRES_BIN_PATH, read | execute)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", read)
    entry = pwd.getpwnam(OS_USER_WHEN_ROOT)
    os.chown(pgdata, entry.pw_uid, entry.pw_gid)


@contextmanager
def _lock(home: Path) -> Iterator[None]:
    home.mkdir(parents=True, exist_ok=True)
    with open(home / ".pg.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
        return True


def _free_port(preferred: int) -> int:
    if _port_free(preferred):
        return preferred
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _running_port(pgdata: Path) -> int | None:
    """Port of the server that owns ``pgdata``, if its postmaster is alive."""
    pid_file = pgdata / "postmaster.pid"
    try:
        lines = pid_file.read_text().splitlines()
    except (FileNotFoundError, PermissionError):
        return None
    if len(lines) < 4:
        return None
    pid, port = int(lines[0]), int(lines[3])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, owned by the postgres OS user
    ready = subprocess.run(
        [_bin("pg_isready"), "-h", HOST, "-p", str(port), "-q"], check=False
    ).returncode
    return port if ready == 0 else None


def _initdb(pgdata: Path, auth: tuple[str, ...] = ("--auth=trust",)) -> None:
    log.info("initialising embedded PostgreSQL in %s", pgdata)
    result = subprocess.run(
        [_bin("initdb"), "-D", str(pgdata), *auth, "--encoding=UTF8",
         "--no-locale", "-U", SUPERUSER],
        check=False, capture_output=True, text=True, **_run_as(),
    )
    if result.returncode != 0:
        raise RuntimeError(f"initdb failed for {pgdata} (exit {result.returncode}): "
                           f"{result.stderr.strip() or result.stdout.strip()}")


def _start(pgdata: Path, port: int) -> None:
    options = " ".join(f"-c {key}={value!r}" if value == "" else f"-c {key}={value}"
                       for key, value in {**SERVER_OPTIONS, "port": str(port)}.items())
    logfile = pgdata / "server.log"
    result = subprocess.run(
        [_bin("pg_ctl"), "-D", str(pgdata), "-w", "-t", "60", "-l", str(logfile), "-o", options, "start"],
        check=False, capture_output=True, text=True, **_run_as(),
    )
    if result.returncode != 0:
        tail = logfile.read_text()[-2000:] if logfile.exists() else ""
        raise RuntimeError(
            f"embedded PostgreSQL did not start (pg_ctl exit {result.returncode}): "
            f"{result.stderr.strip()}\n{tail}\nLook at {logfile}; delete {pgdata} to start afresh."
        )


def ensure_running(home: Path, databases: tuple[str, ...] = ("clientbase",)) -> str:
    """Start (or reuse) the embedded server; create ``databases``; return the first one's URL."""
    pgdata = home / "pgdata"
    with _lock(home):
        port = _running_port(pgdata)
        if port is None:
            pgdata.mkdir(parents=True, exist_ok=True)
            _prepare_permissions(pgdata)
            if not (pgdata / "PG_VERSION").exists():
                _initdb(pgdata)
            port_file = home / "pg.port"
            preferred = int(port_file.read_text()) if port_file.exists() else DEFAULT_PORT
            port = _free_port(preferred)
            started = time.monotonic()
            _start(pgdata, port)
            port_file.write_text(str(port))
            log.info("embedded PostgreSQL up on %s:%s in %.1fs", HOST, port, time.monotonic() - started)
        _create_databases(port, databases)
    return url_for(port, databases[0])


def url_for(port: int, database: str) -> str:
    return f"postgresql://{SUPERUSER}@{HOST}:{port}/{database}"


def _create_databases(port: int, databases: tuple[str, ...]) -> None:
    import psycopg

    with psycopg.connect(url_for(port, "postgres"), autocommit=True) as conn:
        existing = {row[0] for row in conn.execute("select datname from pg_database")}
        for name in databases:
            if name not in existing:
                conn.execute(f'create database "{name}"')


def stop(home: Path) -> bool:
    """Stop the embedded server if it runs. Returns whether one was stopped."""
    pgdata = home / "pgdata"
    with _lock(home):
        if _running_port(pgdata) is None:
            return False
        subprocess.run([_bin("pg_ctl"), "-D", str(pgdata), "-w", "-m", "fast", "stop"],
                       check=True, capture_output=True, text=True, **_run_as())
        return True


def start_password_server(pgdata: Path, superuser_password: str) -> str:
    """A separate server from the same binaries, with scram-sha-256 password logins over TCP.

    Why: the embedded warehouse trusts every local login, so it cannot show what a user's
    own server does with a wrong password, a role without CREATEDB or a missing database.
    Tests start one of these on a free port; returns the superuser's URL (database
    ``postgres``). Stop it with :func:`stop_server`.
    """
    pgdata.mkdir(parents=True, exist_ok=True)
    _prepare_permissions(pgdata)
    pwfile = pgdata.parent / f"{pgdata.name}.pw"
    pwfile.write_text(superuser_password + "\n")
    if os.geteuid() == 0:
        import pwd

        entry = pwd.getpwnam(OS_USER_WHEN_ROOT)
        os.chown(pwfile, entry.pw_uid, entry.pw_gid)
    try:
        _initdb(pgdata, ("--auth=scram-sha-256", f"--pwfile={pwfile}"))
    finally:
        pwfile.unlink()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port = sock.getsockname()[1]
    _start(pgdata, port)
    from urllib.parse import quote

    return f"postgresql://{SUPERUSER}:{quote(superuser_password, safe='')}@{HOST}:{port}/postgres"


def stop_server(pgdata: Path) -> None:
    """Stop a server started by :func:`start_password_server` (fast shutdown), if it still runs."""
    if _running_port(pgdata) is None:
        return
    result = subprocess.run([_bin("pg_ctl"), "-D", str(pgdata), "-w", "-m", "fast", "stop"],
                            check=False, capture_output=True, text=True, **_run_as())
    if result.returncode != 0:
        raise RuntimeError(f"pg_ctl stop failed for {pgdata} (exit {result.returncode}): "
                           f"{result.stderr.strip() or result.stdout.strip()}")
