"""`ingest publish`: a read-only SQLite snapshot of a PostgreSQL archive, for Datasette and for sharing.

DSN + target file -> a new SQLite archive holding the PostgreSQL archive's articles (optionally a window of
publication days, one source), with what a reader needs beside them: each article's revisions, its URL aliases,
its topics (when the PostgreSQL archive has `article_topics`), and the original of every copy chosen, so that
`duplicate_of` never points at nothing; and the fetch log and runs of the same days and source (by their own
times), which the dashboard, the canned queries and `ingest stats`/`sources`/`health` on the file read. Not copied:
the frontier, hosts, resources, cursors (a crawler's working state, not the archive's content), the learned
boilerplate and the near-duplicate band index (only the writer looks copies up).

Reading: one REPEATABLE READ, READ ONLY transaction (a consistent snapshot while the daemon writes; PostgreSQL
refuses any write in it), each table streamed by a server-side cursor in batches of BATCH rows. The SQL that
reads PostgreSQL is here, the tables' definitions in pgschema.py.

Writing: the file is made by the SQLite store itself (sqlite.open_store: the same schema, FTS5 and its triggers, the
views of views.py), into a temporary file beside the target; then its journal mode is set back to DELETE (one
self-contained file, no -wal or -shm), the FTS index is optimized, the file is made read-only (mode 0444) and
renamed over the target. A failure at any point removes the temporary file: no half-made target is left.
psycopg is imported by this module, which only `ingest publish` imports.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Final, LiteralString

import psycopg
import sqlite_utils
from psycopg import sql

from ingest.archive import pgschema, store
from ingest.archive.db import iso_utc, transaction
from ingest.archive.postgres import connect_reason as _reason
from ingest.archive.postgres import server_of
from ingest.archive.sqlite import open_store

BATCH: Final = 1000  # rows fetched from PostgreSQL and written to SQLite at a time
READ_ONLY: Final = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH  # 0444

# The chosen articles: those the filters select, and (recursively) the originals of the copies among them.
CHOSEN: Final = """WITH RECURSIVE chosen (id) AS (
    SELECT id FROM articles WHERE {where}
    UNION
    SELECT a.duplicate_of FROM articles a JOIN chosen c ON a.id = c.id WHERE a.duplicate_of IS NOT NULL)
