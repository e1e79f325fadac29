"""A consistent copy of the live database: database file -> backup file, while the daemon goes on writing.

SQLite's online backup API (`sqlite3.Connection.backup`) copies every page in one step, inside one read
transaction: in WAL mode writers are not held up, and the copy is the database as of one commit, never half of a
page's writes. (Copied in several steps, a write by another process restarts the copy, which under a busy daemon
may never end.) The source is opened read-only. The copy is written beside FILE under a temporary name, switched
out of WAL (so it is one self-contained file), checked with PRAGMA integrity_check, and only then renamed onto
FILE: FILE is either what it was or a complete, checked copy, and nothing else is left behind.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from ingest.archive import store


class BackupError(Exception):
    """Why no backup was made, in one line."""


@dataclass(frozen=True)
class Backup:
    """What was written."""

    path: Path
    bytes: int
    articles: int | None  # None when the database has no articles table


def backup(source: Path, target: Path, *, force: bool = False) -> Backup:
    """Copy the database at `source` to `target`; refuses an existing `target` unless `force`."""
    if not source.is_file():
        raise BackupError(f"no database at {source}: {store.CREATE_HINT}")
    if target.is_dir():
        raise BackupError(f"{target} is a folder: give the backup's file name")
    if target.exists() and target.resolve() == source.resolve():
        raise BackupError(f"{target} is the database itself")
    if target.exists() and not force:
        raise BackupError(f"{target} already exists: give --force to replace it")
    if not target.parent.is_dir():
        raise BackupError(f"folder {target.parent} does not exist")
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        with closing(_open_source(source)) as src, closing(sqlite3.connect(partial)) as dst:
            src.backup(dst)  # every page in one step: one snapshot
            dst.execute("PRAGMA journal_mode = DELETE")  # one file, readable without a -wal beside it
            problems = [row[0] for row in dst.execute("PRAGMA integrity_check(5)")]
            if problems != ["ok"]:
                raise BackupError(f"the copy failed PRAGMA integrity_check ({'; '.join(problems)}); {target} "
                                  "was not written: check the database with `sqlite3 news.db 'PRAGMA integrity_check'`")
            has_articles = dst.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'articles'"
                                       ).fetchone()
            articles = dst.execute("SELECT count(*) FROM articles").fetchone()[0] if has_articles else None
        with open(partial, "rb+") as written:
            os.fsync(written.fileno())  # on disk before it takes FILE's name
        os.replace(partial, target)
    except OSError as exc:
        raise BackupError(f"cannot write {target}: {exc.strerror or exc}") from None
    except sqlite3.DatabaseError as exc:  # the source unreadable, or the copy unwritable (disk full, read-only)
        raise BackupError(f"{source} -> {target}: {store.database_trouble(exc)}") from None
    finally:
        for leftover in (partial, *(partial.with_name(partial.name + s) for s in ("-journal", "-wal", "-shm"))):
            leftover.unlink(missing_ok=True)
    return Backup(target, target.stat().st_size, articles)


def _open_source(path: Path) -> sqlite3.Connection:
    """The database to copy, queried only. Opened read-write where it can be: a read-only connection to a WAL database
    leaves the -wal and -shm files its reading created beside it, a read-write one removes them as it closes (unless
    the daemon, holding them open, still needs them). A read-only file or folder: store.open_readonly."""
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True, timeout=store.BUSY_TIMEOUT_MS / 1000)
    except sqlite3.OperationalError:
        return store.open_readonly(path).conn
    try:
        conn.execute("PRAGMA query_only = 1")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError:
        conn.close()
        return store.open_readonly(path).conn
    except BaseException:
        conn.close()
        raise
    return conn
