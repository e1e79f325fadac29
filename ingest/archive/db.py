"""SQLite helpers every module of the archive shares: write transactions and the one time format.

Below the store, views and topics (which all write in transactions), so none of them imports another to get
them: store -> views -> store was a circle that worked only while every import read attributes at call time.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import sqlite_utils


def utcnow() -> str:
    """Now as ISO 8601 UTC with offset, the one time format in the database."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def iso_utc(value: datetime | None) -> str | None:
    """An aware datetime as ISO 8601 in UTC; naive datetimes are taken as UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="seconds")


@contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """One write transaction, taking the write lock up front (BEGIN IMMEDIATE).

    A deferred transaction that reads first fails at once with "database is locked" when another
    writer committed since its read (WAL snapshot), whatever the busy timeout: with two daemon jobs
    and a backfill writing, every read-then-write must start IMMEDIATE so it waits its turn instead.
    """
    if db.conn.in_transaction:
        # Nested: part of the caller's transaction, which an exception leaving it rolls back whole. Not a
        # savepoint: FTS5 writes its pending index out at every savepoint, a segment per article instead of
        # one per transaction (a fifth of the store's time per article at 15k articles, a tenth at 650k).
        yield db
        return
    with immediate(db.conn):
        yield db


@contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE ... COMMIT on `conn`, rolled back if anything inside raises."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
