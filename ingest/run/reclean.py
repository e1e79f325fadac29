"""Re-cleaning stored articles from their raw pages, with today's adapter and what the source learned since.

Contract: `reclean_source(db, archive, source, ...)` re-extracts a source's stored articles from the raw pages
kept in the WARC archive (ingest/warc.py): by default the stale ones (cleaned by an older adapter version,
or before the source's learned boilerplate last changed), with `since` those published on or after a day,
with `everything` all of them. Each article keeps its id, URL and `duplicate_of`; its text, metadata, FTS
row, near-duplicate fingerprint, topics and `learned_rev` follow the new cleaning, all in the article's
transaction. No revision is recorded: the page did not change, its cleaning did. Idempotent (a second run has
nothing stale left, or finds every text unchanged) and resumable (stale articles drop out as they are done;
a `since`/`everything` run keeps a cursor per source and scope in `reclean_cursors`, cleared when it ends).
Pages are cleaned in the parse worker pool, under its per-page timeout, like fetched pages.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlite_utils

from ingest.archive import store
from ingest.archive.db import transaction, utcnow
from ingest.archive.topics import match_topics, save_topics
from ingest.archive.warc import WarcArchive, WarcError, WarcRef
from ingest.clean import learn
from ingest.clean.adapters import ADAPTERS, get_adapter
from ingest.config import Source, Topic
from ingest.models import Learned, Rejected
from ingest.run.parsing import parse_isolated
from ingest.run.workers import WorkerPool
from ingest.urls import url_key

log = logging.getLogger("ingest")

BATCH = 32  # articles read, cleaned and written together


@dataclass
class RecleanSummary:
    """What one reclean of one source did."""

    source: str
    candidates: int = 0
    recleaned: int = 0  # text or metadata changed
    unchanged: int = 0
    rejected: Counter[str] = field(default_factory=Counter)  # the stored article is kept as it was
    no_raw_page: int = 0  # stored before pages were archived, or its WARC file was pruned
    stopped: bool = False

    def line(self) -> str:
        """One line for the terminal."""
        rejected = f" ({', '.join(f'{k}: {v}' for k, v in self.rejected.most_common())})" if self.rejected else ""
        return (f"{self.source}: {self.recleaned} re-cleaned, {self.unchanged} unchanged, "
                f"{sum(self.rejected.values())} kept as they were{rejected}, {self.no_raw_page} without a raw page"
                + (" (stopped: run it again to continue)" if self.stopped else ""))


def stale_count(db: sqlite_utils.Database, source: Source) -> int:
    """Articles of `source` with a raw page that an older adapter or older learned boilerplate cleaned."""
    sql, params = _selection(db, source, None, False)
    return int(db.execute(f"SELECT count(*) FROM ({sql})", params).fetchone()[0])


def reclean_source(db: sqlite_utils.Database, archive: WarcArchive, source: Source, pool: WorkerPool, *,
                   since: date | None = None, everything: bool = False, topics: Mapping[str, Topic] | None = None,
                   stop: threading.Event | None = None, on_total: Callable[[int], None] | None = None,
                   on_done: Callable[[str], None] | None = None, workers: int = 2) -> RecleanSummary:
    """Re-clean `source`'s stored articles (stale ones, or since a day, or all); see the module docstring."""
    stop = stop or threading.Event()
    summary = RecleanSummary(source.slug)
    scope = "all" if everything else f"since:{since.isoformat()}" if since else ""
    sql, params = _selection(db, source, since, everything)
    after = _cursor(db, source.slug, scope) if scope else 0
    summary.candidates = int(db.execute(f"SELECT count(*) FROM ({sql}) WHERE id > ?", [*params, after]).fetchone()[0])
    summary.no_raw_page = int(db.execute(
        "SELECT count(*) FROM articles WHERE source = ? AND warc_file IS NULL", [source.slug]).fetchone()[0])
    if on_total:
        on_total(summary.candidates)
    adapter = get_adapter(source.adapter)
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix=f"reclean-{source.slug}") as threads:
        while not stop.is_set():
            rows = db.execute(f"SELECT id, url, warc_file, warc_offset, warc_length FROM ({sql}) WHERE id > ?"
                              f" ORDER BY id LIMIT {BATCH}", [*params, after]).fetchall()
            if not rows:
                break
            learned = learn.learned(db, source.slug, keep=source.keep, junk=source.junk)
            results = list(threads.map(functools.partial(_clean, archive, pool, adapter, source, learned), rows))
            with transaction(db):
                for row, result in zip(rows, results, strict=True):
                    outcome = _store(db, source, row, result, topics, summary)
                    if on_done:
                        on_done(outcome)
                after = rows[-1][0]
                if scope:
                    _save_cursor(db, source.slug, scope, after)
        summary.stopped = stop.is_set()
    if scope and not summary.stopped:
        db.execute("DELETE FROM reclean_cursors WHERE source = ? AND scope = ?", [source.slug, scope])
        db.conn.commit()
    return summary


