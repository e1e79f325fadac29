"""A real PostgreSQL server for the tests: one per test run, a fresh database per test.

Debian's postgresql 15 (/usr/lib/postgresql/15/bin, or PG_BIN): initdb into a temporary folder, pg_ctl start on
a free loopback port with its socket in that folder, stopped when the run ends. PostgreSQL refuses to run as
root, so as root the server runs as the `postgres` system user (runuser) in a folder chowned to it. Without the
binaries (or psycopg) the tests that need it skip, but fail when CI is set: a CI run must not pass green with
the PostgreSQL store untested.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
SYSTEM_USER = "postgres"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _missing(why: str) -> None:
    """Skip, or fail under CI."""
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL tests cannot run under CI: {why}")
    pytest.skip(why)


class Server:
    """A running PostgreSQL cluster on 127.0.0.1:port whose superuser `postgres` needs no password (trust)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.data = folder / "data"
        self.port = _free_port()
        self._as_postgres = os.geteuid() == 0

    def _run(self, *args: str) -> None:
        command = [*(["runuser", "-u", SYSTEM_USER, "--"] if self._as_postgres else []), *args]
        subprocess.run(command, check=True, capture_output=True, text=True, timeout=120)

    def start(self) -> None:
        if self._as_postgres:
            shutil.chown(self.folder, SYSTEM_USER, SYSTEM_USER)
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--no-sync")
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
                   " -c synchronous_commit=off -c full_page_writes=off")
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.folder / "log"), "-o", options,
                  "-w", "start")

    def stop(self) -> None:
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def dsn(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def create_database(self) -> str:
        """A new empty database; its DSN."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.dsn(name)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Server]:
    """The test run's PostgreSQL server (started on first use, stopped at the end)."""
    if not (PG_BIN / "initdb").exists():
        _missing(f"no PostgreSQL binaries in {PG_BIN}")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _missing("psycopg is not installed (pip install 'ingest[postgres]')")
    folder = Path(tempfile.mkdtemp(prefix="ingest-pg-"))
    server = Server(folder)
    try:
        server.start()
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.fail(f"PostgreSQL did not start: {exc.stderr or exc.stdout}")
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def pg_dsn(pg_server: Server) -> str:
    """A fresh, empty database on the test run's server."""
    return pg_server.create_database()
