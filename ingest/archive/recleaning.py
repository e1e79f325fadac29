"""Which stored articles re-cleaning reads, in SQLite: those with a raw page, chosen by storage.Recleaning.

selection -> (SQL, parameters) of (id, url, warc_file, warc_offset, warc_length); counted, or read a batch at a
time in id order after an id (the re-cleaning's cursor).
"""

from __future__ import annotations

from typing import Any

import sqlite_utils

from ingest.models import WarcRef
from ingest.storage import Recleaning, StoredPage


def _selection(selection: Recleaning) -> tuple[str, list[Any]]:
    sql = ("SELECT id, url, warc_file, warc_offset, warc_length FROM articles"
           " WHERE source = ? AND warc_file IS NOT NULL")
    params: list[Any] = [selection.source]
    if selection.since is not None:
        sql += " AND substr(published_at, 1, 10) >= ?"
        params.append(selection.since.isoformat())
    elif not selection.everything:
        sql += " AND (coalesce(adapter_version, 0) < ? OR coalesce(learned_rev, 0) < ?)"
        params += [selection.adapter_version, selection.learned_rev]
    return sql, params


def count_pages(db: sqlite_utils.Database, selection: Recleaning, after: int = 0) -> int:
    """How many articles of the selection have an id above `after`."""
    sql, params = _selection(selection)
    return int(db.execute(f"SELECT count(*) FROM ({sql}) WHERE id > ?", [*params, after]).fetchone()[0])


def stored_pages(db: sqlite_utils.Database, selection: Recleaning, after: int, limit: int) -> list[StoredPage]:
    """The next `limit` articles of the selection by id, above `after`."""
    sql, params = _selection(selection)
    rows = db.execute(f"SELECT id, url, warc_file, warc_offset, warc_length FROM ({sql}) WHERE id > ?"
                      f" ORDER BY id LIMIT {int(limit)}", [*params, after]).fetchall()
    return [StoredPage(article_id, url, WarcRef(file, int(offset), int(length)))
            for article_id, url, file, offset, length in rows]


def count_without_raw_page(db: sqlite_utils.Database, source: str) -> int:
    """Articles of `source` stored before pages were archived (or whose page was never kept)."""
    return int(db.execute("SELECT count(*) FROM articles WHERE source = ? AND warc_file IS NULL",
                          [source]).fetchone()[0])