def _selection(db: sqlite_utils.Database, source: Source, since: date | None,
               everything: bool) -> tuple[str, list[Any]]:
    """The articles to re-clean, as a query of (id, url, warc_file, warc_offset, warc_length)."""
    sql = ("SELECT id, url, warc_file, warc_offset, warc_length FROM articles"
           " WHERE source = ? AND warc_file IS NOT NULL")
    params: list[Any] = [source.slug]
    if since is not None:
        sql += " AND substr(published_at, 1, 10) >= ?"
        params.append(since.isoformat())
    elif not everything:
        sql += " AND (coalesce(adapter_version, 0) < ? OR coalesce(learned_rev, 0) < ?)"
        params += [ADAPTERS[source.adapter].version, learn.revision(db, source.slug)]
    return sql, params


def _clean(archive: WarcArchive, pool: WorkerPool, adapter: Any, source: Source, learned: Learned,
           row: tuple[Any, ...]) -> Any:
    """A raw page cleaned again: the Parsed result, or the Rejected / WarcError that stopped it."""
    _, _, file, offset, length = row
    try:
        page = archive.read(WarcRef(file, int(offset), int(length)))
        return parse_isolated(pool, adapter, source, page, learned=learned)
    except (Rejected, WarcError) as exc:
        return exc


def _store(db: sqlite_utils.Database, source: Source, row: tuple[Any, ...], result: Any,
           topics: Mapping[str, Topic] | None, summary: RecleanSummary) -> str:
    article_id, url = row[0], row[1]
    if isinstance(result, WarcError):
        log.warning("%s reclean: no raw page for %s (%s)", source.slug, url, result)
        summary.no_raw_page += 1
        return "no-raw-page"
    if isinstance(result, Rejected):
        # Kept as stored: what was good enough to store then is not thrown away by a newer rule.
        summary.rejected[result.reason] += 1
        return "rejected"
    article = result.article
    changed = store.replace_cleaning(db, article_id, article, result.fingerprint)
    learn.observe(db, source.slug, url_key(article.url), result.blocks)
    if topics:
        save_topics(db, article_id, match_topics(article.title, article.text, topics))
    if changed:
        summary.recleaned += 1
        return "recleaned"
    summary.unchanged += 1
    return "unchanged"


def _cursor(db: sqlite_utils.Database, source: str, scope: str) -> int:
    row = db.execute("SELECT last_id FROM reclean_cursors WHERE source = ? AND scope = ?", [source, scope]).fetchone()
    return int(row[0]) if row else 0


def _save_cursor(db: sqlite_utils.Database, source: str, scope: str, last_id: int) -> None:
    db.execute("INSERT INTO reclean_cursors (source, scope, last_id, updated_at) VALUES (?, ?, ?, ?)"
               " ON CONFLICT(source, scope) DO UPDATE SET last_id = excluded.last_id, updated_at = excluded.updated_at",
               [source, scope, last_id, utcnow()])
