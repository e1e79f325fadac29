"""storage.Store in SQLite: the archive's one implementation today, over store.py and its neighbours.

path -> SqliteStore (open_store: WAL, migrations, FTS; open_readonly_store: the file as it is, nothing written;
open_for_reading: what the read-only reports open, see store.open_for_reading). The reports (storage.Reports)
delegate to report, health, topics and export, which keep their SQL. The CLI reaches SQLite only through this
module: the openers, check_database / check_writable / quick_check before it opens, and the errors it reports.
Each method is a thin call into the module that owns the table (store, boilerplate, cursors, recleaning, topics,
neardup), so their SQL stays in ingest/archive/ and the writer's hot path costs one method call more than before.
`.db` is the sqlite-utils connection, for the archive's reports and for tests that inspect with SQL; stages never
touch it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import closing, contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any, Final

import sqlite_utils

from ingest.archive import boilerplate, cursors, export, health, neardup, recleaning, report, retention, store, topics
from ingest.archive.db import transaction
from ingest.archive.store import DatabaseTrouble as DatabaseTrouble  # re-exported: a --db that cannot be used
from ingest.archive.store import check_database as check_database  # re-exported: before a command opens the file
from ingest.archive.store import check_writable as check_writable  # re-exported: before a writer starts
from ingest.archive.store import drop_new_sidecars as drop_new_sidecars  # re-exported: a refusal leaves no -wal
from ingest.archive.store import sidecars as sidecars  # re-exported: which of them were there before
from ingest.config import Config, Topic
from ingest.models import Article, BlockKey, Fingerprint, Link, WarcRef
from ingest.storage import (
    Health,
    History,
    Listing,
    Recleaning,
    Reports,
    Revisit,
    Saved,
    Store,
    Stored,
    StoredPage,
    Verdict,
)

# What a database that cannot be used raises (damaged, locked, read-only, not SQLite): callers that report such
# trouble in one line (the CLI, the daemon) catch this name, not sqlite3's.
StoreError: Final = sqlite3.DatabaseError
SchemaError: Final = sqlite3.OperationalError  # also "no such table": a query on another program's database
QUICK_CHECK_ROWS: Final = 5  # problems PRAGMA quick_check lists before it stops: enough to say what is wrong


class SqliteStore:
    """The archive in one SQLite file (storage.Store). One connection, used from the thread that writes; host
    state for fetcher threads is on a connection of its own (host_states)."""

    def __init__(self, db: sqlite_utils.Database, path: str | Path | None = None) -> None:
        self.db = db
        self.path = Path(path) if path is not None else None
        self._cursors_ready = False

    # transactions
    @contextmanager
    def batch(self) -> Iterator[None]:
        """One write transaction (BEGIN IMMEDIATE); nested: joins the outer one."""
        with transaction(self.db):
            yield

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    # articles and the dedup stage's lookups
    def stored_at(self, url_key: str) -> Stored | None:
        """See storage.DedupLookups.stored_at."""
        return store.stored_at(self.db, url_key)

    def exact_copy(self, digest: str) -> int | None:
        """See storage.DedupLookups.exact_copy."""
        return store.exact_copy(self.db, digest)

    def near_copy(self, fingerprint: Fingerprint) -> int | None:
        """See storage.DedupLookups.near_copy."""
        return neardup.find_original(self.db, fingerprint)

    def save_article(self, article: Article, verdict: Verdict, *, raw: WarcRef | None = None) -> Saved:
        """See storage.Store.save_article."""
        return store.record_article(self.db, article, verdict, raw=raw)

    def replace_cleaning(self, article_id: int, article: Article, fingerprint: Fingerprint | None = None) -> bool:
        """See storage.Store.replace_cleaning."""
        return store.replace_cleaning(self.db, article_id, article, fingerprint)

    def save_topics(self, article_id: int, names: Iterable[str]) -> None:
        """See storage.Store.save_topics."""
        topics.save_topics(self.db, article_id, names)

    def retag(self, rules: Mapping[str, Topic]) -> int:
        """See storage.Store.retag."""
        return topics.retag(self.db, rules)

    def log_fetch(self, *, url: str, source: str, outcome: str, status: int | None = None, reason: str | None = None,
                  detail: str | None = None, article_id: int | None = None) -> None:
        """See storage.Store.log_fetch."""
        store.log_fetch(self.db, url=url, source=source, outcome=outcome, status=status, reason=reason,
                        detail=detail, article_id=article_id)

    def prune_fetches(self, source: str, days: int, *, stop: threading.Event | None = None) -> int:
        """See storage.Store.prune_fetches."""
        return retention.prune_fetches(self.db, source, days, stop=stop)

    # the frontier
    def add_links(self, links: Iterable[Link]) -> int:
        """See storage.Store.add_links."""
        return store.add_links(self.db, links)

    def pending_links(self, source: str, *, start: datetime | None = None, end: datetime | None = None,
                      limit: int | None = None) -> list[Link]:
        """See storage.Store.pending_links."""
        return store.pending_links(self.db, source, start=start, end=end, limit=limit)

    def claim_links(self, links: Iterable[Link], holder: str) -> list[Link]:
        """See storage.Store.claim_links."""
        return store.claim_links(self.db, links, holder)

    def renew_claims(self, holder: str) -> None:
        """See storage.Store.renew_claims."""
        store.renew_claims(self.db, holder)

    def release_claims(self, holder: str) -> None:
        """See storage.Store.release_claims."""
        store.release_claims(self.db, holder)

    def release_dead_claims(self) -> int:
        """See storage.Store.release_dead_claims."""
        return store.release_dead_claims(self.db)

    def settle_link(self, url: str, state: str, reason: str | None = None, *, attempted: bool = True) -> None:
        """See storage.Store.settle_link."""
        store.settle_link(self.db, url, state, reason, attempted=attempted)

    def is_known(self, url: str) -> bool:
        """See storage.Store.is_known."""
        return store.is_known(self.db, url)

    def stored_after(self, url: str, moment: datetime) -> bool:
        """See storage.Store.stored_after."""
        return store.stored_after(self.db, url, moment)

    # the revisit schedule
    def revisit_candidates(self, source: str, since: datetime) -> list[tuple[int, str, datetime, datetime]]:
        """See storage.Store.revisit_candidates."""
        return store.revisit_candidates(self.db, source, since)

    def schedule_revisits(self, rows: Iterable[tuple[str, int, str, float, int, float | None]]) -> None:
        """See storage.Store.schedule_revisits."""
        store.schedule_revisits(self.db, rows)

    def due_revisits(self, source: str, now: float, limit: int) -> list[Revisit]:
        """See storage.Store.due_revisits."""
        return store.due_revisits(self.db, source, now, limit)

    def due_revisit(self, url_key: str, now: float) -> Revisit | None:
        """See storage.Store.due_revisit."""
        return store.due_revisit(self.db, url_key, now)

    def finish_revisit(self, url_key: str, step: int, due_at: float | None, etag: str | None = None,
                       last_modified: str | None = None) -> None:
        """See storage.Store.finish_revisit."""
        store.finish_revisit(self.db, url_key, step, due_at, etag, last_modified)

    def revisit_modified(self, url: str, modified: datetime, now: float) -> bool:
        """See storage.Store.revisit_modified."""
        return store.revisit_modified(self.db, url, modified, now)

    def mark_removed(self, article_id: int, status: int) -> None:
        """See storage.Store.mark_removed."""
        store.mark_removed(self.db, article_id, status)

    # validators
    def validators(self, url: str) -> tuple[str | None, str | None]:
        """See storage.Store.validators."""
        return store.validators(self.db, url)

    def save_validators(self, url: str, *, source: str, kind: str, status: int, etag: str | None,
                        last_modified: str | None) -> None:
        """Remember a resource's ETag and Last-Modified for the next conditional GET."""
        store.save_validators(self.db, url, source=source, kind=kind, status=status, etag=etag,
                              last_modified=last_modified)

    # runs
    def start_run(self, source: str, kind: str) -> int:
        """Record that a run of a source started; returns its id."""
        return store.start_run(self.db, source, kind)

    def finish_run(self, run_id: int, counts: Mapping[str, int], status: str) -> None:
        """Record a run's counts and how it ended."""
        store.finish_run(self.db, run_id, dict(counts), status)

    # cursors
    def _cursors(self) -> None:
        """The cursors table is made on first use (a database that never resumed anything has none)."""
        if not self._cursors_ready:
            cursors.create_cursors(self.db)
            # made inside a batch, the table goes if the batch is rolled back: look again next time
            self._cursors_ready = not self.db.conn.in_transaction

    def read_cursor(self, source: str, window: str, stage: str) -> str | None:
        """See storage.Store.read_cursor."""
        self._cursors()
        return cursors.read_cursor(self.db, source, window, stage)

    def save_cursor(self, source: str, window: str, stage: str, value: str) -> None:
        """See storage.Store.save_cursor."""
        self._cursors()
        cursors.save_cursor(self.db, source, window, stage, value)

    def clear_cursors(self, source: str, window: str, stage: str | None = None) -> None:
        """See storage.Store.clear_cursors."""
        self._cursors()
        cursors.clear_cursors(self.db, source, window, stage)

    def read_reclean_cursor(self, source: str, scope: str) -> int:
        """See storage.Store.read_reclean_cursor."""
        return cursors.read_reclean_cursor(self.db, source, scope)

    def save_reclean_cursor(self, source: str, scope: str, last_id: int) -> None:
        """See storage.Store.save_reclean_cursor."""
        cursors.save_reclean_cursor(self.db, source, scope, last_id)

    def clear_reclean_cursor(self, source: str, scope: str) -> None:
        """See storage.Store.clear_reclean_cursor."""
        cursors.clear_reclean_cursor(self.db, source, scope)

    # re-cleaning
    def count_pages(self, selection: Recleaning, after: int = 0) -> int:
        """See storage.Store.count_pages."""
        return recleaning.count_pages(self.db, selection, after)

    def stored_pages(self, selection: Recleaning, after: int, limit: int) -> list[StoredPage]:
        """See storage.Store.stored_pages."""
        return recleaning.stored_pages(self.db, selection, after, limit)

    def count_without_raw_page(self, source: str) -> int:
        """See storage.Store.count_without_raw_page."""
        return recleaning.count_without_raw_page(self.db, source)

    # learned boilerplate
    def observe_blocks(self, source: str, url_key: str, keys: Iterable[BlockKey]) -> bool:
        """See storage.Store.observe_blocks."""
        return boilerplate.observe(self.db, source, url_key, keys)

    def learned_keys(self, source: str) -> frozenset[str]:
        """See storage.Store.learned_keys."""
        return boilerplate.learned_keys(self.db, source)

    def learned_revision(self, source: str) -> int:
        """See storage.Store.learned_revision."""
        return boilerplate.revision(self.db, source)

    def boilerplate_listing(self, source: str, *, candidates: bool = False) -> Listing:
        """See storage.Store.boilerplate_listing."""
        return boilerplate.listing(self.db, source, candidates=candidates)

    # reports
    def source_rows(self, config: Config) -> list[dict[str, Any]]:
        """See storage.Reports.source_rows."""
        return report.source_rows(self.db, config)

    def stats(self, config: Config, *, days: int = 7) -> dict[str, Any]:
        """See storage.Reports.stats."""
        return report.stats(self.db, config, days=days)

    def health(self, config: Config, *, max_lag: float | None = None) -> list[Health]:
        """See storage.Reports.health."""
        return health.check(self.db, config, max_lag=max_lag)

    def topic_counts(self) -> dict[str, int]:
        """See storage.Reports.topic_counts."""
        return topics.topic_counts(self.db)

    def check_export(self, fmt: str, query: str | None) -> None:
        """See storage.Reports.check_export."""
        export.check(self.db, fmt, query)

    def export_articles(self, out: IO[bytes], fmt: str, *, since: date | None = None, source: str | None = None,
                        query: str | None = None, revisions: bool = False) -> int:
        """See storage.Reports.export_articles."""
        return export.export_articles(self.db, out, fmt, since=since, source=source, query=query,
                                      revisions=revisions)

    def article_history(self, ref: str) -> History | None:
        """See storage.Reports.article_history."""
        return report.article_history(self.db, ref)

    # host state
    def host_states(self) -> store.HostStore:
        """See storage.Store.host_states: on a connection of its own to the same file."""
        if self.path is None:
            raise ValueError("host state needs the database's path")
        return store.HostStore(self.path)


