"""Which store `--db` names: a SQLite file's path, or a PostgreSQL URL; and where its raw pages are kept.

The runners and the daemon are given a database as `Path | str` and open it here, so one code path drives both
stores. The PostgreSQL modules (and psycopg) are imported only for a postgresql:// URL: SQLite use never loads them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from ingest.archive.warc import WarcArchive
from ingest.config import Settings
from ingest.storage import HostStateStore, Store

PG_SCHEMES: Final = ("postgresql", "postgres")
PG_WARC_DIR: Final = "warc"  # a PostgreSQL archive's raw pages without `warc_dir`: ./warc, beside the working directory

Database = Path | str  # a SQLite file (a str naming a file is one too), or a postgresql:// URL


def is_postgres(db: Database | os.PathLike[str]) -> bool:
    """True for a postgresql:// (or postgres://) URL."""
    return isinstance(db, str) and db.split("://", 1)[0].lower() in PG_SCHEMES and "://" in db


def open_archive(db: Database) -> Store:
    """The archive for writing, its schema made or upgraded when needed (SQLite: the file too)."""
    if is_postgres(db):
        from ingest.archive.postgres import open_postgres_store

        return open_postgres_store(str(db))
    from ingest.archive.sqlite import open_store

    return open_store(db)


def open_hosts(db: Database) -> HostStateStore:
    """Per-host politeness state on a connection of its own (the fetcher's threads): shared with every process on
    the same database, whichever machine it runs on."""
    if is_postgres(db):
        from ingest.archive.postgres import open_postgres_host_states

        return open_postgres_host_states(str(db))
    from ingest.archive.sqlite import open_host_states

    return open_host_states(db)


def raw_archive(db: Database | os.PathLike[str], settings: Settings) -> WarcArchive:
    """Where the raw pages of the archive `db` are kept: `[settings] warc_dir` when set; else `warc/` beside a
    SQLite database (db/warc/), or ./warc for a PostgreSQL one (workers on several machines share one folder);
    writing nothing when `[settings] warc = false`."""
    if settings.warc_dir:
        root = Path(settings.warc_dir)
    elif is_postgres(db):
        root = Path(PG_WARC_DIR)
    else:
        root = Path(db).parent / "warc"
    return WarcArchive(root, enabled=settings.warc)


def trouble(exc: BaseException) -> str | None:
    """What an error of either store means for the user, in one line (a damaged or locked SQLite file, a PostgreSQL
    server gone or failing: say `describe(db)` before it); None when `exc` is not a database's."""
    if type(exc).__module__.split(".", 1)[0] == "psycopg":  # psycopg is loaded only when a URL was given
        from ingest.archive.postgres import connect_reason

        return connect_reason(exc)
    from ingest.archive.sqlite import database_trouble

    return database_trouble(exc)


def describe(db: Database) -> str:
    """The database for log lines and messages: a SQLite file's path, or a PostgreSQL server and database, never its
    password."""
    if is_postgres(db):
        from ingest.archive.postgres import server_of

        return f"PostgreSQL at {server_of(str(db))}"
    return str(db)
