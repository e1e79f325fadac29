"""Retention of the fetch log: `fetches` rows older than `[settings] keep_fetches_days` -> deleted.

The log gains a row per page and per failed feed, so a daemon running for years would keep every one. The
daemon prunes a source's old rows after each of its passes, through the (source, time) index, in batches of
PRUNE_BATCH rows each in its own short transaction: the other jobs writing the database wait milliseconds, not
the length of the whole delete. Articles, the frontier and runs are never touched; the rows of a source no
longer in sources.toml are left as they are.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import sqlite_utils

from ingest.archive.db import transaction

PRUNE_BATCH = 1000  # rows per transaction


def fetches_cutoff(days: int, now: datetime | None = None) -> str:
    """The time (ISO 8601 UTC, as stored) before which fetch-log rows go, for `keep_fetches_days = days`."""
    return ((now or datetime.now(UTC)) - timedelta(days=days)).astimezone(UTC).isoformat(timespec="seconds")


def prune_fetches(db: sqlite_utils.Database, source: str, days: int, *, now: datetime | None = None,
                  stop: threading.Event | None = None, batch: int = PRUNE_BATCH) -> int:
    """Delete `source`'s fetch-log rows older than `days` days (0: none); how many went."""
    if days <= 0:
        return 0
    cutoff = fetches_cutoff(days, now)
    deleted = 0
    while stop is None or not stop.is_set():
        with transaction(db):
            count = db.execute("DELETE FROM fetches WHERE id IN (SELECT id FROM fetches WHERE source = ? AND time < ?"
                               " LIMIT ?)", [source, cutoff, batch]).rowcount
        deleted += count
        if count < batch:
            break
    return deleted