"""
# table -> the column that ties its rows to a chosen article, and the order its rows are copied in
TABLES: Final[dict[LiteralString, tuple[LiteralString, LiteralString]]] = {
    "articles": ("id", "id"),
    "revisions": ("article_id", "id"),
    "url_aliases": ("article_id", "url_key"),
    "article_topics": ("article_id", "article_id, topic"),
}
# log table -> its time column (the window's days apply to it) and the order its rows are copied in
LOGS: Final[dict[LiteralString, tuple[LiteralString, LiteralString]]] = {
    "fetches": ('"time"', "id"),
    "runs": ("started_at", "id"),
}
NOT_COPIED: Final = frozenset({"fts"})  # PostgreSQL's generated tsvector: SQLite's FTS5 triggers make their own


class PublishError(Exception):
    """The snapshot cannot be made as asked; str() is the one line to show."""


@dataclass
class Published:
    """What a publish wrote: the file and the rows per table."""

    path: Path
    rows: dict[str, int] = field(default_factory=dict)


def _where(since: date | None, until: date | None, source: str | None,
           column: LiteralString = "published_at") -> tuple[sql.Composable, list[Any]]:
    """The filters as SQL on articles (or a log table's time `column`): days in UTC (inclusive), the source."""
    clauses: list[sql.Composable] = [sql.SQL("TRUE")]
    params: list[Any] = []
    if since is not None:
        clauses.append(sql.SQL(column + " >= %s"))
        params.append(datetime.combine(since, time(), UTC))
    if until is not None:
        clauses.append(sql.SQL(column + " < %s"))
        params.append(datetime.combine(until + timedelta(days=1), time(), UTC))
    if source is not None:
        clauses.append(sql.SQL("source = %s"))
        params.append(source)
    return sql.SQL(" AND ").join(clauses), params


def _plain(value: Any) -> Any:
    """A PostgreSQL value as the SQLite archive keeps it: times as ISO 8601 UTC text."""
    return iso_utc(value) if isinstance(value, datetime) else value


def _rows(conn: psycopg.Connection[tuple[Any, ...]], table: LiteralString, where: sql.Composable,
          params: list[Any]) -> Iterator[tuple[list[str], list[tuple[Any, ...]]]]:
    """The table's rows that belong to chosen articles (a log table's: in the window, of the source), in batches of
    BATCH: (column names, rows)."""
    if table in LOGS:
        order = LOGS[table][1]
        query = sql.SQL("SELECT * FROM {table} WHERE {where} ORDER BY {order}").format(
            table=sql.Identifier(table), where=where, order=sql.SQL(order))
    else:
        column, order = TABLES[table]
        query = sql.SQL(CHOSEN + "SELECT * FROM {table} WHERE {column} IN (SELECT id FROM chosen) ORDER BY {order}"
                        ).format(where=where, table=sql.Identifier(table), column=sql.Identifier(column),
                                 order=sql.SQL(order))
    with conn.cursor(name=f"publish_{table}") as cursor:  # server-side: PostgreSQL sends BATCH rows at a time
        cursor.itersize = BATCH
        cursor.execute(query, params)
        while batch := cursor.fetchmany(BATCH):
            names = [d.name for d in cursor.description or ()]
            yield names, batch


def _connect(dsn: str) -> psycopg.Connection[tuple[Any, ...]]:
    """A connection in a REPEATABLE READ, READ ONLY transaction on an ingest archive; PublishError otherwise."""
    where = server_of(dsn)
    try:
        conn = psycopg.connect(dsn, connect_timeout=10)
    except psycopg.Error as exc:
        raise PublishError(f"cannot reach PostgreSQL at {where}: {_reason(exc)}") from None
    try:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        conn.execute("SET TIME ZONE 'UTC'")
        version = pgschema.schema_version(conn)
    except BaseException:
        conn.close()
        raise
    if version != store.SCHEMA_VERSION:
        conn.close()
        found = "no ingest archive" if version == 0 else f"an archive of schema {version}"
        raise PublishError(f"PostgreSQL at {where}: {found} (this ingest publishes schema {store.SCHEMA_VERSION})")
    return conn


def _copy(conn: psycopg.Connection[tuple[Any, ...]], db: sqlite_utils.Database,
          filters: dict[str, tuple[sql.Composable, list[Any]]]) -> dict[str, int]:
    """Every chosen table's rows into the SQLite archive, batch by batch; the rows per table. `filters`: a table's
    WHERE and its parameters ("articles" for the article tables)."""
    counts: dict[str, int] = {}
    present = {name for name in (*TABLES, *LOGS)
               if conn.execute("SELECT to_regclass(%s)", [name]).fetchone() != (None,)}
    for table in (*TABLES, *LOGS):  # articles first: the others refer to them
        counts[table] = 0
        if table not in present:
            continue
        wanted = set(db[table].columns_dict)
        where, params = filters.get(table, filters["articles"])
        for names, batch in _rows(conn, table, where, params):
            keep = [i for i, name in enumerate(names) if name in wanted and name not in NOT_COPIED]
            columns = ", ".join(f'"{names[i]}"' for i in keep)
            marks = ", ".join("?" for _ in keep)
            with transaction(db):
                db.conn.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})",
                                    [[_plain(row[i]) for i in keep] for row in batch])
            counts[table] += len(batch)
    return counts


def _finish(db: sqlite_utils.Database) -> None:
    """Make the written archive a snapshot to share: FTS optimized, statistics gathered, one file (no WAL)."""
    db.execute("INSERT INTO articles_fts (articles_fts) VALUES ('optimize')")
    db.execute("ANALYZE")
    db.execute("PRAGMA journal_mode = DELETE")


def _remove(path: Path) -> None:
    for each in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm"),
                 path.with_name(path.name + "-journal")):
        with contextlib.suppress(FileNotFoundError):
            each.unlink()


def publish(dsn: str, target: Path, *, since: date | None = None, until: date | None = None,
            source: str | None = None, force: bool = False) -> Published:
    """Write the chosen part of the PostgreSQL archive at `dsn` to a new read-only SQLite archive at `target`."""
    if target.is_dir():
        raise PublishError(f"{target} is a folder: give the file to write with --to")
    if target.exists() and not force:
        raise PublishError(f"{target} exists: give --force to replace it")
    if not target.parent.is_dir():
        raise PublishError(f"{target.parent} is not a folder")
    filters = {"articles": _where(since, until, source),
               **{table: _where(since, until, source, column) for table, (column, _) in LOGS.items()}}
    conn = _connect(dsn)
    try:
        handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
        os.close(handle)
        partial = Path(name)
        try:
            archive = open_store(partial)  # the SQLite archive's own schema, FTS5 triggers and views
            try:
                counts = _copy(conn, archive.db, filters)
                _finish(archive.db)
            finally:
                archive.close()
            partial.chmod(READ_ONLY)
            if force:
                os.replace(partial, target)
            else:  # never replace a file that appeared meanwhile
                try:
                    os.link(partial, target)
                except FileExistsError:
                    raise PublishError(f"{target} exists: give --force to replace it") from None
                partial.unlink()
        except BaseException:
            _remove(partial)
            raise
    except psycopg.Error as exc:  # the server went away, or a table is not what pgschema.py makes
        raise PublishError(f"PostgreSQL at {server_of(dsn)}: {_reason(exc)}") from None
    except sqlite3.Error as exc:  # the disk filled up, the folder turned read-only
        raise PublishError(f"{target}: {exc}") from None
    finally:
        conn.close()
    return Published(target, counts)
