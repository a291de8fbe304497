"""A second, real PostgreSQL with password logins (scram-sha-256) for one test module.

The session's embedded warehouse trusts every local login, so it cannot show what happens
with a wrong password, a role without CREATEDB or a database that does not exist; this
server can. Same binaries (the pgserver wheel), its own data folder and free port.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg

from clientbase.warehouse import embedded
from clientbase.warehouse.connection import Server, with_database

SUPERUSER_PASSWORD = "su-Pw-7f3a"


@dataclass(frozen=True)
class PasswordServer:
    superuser_url: str  # database postgres

    @property
    def port(self) -> str:
        return Server.of(self.superuser_url).port

    def url(self, user: str, password: str, database: str) -> str:
        return f"postgresql://{user}:{quote(password, safe='')}@{embedded.HOST}:{self.port}/{database}"

    def execute(self, statement: str, database: str = "postgres") -> list[tuple]:
        with psycopg.connect(with_database(self.superuser_url, database), autocommit=True) as conn:
            cur = conn.execute(statement)
            return cur.fetchall() if cur.description else []

    def role(self, name: str, password: str, *options: str) -> str:
        """Create (or reset) a login role; returns its URL to ``postgres``."""
        exists = self.execute(f"select 1 from pg_roles where rolname = '{name}'")
        verb = "alter" if exists else "create"
        quoted = password.replace("'", "''")
        self.execute(f"{verb} role {name} login password '{quoted}' {' '.join(options)}")
        return self.url(name, password, "postgres")


def start() -> Iterator[PasswordServer]:
    """Start the server; stop and delete it when the generator is closed (a fixture's teardown).

    Its folder is our own temporary directory, not pytest's ``tmp_path_factory``: pytest
    deletes all but the 3 newest base temp dirs, and parallel sessions on the machine
    would delete a running server's data folder under it.
    """
    folder = Path(tempfile.mkdtemp(prefix="clientbase-pw-pg-"))
    pgdata = folder / "pgdata"
    try:
        url = embedded.start_password_server(pgdata, SUPERUSER_PASSWORD)
        yield PasswordServer(url)
    finally:
        embedded.stop_server(pgdata)
        shutil.rmtree(folder, ignore_errors=True)
