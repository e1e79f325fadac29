"""Resume cursors in SQLite: how far an interrupted backfill, WARC replay or re-cleaning got.

`cursors` (source, window, stage) -> value is made on first use (a database that never ran a backfill or a replay
has none); `reclean_cursors` (source, scope) -> last article id is made by store.open_db. Writes join the caller's
transaction, so a cursor moves together with the work it records.
"""

from __future__ import annotations

import sqlite_utils

from ingest.archive.db import transaction, utcnow


def create_cursors(db: sqlite_utils.Database) -> None:
    """The resume cursors' table (source, window, stage) -> value; also the WARC replay's (run/replay.py)."""
    if not db.table("cursors").exists():
        with transaction(db):
            db.table("cursors").create({"source": str, "window": str, "stage": str, "value": str,
                                        "updated_at": str}, pk=("source", "window", "stage"), if_not_exists=True)


def save_cursor(db: sqlite_utils.Database, source: str, window: str, stage: str, value: str) -> None:
    """Record how far `stage` of a backfill of `window` got (inside the caller's transaction)."""
    db.execute("INSERT INTO cursors (source, window, stage, value, updated_at) VALUES (?, ?, ?, ?, ?)"
               " ON CONFLICT(source, window, stage) DO UPDATE SET value = excluded.value,"
               " updated_at = excluded.updated_at", [source, window, stage, value, utcnow()])


def read_cursor(db: sqlite_utils.Database, source: str, window: str, stage: str) -> str | None:
    """How far an interrupted backfill of `window` got with `stage`, if it did."""
    row = db.execute("SELECT value FROM cursors WHERE source = ? AND window = ? AND stage = ?",
                     [source, window, stage]).fetchone()
    return str(row[0]) if row else None


def clear_cursors(db: sqlite_utils.Database, source: str, window: str, stage: str | None = None) -> None:
    """Forget the cursors of a finished window (one stage's, or every stage's)."""
    with transaction(db):
        if stage is None:
            db.execute("DELETE FROM cursors WHERE source = ? AND window = ?", [source, window])
        else:
            db.execute("DELETE FROM cursors WHERE source = ? AND window = ? AND stage = ?", [source, window, stage])


def read_reclean_cursor(db: sqlite_utils.Database, source: str, scope: str) -> int:
    """The last article id an interrupted re-cleaning of `scope` finished (0: none)."""
    row = db.execute("SELECT last_id FROM reclean_cursors WHERE source = ? AND scope = ?", [source, scope]).fetchone()
    return int(row[0]) if row else 0


def save_reclean_cursor(db: sqlite_utils.Database, source: str, scope: str, last_id: int) -> None:
    """Record the last article id a re-cleaning of `scope` finished (inside the caller's transaction)."""
    db.execute("INSERT INTO reclean_cursors (source, scope, last_id, updated_at) VALUES (?, ?, ?, ?)"
               " ON CONFLICT(source, scope) DO UPDATE SET last_id = excluded.last_id, updated_at = excluded.updated_at",
               [source, scope, last_id, utcnow()])


def clear_reclean_cursor(db: sqlite_utils.Database, source: str, scope: str) -> None:
    """A re-cleaning of `scope` finished: the next one starts afresh."""
    with transaction(db):
        db.execute("DELETE FROM reclean_cursors WHERE source = ? AND scope = ?", [source, scope])