def open_store(path: str | Path) -> SqliteStore:
    """Open (creating when needed) the archive at `path` for writing (store.open_db). Idempotent."""
    return SqliteStore(store.open_db(path), path)


def open_readonly_store(path: str | Path) -> SqliteStore:
    """The existing archive at `path`, read-only (store.open_readonly); FileNotFoundError when there is none."""
    return SqliteStore(store.open_readonly(path), path)


def open_for_reading(path: str | Path) -> SqliteStore:
    """What the read-only reports (sources, stats, topics) open (store.open_for_reading): the file read-only; one
    made by an older ingest upgraded first; with no file, an empty archive in memory (nothing created on disk)."""
    return SqliteStore(store.open_for_reading(path), path)


def open_host_states(path: str | Path) -> store.HostStore:
    """Per-host state for the fetcher's threads, on a connection of its own to the database at `path`."""
    return store.HostStore(path)


def quick_check(path: str | Path) -> list[str]:
    """PRAGMA quick_check of the existing database, read-only: ["ok"], or the first problems found."""
    with closing(store.open_readonly(path)) as db:
        return [row[0] for row in db.execute(f"PRAGMA quick_check({QUICK_CHECK_ROWS})")]


def database_trouble(exc: BaseException) -> str | None:
    """What a database error means for the user, in one line; None when `exc` is not one."""
    return store.database_trouble(exc) if isinstance(exc, sqlite3.DatabaseError) else None


def _conforms(candidate: SqliteStore) -> Store:
    """mypy checks here that SqliteStore implements storage.Store."""
    return candidate


def _reports(candidate: SqliteStore) -> Reports:
    """... and storage.Reports, what a read-only opening is used as."""
    return candidate
