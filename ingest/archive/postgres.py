"""storage.Store in PostgreSQL (psycopg 3): the same archive as archive/sqlite.py, on a server.

DSN (postgresql://user@host/dbname) -> PostgresStore (open_postgres_store: tables made or migrated, migrations.py).
Every method answers as SqliteStore's does (tests/test_store_contract.py runs both); the SQL is here, next to
the tables' definitions in pgschema.py. psycopg is an optional extra (`pip install 'ingest[postgres]'`), imported
by this module (pgschema.py and migrations.py name it as a type only), which nothing imports unless a PostgreSQL
archive is asked for.

Transactions: the connection is in autocommit, so a method outside a batch is its own transaction. `batch()`
begins one and takes the archive's write lock (a transaction-level advisory lock) up front, as SQLite's BEGIN
IMMEDIATE does: the dedup stage's lookups and the save after them see no other writer's article in between. Nested
batches join the outer one. Frontier claims need no lock of their own: an UPDATE waits for a row another
transaction changes and re-checks its WHERE, so two processes never claim one link. Host state (robots.txt,
backoff, each host's lease) is PostgresHostStore, on a connection of its own (host_states()); a lease changes hands
under a row lock on the host (SELECT ... FOR UPDATE).

Openers: open_postgres_store makes the archive's tables when they are missing, or applies the schema's pending
steps (migrations.py), for the commands that write; open_postgres_archive only opens an archive of this ingest's
schema version that is there (the read-only reports: it creates and migrates nothing, and a database without the
archive or of another version, or a server out of reach, is an ArchiveTrouble of one line).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Final

import psycopg
from psycopg import conninfo, sql

from ingest.archive import learn, migrations, neardup, pgschema, retention, revdiff
from ingest.archive import topics as tagging
from ingest.archive.db import iso_utc, utcnow
from ingest.archive.dedup import content_hash
from ingest.archive.pgreports import PostgresReports
from ingest.archive.store import CLEANED_COLUMNS, DONE_STATES, DUE_REVISITS, MAX_ATTEMPTS, article_row
from ingest.config import Topic
from ingest.models import Article, BlockKey, Fingerprint, HostState, Link, Turn, WarcRef, holder_alive
from ingest.storage import (
    CLAIM_SECONDS,
    Listing,
    Recleaning,
    Revisit,
    Saved,
    Store,
    Stored,
    StoredPage,
    Verdict,
)
from ingest.urls import url_key

log = logging.getLogger("ingest")

WRITE_LOCK: Final = 0x1_6E6765_7377  # pg_advisory_xact_lock key a batch holds: one writer at a time
_FETCHABLE: Final = "(state = 'pending' OR (state = 'failed' AND attempts < %(max)s))"
RUN_COUNTS: Final = ("discovered", "new", "duplicate", "updated", "unchanged", "rejected", "failed")

Conn = psycopg.Connection[tuple[Any, ...]]
Query = str | sql.SQL | sql.Composed


class PostgresStore(PostgresReports):
    """The archive in a PostgreSQL database: one connection, used from the thread that writes."""

    def __init__(self, conn: Conn, dsn: str | None = None) -> None:
        self.conn = conn
        self.dsn = dsn  # where host_states() connects again
        self._depth = 0

    # transactions
    @contextmanager
    def batch(self) -> Iterator[None]:
        """One write transaction holding the archive's write lock; nested: joins the outer one."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        with self.conn.transaction():
            self.conn.execute("SELECT pg_advisory_xact_lock(%s)", [WRITE_LOCK])
            self._depth = 1
            try:
                yield
            finally:
                self._depth = 0

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def _one(self, query: Query, params: Any = ()) -> tuple[Any, ...] | None:
        return self.conn.execute(query, params).fetchone()

    # articles and the dedup stage's lookups
    def stored_at(self, url_key: str) -> Stored | None:
        """See storage.DedupLookups.stored_at."""
        row = self._one("SELECT id, content_hash, duplicate_of, title, text, fetched_at FROM articles"
                        " WHERE url_key = %s", [url_key])
        return Stored(row[0], row[1], row[2], row[3], row[4], iso_utc(row[5])) if row else None

    def exact_copy(self, digest: str) -> int | None:
        """See storage.DedupLookups.exact_copy."""
        row = self._one("SELECT id FROM articles WHERE content_hash = %s AND duplicate_of IS NULL ORDER BY id"
                        " LIMIT 1", [digest])
        return int(row[0]) if row else None

    def near_copy(self, fingerprint: Fingerprint) -> int | None:
        """See storage.DedupLookups.near_copy: neardup.find_original's rule over the one band table."""
        if not fingerprint.bands:
            return None
        rows = self.conn.execute(
            "SELECT q.band, a.article_id FROM unnest(%s::smallint[], %s::bigint[]) AS q (band, hash)"
            " CROSS JOIN LATERAL (SELECT article_id FROM article_bands b WHERE b.band = q.band AND b.hash = q.hash"
            " ORDER BY article_id LIMIT %s) a",
            [list(range(len(fingerprint.bands))), list(fingerprint.bands), neardup.PER_BAND]).fetchall()
        shared = Counter(article_id for _, article_id in rows)
        candidates = sorted(shared, key=lambda article_id: (-shared[article_id], article_id))[:neardup.CANDIDATES]
        texts = self.conn.execute("SELECT id, text FROM articles WHERE id = ANY(%s)", [candidates]).fetchall()
        confirmed = [article_id for article_id, text in texts
                     if neardup.overlap(fingerprint.shingles, neardup.shingles(text)) >= neardup.THRESHOLD]
        return min(confirmed) if confirmed else None

    def save_article(self, article: Article, verdict: Verdict, *, raw: WarcRef | None = None) -> Saved:
        """See storage.Store.save_article (store.record_article's rules)."""
        with self.batch():
            key = verdict.url_key
            row = article_row(article, key, verdict.digest)
            if raw is not None:
                row.update(warc_file=raw.file, warc_offset=raw.offset, warc_length=raw.length)
            stored = verdict.stored
            if stored is not None:
                self._alias(article, key, stored.article_id)
                if verdict.kind == "same":
                    return Saved("unchanged", stored.article_id, stored.duplicate_of)
                row.pop("first_seen_at")
                old = self._one("SELECT modified_at FROM articles WHERE id = %s", [stored.article_id])
                self._insert("revisions", {
                    "article_id": stored.article_id, "content_hash": stored.content_hash, "title": stored.title,
                    "text": stored.text, "fetched_at": stored.fetched_at, "replaced_at": utcnow(),
                    **revdiff.revision_fields(stored.title, stored.text, iso_utc(old[0]) if old else None,
                                              row["title"], row["text"], row["modified_at"])})
                self._update("articles", stored.article_id, row)
                self._unindex(stored.article_id, verdict.unindex)
                self._index(stored.article_id, verdict.bands)
                return Saved("updated", stored.article_id, stored.duplicate_of)
            row["duplicate_of"] = verdict.original
            article_id = self._insert("articles", row)
            self._index(article_id, verdict.bands)  # a new original's; copies are not indexed
            self._alias(article, key, article_id)
            return Saved("duplicate" if verdict.original else "new", article_id, verdict.original)

    def replace_cleaning(self, article_id: int, article: Article, fingerprint: Fingerprint | None = None) -> bool:
        """See storage.Store.replace_cleaning (store.replace_cleaning's rules): the row's cleaned columns, and an
        original's bands when its text changed; no revision."""
        with self.batch():
            old = self._one(f"SELECT duplicate_of, {', '.join(CLEANED_COLUMNS)} FROM articles WHERE id = %s",
                            [article_id])
            if old is None:
                return False
            duplicate_of = old[0]
            before = {name: iso_utc(value) if isinstance(value, datetime) else value
                      for name, value in zip(CLEANED_COLUMNS, old[1:], strict=True)}
            row = article_row(article, url_key(article.url), content_hash(article.text))
            after = {name: row[name] for name in CLEANED_COLUMNS}
            if after == before:
                return False
            self._update("articles", article_id, after)
            if duplicate_of is None and after["content_hash"] != before["content_hash"]:
                self._unindex(article_id, neardup.fingerprint(str(before["text"])).bands)
                self._index(article_id, (fingerprint or neardup.fingerprint(article.text)).bands)
            hidden = ("adapter_version", "learned_rev", "words", "content_hash", "truncated")
            return any(after[name] != before[name] for name in CLEANED_COLUMNS if name not in hidden)

    def save_topics(self, article_id: int, names: Iterable[str]) -> None:
        """See storage.Store.save_topics (topics.save_topics): nothing written when the set is unchanged."""
        wanted = sorted(set(names))
        current = {row[0] for row in self.conn.execute("SELECT topic FROM article_topics WHERE article_id = %s",
                                                       [article_id])}
        if current == set(wanted):
            return
        with self.batch():
            self.conn.execute("DELETE FROM article_topics WHERE article_id = %s AND NOT (topic = ANY(%s))",
                              [article_id, wanted])
            self.conn.execute("INSERT INTO article_topics (article_id, topic) SELECT %s, t FROM unnest(%s::text[]) t"
                              " ON CONFLICT (article_id, topic) DO NOTHING", [article_id, wanted])

    def retag(self, topics: Mapping[str, Topic]) -> int:
        """See storage.Store.retag (topics.retag): matched outside transactions, written a batch at a time."""
        last_id, seen = 0, 0
        while True:
            rows = self.conn.execute("SELECT id, title, text FROM articles WHERE id > %s ORDER BY id LIMIT %s",
                                     [last_id, tagging.RETAG_BATCH]).fetchall()
            if not rows:
                return seen
            tagged = [(article_id, tagging.match_topics(title or "", text or "", topics))
                      for article_id, title, text in rows]
            with self.batch():
                for article_id, names in tagged:
                    self.save_topics(article_id, names)
            last_id, seen = rows[-1][0], seen + len(rows)

    def _insert(self, table: str, row: Mapping[str, Any]) -> int:
        query = sql.SQL("INSERT INTO {} ({}) VALUES ({}) RETURNING id").format(
            sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, row)),
            sql.SQL(", ").join(sql.Placeholder() * len(row)))
        found = self._one(query, list(row.values()))
        assert found is not None
        return int(found[0])

    def _update(self, table: str, row_id: int, row: Mapping[str, Any]) -> int:
        query = sql.SQL("UPDATE {} SET {} WHERE id = %s").format(
            sql.Identifier(table), sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(name)) for name in row))
        return self.conn.execute(query, [*row.values(), row_id]).rowcount

    def _alias(self, article: Article, key: str, article_id: int) -> None:
        """Remember the key of the URL the article was fetched at, when it is not its canonical key."""
        if article.fetched_url and (alias := url_key(article.fetched_url)) != key:
            self.conn.execute("INSERT INTO url_aliases (url_key, article_id) VALUES (%s, %s)"
                              " ON CONFLICT (url_key) DO NOTHING", [alias, article_id])

    def _index(self, article_id: int, bands: Iterable[int]) -> None:
        rows = [(band, value, article_id) for band, value in enumerate(bands)]
        if rows:
            with self.conn.cursor() as cursor:
                cursor.executemany("INSERT INTO article_bands (band, hash, article_id) VALUES (%s, %s, %s)"
                                   " ON CONFLICT DO NOTHING", rows)

    def _unindex(self, article_id: int, bands: Iterable[int]) -> None:
        rows = [(band, value, article_id) for band, value in enumerate(bands)]
        if rows:
            with self.conn.cursor() as cursor:
                cursor.executemany("DELETE FROM article_bands WHERE band = %s AND hash = %s AND article_id = %s",
                                   rows)

    # the fetch log
    def log_fetch(self, *, url: str, source: str, outcome: str, status: int | None = None, reason: str | None = None,
                  detail: str | None = None, article_id: int | None = None) -> None:
        """See storage.Store.log_fetch."""
        self.conn.execute("INSERT INTO fetches (url, source, status, outcome, reason, detail, article_id, time)"
                          " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                          [url, source, status, outcome, reason, (detail or "")[:500] or None, article_id, utcnow()])

    def prune_fetches(self, source: str, days: int, *, stop: threading.Event | None = None) -> int:
        """See storage.Store.prune_fetches (retention.prune_fetches: retention.PRUNE_BATCH rows a transaction)."""
        if days <= 0:
            return 0
        cutoff = retention.fetches_cutoff(days)
        deleted = 0
        while stop is None or not stop.is_set():
            with self.batch():
                count = self.conn.execute(
                    'DELETE FROM fetches WHERE id IN (SELECT id FROM fetches WHERE source = %s AND "time" < %s'
                    " LIMIT %s)", [source, cutoff, retention.PRUNE_BATCH]).rowcount
            deleted += count
            if count < retention.PRUNE_BATCH:
                break
        return deleted

    # the frontier
    def add_links(self, links: Iterable[Link]) -> int:
        """See storage.Store.add_links."""
        rows = [(url_key(link.url), link.url, link.source, link.via, iso_utc(link.published_at)) for link in links]
        if not rows:
            return 0
        now = utcnow()
        with self.batch():
            return self.conn.execute(
                "INSERT INTO frontier (url_key, url, source, via, published_hint, state, attempts, discovered_at,"
                " updated_at) SELECT k, u, s, v, h::timestamptz, 'pending', 0, %s, %s"
                " FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[]) AS l (k, u, s, v, h)"
                " ON CONFLICT (url_key) DO NOTHING", [now, now, *map(list, zip(*rows, strict=True))]).rowcount

    def pending_links(self, source: str, *, start: datetime | None = None, end: datetime | None = None,
                      limit: int | None = None) -> list[Link]:
        """See storage.Store.pending_links."""
        query = ("SELECT url, source, via, published_hint FROM frontier WHERE source = %(source)s"
                 f" AND {_FETCHABLE} AND (claimed_until IS NULL OR claimed_until < %(now)s)")
        params: dict[str, Any] = {"source": source, "max": MAX_ATTEMPTS, "now": time.time()}
        if start:
            query += " AND (published_hint IS NULL OR published_hint >= %(start)s)"
            params["start"] = start
        if end:
            query += " AND (published_hint IS NULL OR published_hint < %(end)s)"
            params["end"] = end
        query += " ORDER BY published_hint DESC NULLS LAST"
        if limit:
            query += f" LIMIT {int(limit)}"
        return [Link(url=u, source=s, via=v, published_at=p)
                for u, s, v, p in self.conn.execute(query, params).fetchall()]

    def claim_links(self, links: Iterable[Link], holder: str) -> list[Link]:
        """See storage.Store.claim_links: one UPDATE; a link another transaction is claiming is re-checked
        once that one ends, so it is claimed by one process only."""
        links = list(links)
        now = time.time()
        with self.batch():
            claimed = {row[0] for row in self.conn.execute(
                f"UPDATE frontier SET claimed_by = %(holder)s, claimed_until = %(until)s WHERE url_key = ANY(%(keys)s)"
                f" AND {_FETCHABLE} AND (claimed_by IS NULL OR claimed_by = %(holder)s OR claimed_until < %(now)s)"
                " RETURNING url_key",
                {"holder": holder, "until": now + CLAIM_SECONDS, "keys": [url_key(link.url) for link in links],
                 "max": MAX_ATTEMPTS, "now": now})}
        return [link for link in links if url_key(link.url) in claimed]

    def renew_claims(self, holder: str) -> None:
        """See storage.Store.renew_claims."""
        self.conn.execute("UPDATE frontier SET claimed_until = %s WHERE claimed_by = %s",
                          [time.time() + CLAIM_SECONDS, holder])

    def release_claims(self, holder: str) -> None:
        """See storage.Store.release_claims."""
        self.conn.execute("UPDATE frontier SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = %s",
                          [holder])

    def release_dead_claims(self) -> int:
        """See storage.Store.release_dead_claims."""
        holders = [row[0] for row in self.conn.execute(
            "SELECT DISTINCT claimed_by FROM frontier WHERE claimed_by IS NOT NULL")]
        return sum(self.conn.execute("UPDATE frontier SET claimed_by = NULL, claimed_until = NULL"
                                     " WHERE claimed_by = %s", [holder]).rowcount
                   for holder in holders if not holder_alive(holder))

    def settle_link(self, url: str, state: str, reason: str | None = None, *, attempted: bool = True) -> None:
        """See storage.Store.settle_link."""
        self.conn.execute("UPDATE frontier SET state = %s, reason = %s, attempts = attempts + %s, updated_at = %s,"
                          " claimed_by = NULL, claimed_until = NULL WHERE url_key = %s",
                          [state, reason, int(attempted), utcnow(), url_key(url)])

    def revisit_candidates(self, source: str, since: datetime) -> list[tuple[int, str, datetime, datetime]]:
        """See storage.Store.revisit_candidates (store.revisit_candidates' query)."""
        rows = self.conn.execute(
            "SELECT a.id, a.url_key, coalesce(a.published_at, a.first_seen_at), coalesce(a.first_seen_at,"
            " a.published_at) FROM articles a WHERE a.source = %s"
            " AND a.removed_at IS NULL AND coalesce(a.published_at, a.first_seen_at) >= %s"
            " AND NOT EXISTS (SELECT 1 FROM revisits r WHERE r.url_key = a.url_key)", [source, since]).fetchall()
        return [(int(article_id), str(key), base, seen) for article_id, key, base, seen in rows]

    def schedule_revisits(self, rows: Iterable[tuple[str, int, str, float, int, float | None]]) -> None:
        """See storage.Store.schedule_revisits."""
        with self.batch(), self.conn.cursor() as cursor:
            cursor.executemany("INSERT INTO revisits (url_key, article_id, source, base_at, step, due_at) VALUES"
                               " (%s, %s, %s, %s, %s, %s) ON CONFLICT (url_key) DO UPDATE SET step = excluded.step,"
                               " due_at = excluded.due_at", list(rows))

    def due_revisits(self, source: str, now: float, limit: int) -> list[Revisit]:
        """See storage.Store.due_revisits."""
        rows = self.conn.execute(DUE_REVISITS + " WHERE r.source = %s AND r.due_at <= %s AND a.removed_at IS NULL"
                                 " ORDER BY r.due_at LIMIT %s", [source, now, limit]).fetchall()
        return [_revisit(row) for row in rows]

    def due_revisit(self, url_key: str, now: float) -> Revisit | None:
        """See storage.Store.due_revisit."""
        row = self._one(DUE_REVISITS + " WHERE r.url_key = %s AND r.due_at <= %s AND a.removed_at IS NULL",
                        [url_key, now])
        return _revisit(row) if row else None

    def finish_revisit(self, url_key: str, step: int, due_at: float | None, etag: str | None = None,
                       last_modified: str | None = None) -> None:
        """See storage.Store.finish_revisit."""
        self.conn.execute("UPDATE revisits SET step = %s, due_at = %s, checked_at = %s, etag = %s,"
                          " last_modified = %s WHERE url_key = %s",
                          [step, due_at, utcnow(), etag, last_modified, url_key])

    def revisit_modified(self, url: str, modified: datetime, now: float) -> bool:
        """See storage.Store.revisit_modified (store.revisit_modified's rule)."""
        key = url_key(url)
        row = self._one("SELECT a.id, a.url_key, a.source, a.fetched_at, coalesce(a.published_at, a.first_seen_at),"
                        " r.checked_at FROM articles a LEFT JOIN revisits r ON r.url_key = a.url_key"
                        " WHERE (a.url_key = %s OR a.id IN (SELECT article_id FROM url_aliases WHERE url_key = %s))"
                        " AND a.removed_at IS NULL", [key, key])
        if row is None:
            return False
        article_id, stored_key, source, fetched_at, base, checked_at = row
        seen = max(filter(None, (fetched_at, checked_at)), default=None)
        if seen is not None and modified <= seen:
            return False
        self.conn.execute("INSERT INTO revisits (url_key, article_id, source, base_at, step, due_at) VALUES"
                          " (%s, %s, %s, %s, 0, %s) ON CONFLICT (url_key) DO UPDATE SET due_at = excluded.due_at",
                          [stored_key, article_id, source, base.timestamp(), now])
        return True

    def mark_removed(self, article_id: int, status: int) -> None:
        """See storage.Store.mark_removed."""
        self.conn.execute("UPDATE articles SET removed_at = %s, removed_status = %s WHERE id = %s"
                          " AND removed_at IS NULL", [utcnow(), status, article_id])

    def is_known(self, url: str) -> bool:
        """See storage.Store.is_known."""
        key = url_key(url)
        if self._one("SELECT 1 FROM articles WHERE url_key = %s UNION ALL SELECT 1 FROM url_aliases"
                     " WHERE url_key = %s", [key, key]):
            return True
        row = self._one("SELECT state FROM frontier WHERE url_key = %s", [key])
        return bool(row and row[0] in DONE_STATES)

    def stored_after(self, url: str, moment: datetime) -> bool:
        """See storage.Store.stored_after (to the second, as SQLite's stored times are)."""
        key = url_key(url)
        row = self._one("SELECT max(fetched_at) FROM articles WHERE url_key = %s OR id IN"
                        " (SELECT article_id FROM url_aliases WHERE url_key = %s)", [key, key])
        return bool(row and row[0] and row[0] > datetime.fromisoformat(str(iso_utc(moment))))

    # validators
    def validators(self, url: str) -> tuple[str | None, str | None]:
        """See storage.Store.validators."""
        row = self._one("SELECT etag, last_modified FROM resources WHERE url = %s", [url])
        return (row[0], row[1]) if row else (None, None)

    def save_validators(self, url: str, *, source: str, kind: str, status: int, etag: str | None,
                        last_modified: str | None) -> None:
        """Remember a resource's ETag and Last-Modified for the next conditional GET."""
        self.conn.execute(
            "INSERT INTO resources (url, source, kind, etag, last_modified, status, fetched_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (url) DO UPDATE SET source = excluded.source,"
            " kind = excluded.kind, etag = excluded.etag, last_modified = excluded.last_modified,"
            " status = excluded.status, fetched_at = excluded.fetched_at",
            [url, source, kind, etag, last_modified, status, utcnow()])

    # runs
    def start_run(self, source: str, kind: str) -> int:
        """Record that a run of a source started; returns its id."""
        return self._insert("runs", {"source": source, "kind": kind, "started_at": utcnow(), "status": "running"})

    def finish_run(self, run_id: int, counts: Mapping[str, int], status: str) -> None:
        """Record a run's counts and how it ended."""
        unknown = set(counts) - set(RUN_COUNTS)
        if unknown:
            raise ValueError(f"not a run count: {', '.join(sorted(unknown))}")
        self._update("runs", run_id, {**counts, "finished_at": utcnow(), "status": status})

    # cursors
    def read_cursor(self, source: str, window: str, stage: str) -> str | None:
        """See storage.Store.read_cursor."""
        row = self._one('SELECT value FROM cursors WHERE source = %s AND "window" = %s AND stage = %s',
                        [source, window, stage])
        return str(row[0]) if row else None

    def save_cursor(self, source: str, window: str, stage: str, value: str) -> None:
        """See storage.Store.save_cursor."""
        self.conn.execute('INSERT INTO cursors (source, "window", stage, value, updated_at)'
                          ' VALUES (%s, %s, %s, %s, %s) ON CONFLICT (source, "window", stage) DO UPDATE SET'
                          " value = excluded.value, updated_at = excluded.updated_at",
                          [source, window, stage, value, utcnow()])

    def clear_cursors(self, source: str, window: str, stage: str | None = None) -> None:
        """See storage.Store.clear_cursors."""
        if stage is None:
            self.conn.execute('DELETE FROM cursors WHERE source = %s AND "window" = %s', [source, window])
        else:
            self.conn.execute('DELETE FROM cursors WHERE source = %s AND "window" = %s AND stage = %s',
                              [source, window, stage])

    def read_reclean_cursor(self, source: str, scope: str) -> int:
        """See storage.Store.read_reclean_cursor."""
        row = self._one("SELECT last_id FROM reclean_cursors WHERE source = %s AND scope = %s", [source, scope])
        return int(row[0]) if row else 0

    def save_reclean_cursor(self, source: str, scope: str, last_id: int) -> None:
        """See storage.Store.save_reclean_cursor."""
        self.conn.execute("INSERT INTO reclean_cursors (source, scope, last_id, updated_at) VALUES (%s, %s, %s, %s)"
                          " ON CONFLICT (source, scope) DO UPDATE SET last_id = excluded.last_id,"
                          " updated_at = excluded.updated_at", [source, scope, last_id, utcnow()])

    def clear_reclean_cursor(self, source: str, scope: str) -> None:
        """See storage.Store.clear_reclean_cursor."""
        self.conn.execute("DELETE FROM reclean_cursors WHERE source = %s AND scope = %s", [source, scope])

    # re-cleaning: stored articles with raw pages (recleaning.py's selection)
    def count_pages(self, selection: Recleaning, after: int = 0) -> int:
        """See storage.Store.count_pages."""
        where, params = _selection(selection)
        row = self._one(f"SELECT count(*) FROM articles WHERE {where} AND id > %s", [*params, after])
        return int(row[0]) if row else 0

    def stored_pages(self, selection: Recleaning, after: int, limit: int) -> list[StoredPage]:
        """See storage.Store.stored_pages."""
        where, params = _selection(selection)
        rows = self.conn.execute(f"SELECT id, url, warc_file, warc_offset, warc_length FROM articles WHERE {where}"
                                 " AND id > %s ORDER BY id LIMIT %s", [*params, after, int(limit)]).fetchall()
        return [StoredPage(article_id, url, WarcRef(file, int(offset), int(length)))
                for article_id, url, file, offset, length in rows]

    def count_without_raw_page(self, source: str) -> int:
        """See storage.Store.count_without_raw_page."""
        row = self._one("SELECT count(*) FROM articles WHERE source = %s AND warc_file IS NULL", [source])
        return int(row[0]) if row else 0

    # learned boilerplate (archive/boilerplate.py's counts, archive/learn.py's rules)
    def observe_blocks(self, source: str, url_key: str, keys: Iterable[BlockKey]) -> bool:
        """See storage.Store.observe_blocks (boilerplate.observe's rules, in the caller's batch or one of its
        own)."""
        with self.batch():
            now = utcnow()
            row = self._one("SELECT serial, keys FROM boilerplate_pages WHERE source = %s AND url_key = %s",
                            [source, url_key])
            blocks = {b.key: b for b in keys}
            hashes = {learn.page_hash(key): key for key in blocks}
            if row is None:
                found = self._one("INSERT INTO boilerplate_sources (source, pages, revision, updated_at)"
                                  " VALUES (%s, 1, 0, %s) ON CONFLICT (source) DO UPDATE SET"
                                  " pages = boilerplate_sources.pages + 1, updated_at = excluded.updated_at"
                                  " RETURNING pages", [source, now])
                assert found is not None
                serial = newest = int(found[0])
                self.conn.execute("INSERT INTO boilerplate_pages (source, url_key, serial, keys)"
                                  " VALUES (%s, %s, %s, %s)", [source, url_key, serial, b"".join(sorted(hashes))])
            else:  # a page counted before (cleaned again): only keys it did not show then are new
                serial, counted = int(row[0]), learn.page_hashes(row[1])
                found = self._one("SELECT pages FROM boilerplate_sources WHERE source = %s", [source])
                assert found is not None
                newest = int(found[0])
                blocks = {key: blocks[key] for digest, key in hashes.items() if digest not in counted}
                if blocks:
                    self.conn.execute("UPDATE boilerplate_pages SET keys = %s WHERE source = %s AND url_key = %s",
                                      [b"".join(sorted(counted | hashes.keys())), source, url_key])
            if not blocks:
                return False
            with self.conn.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO boilerplate (source, key, kind, sample, pages, variants, first_serial, last_serial,"
                    " first_seen, last_seen) VALUES (%s, %s, %s, %s, 1, 0, %s, %s, %s, %s)"
                    " ON CONFLICT (source, key) DO UPDATE SET pages = boilerplate.pages + 1,"
                    " last_serial = greatest(boilerplate.last_serial, excluded.last_serial),"
                    " first_serial = least(boilerplate.first_serial, excluded.first_serial),"
                    " last_seen = excluded.last_seen",
                    [(source, b.key, b.kind, b.sample, serial, serial, now, now) for b in blocks.values()])
                boxes = [(source, b.key, b.variant) for b in blocks.values() if b.variant]
                if boxes:
                    cursor.executemany("INSERT INTO boilerplate_variants (source, key, variant) VALUES (%s, %s, %s)"
                                       " ON CONFLICT DO NOTHING", boxes)
                    cursor.executemany("UPDATE boilerplate b SET variants = (SELECT count(*) FROM"
                                       " boilerplate_variants v WHERE v.source = b.source AND v.key = b.key)"
                                       " WHERE source = %s AND key = %s", [(s, k) for s, k, _ in boxes])
            # Only keys seen often enough can have just become boilerplate: most of a page's blocks are its own.
            rows = self.conn.execute(
                "SELECT key, pages, variants, first_serial FROM boilerplate WHERE source = %s AND key = ANY(%s)"
                " AND learned_at IS NULL AND pages >= %s", [source, [k for k in blocks if k], learn.MIN_PAGES])
            learned_now = [key for key, pages, variants, first in rows
                           if learn.is_boilerplate(pages, first, newest, variants)]
            if learned_now:
                self.conn.execute("UPDATE boilerplate SET learned_at = %s WHERE source = %s AND key = ANY(%s)",
                                  [now, source, learned_now])
                self.conn.execute("UPDATE boilerplate_sources SET revision = revision + 1 WHERE source = %s",
                                  [source])
            if row is None and serial % learn.PRUNE_EVERY == 0:
                self._prune_blocks(source, serial)
            return bool(learned_now)

    def _prune_blocks(self, source: str, serial: int) -> int:
        """boilerplate.prune: drop the keys seen on fewer than MIN_PAGES pages and not since PRUNE_AFTER pages."""
        stale = [row[0] for row in self.conn.execute(
            "SELECT key FROM boilerplate WHERE source = %s AND pages < %s AND last_serial < %s"
            " AND learned_at IS NULL", [source, learn.MIN_PAGES, serial - learn.PRUNE_AFTER])]
        if stale:
            self.conn.execute("DELETE FROM boilerplate_variants WHERE source = %s AND key = ANY(%s)", [source, stale])
            self.conn.execute("DELETE FROM boilerplate WHERE source = %s AND key = ANY(%s)", [source, stale])
        return len(stale)

    def learned_keys(self, source: str) -> frozenset[str]:
        """See storage.Reports.learned_keys."""
        return frozenset(row[0] for row in self.conn.execute(
            "SELECT key FROM boilerplate WHERE source = %s AND learned_at IS NOT NULL", [source]))

    def learned_revision(self, source: str) -> int:
        """See storage.Reports.learned_revision."""
        row = self._one("SELECT revision FROM boilerplate_sources WHERE source = %s", [source])
        return int(row[0]) if row else 0

    def boilerplate_listing(self, source: str, *, candidates: bool = False) -> Listing:
        """See storage.Reports.boilerplate_listing (times as store.py's ISO 8601 UTC strings)."""
        where = "learned_at IS NOT NULL" if not candidates else "(learned_at IS NOT NULL OR pages >= 2)"
        blocks = [{"kind": kind, "block": sample, "pages": pages, "first_seen": iso_utc(first),
                   "last_seen": iso_utc(last), "learned_at": iso_utc(learned)}
                  for kind, sample, pages, first, last, learned in self.conn.execute(
                      "SELECT kind, sample, pages, first_seen, last_seen, learned_at FROM boilerplate"
                      f" WHERE source = %s AND {where} ORDER BY pages DESC, first_seen", [source])]
        row = self._one("SELECT pages, revision FROM boilerplate_sources WHERE source = %s", [source])
        return Listing(source, int(row[0]) if row else 0, int(row[1]) if row else 0, blocks)

    # host state
    def host_states(self) -> PostgresHostStore:
        """See storage.Store.host_states: on a connection of its own to the same database."""
        if self.dsn is None:
            raise ValueError("host state needs the database's DSN")
        return open_postgres_host_states(self.dsn)


class PostgresHostStore:
    """storage.HostStateStore in PostgreSQL (store.HostStore's rules): robots.txt, backoff and each host's lease
    (models.Turn), shared by every process on the database.

    Fetcher threads call it: one connection (autocommit) shared under a lock, as HostStore's. A lease changes hands
    in a transaction that locks the host's row first (SELECT ... FOR UPDATE, where SQLite takes BEGIN IMMEDIATE):
    two processes asking at once are served one after the other, and the second sees what the first wrote.
    A connection lost (the server restarted, the backend terminated) fails the call in progress; the next call
    connects again, when the store was opened with its DSN (open_postgres_host_states), so a worker outlives a
    restart of the server.
    """

    def __init__(self, conn: Conn, dsn: str | None = None) -> None:
        self._conn = conn
        self.dsn = dsn
        self._lock = threading.Lock()

    @property
    def conn(self) -> Conn:
        """The connection, made again when the last one broke (callers hold the lock)."""
        if self._conn.broken and self.dsn is not None:
            self._conn.close()
            self._conn = psycopg.connect(self.dsn, autocommit=True)
            log.warning("host state: the connection to PostgreSQL at %s was lost; connected again", server_of(self.dsn))
        return self._conn

    def load_host(self, host: str) -> HostState | None:
        """See storage.HostStateStore.load_host."""
        with self._lock:
            row = self.conn.execute(
                "SELECT host, robots_txt, robots_fetched_at, robots_status, backoff_until, failures"
                " FROM hosts WHERE host = %s", [host]).fetchone()
        if row is None:
            return None
        return HostState(host=row[0], robots_txt=row[1], robots_fetched_at=row[2] or 0.0,
                         robots_status=row[3] or 0, backoff_until=row[4] or 0.0, failures=row[5] or 0)

    def save_host(self, state: HostState) -> None:
        """See storage.HostStateStore.save_host: one upsert, the lease's columns left as they are."""
        with self._lock:
            self.conn.execute(
                "INSERT INTO hosts (host, robots_txt, robots_fetched_at, robots_status, backoff_until, failures)"
                " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (host) DO UPDATE SET"
                " robots_txt = excluded.robots_txt, robots_fetched_at = excluded.robots_fetched_at,"
                " robots_status = excluded.robots_status, backoff_until = excluded.backoff_until,"
                " failures = excluded.failures",
                [state.host, state.robots_txt, state.robots_fetched_at, state.robots_status, state.backoff_until,
                 state.failures])

    def take_turn(self, host: str, holder: str, *, hold: float) -> tuple[bool, float, float]:
        """See storage.HostStateStore.take_turn. Looked at without the row lock first: a process that already
        left word that it waits only reads."""
        with self._lock:
            turn, backoff_until = self._turn(host)
            if not turn.free_for(holder, time.time(), backoff_until) and turn.waiter == holder:
                return False, turn.next_request_at, backoff_until
            with self.conn.transaction():
                self.conn.execute("INSERT INTO hosts (host) VALUES (%s) ON CONFLICT (host) DO NOTHING", [host])
                turn, backoff_until = self._turn(host, lock=True)  # again, now that no one else can change it
                now = time.time()
                taken = turn.free_for(holder, now, backoff_until)
                self._save_turn(host, turn.taken(holder, now, hold=hold) if taken else turn.awaited(holder))
            return taken, turn.next_request_at, backoff_until

    def renew_turn(self, host: str, holder: str, *, hold: float) -> bool:
        """See storage.HostStateStore.renew_turn."""
        with self._lock:
            return bool(self.conn.execute("UPDATE hosts SET lease_until = %s WHERE host = %s AND lease_holder = %s",
                                          [time.time() + hold, host, holder]).rowcount)

    def turn_wanted(self, host: str, holder: str) -> bool:
        """See storage.HostStateStore.turn_wanted (a read)."""
        with self._lock:
            return self._turn(host)[0].wanted(holder)

    def end_turn(self, host: str, holder: str, next_request_at: float) -> None:
        """See storage.HostStateStore.end_turn."""
        with self._lock, self.conn.transaction():
            turn, _ = self._turn(host, lock=True)
            if turn.holder == holder:
                self._save_turn(host, turn.given_back(next_request_at, time.time()))

    def _turn(self, host: str, *, lock: bool = False) -> tuple[Turn, float]:
        """The host's lease as stored, and its backoff_until; with `lock`, the row locked until the transaction
        ends."""
        row = self.conn.execute("SELECT next_request_at, lease_holder, lease_until, waiter, backoff_until"
                                " FROM hosts WHERE host = %s" + (" FOR UPDATE" if lock else ""), [host]).fetchone()
        if row is None:
            return Turn(), 0.0
        return Turn(row[0] or 0.0, row[1], row[2] or 0.0, row[3]), row[4] or 0.0

    def _save_turn(self, host: str, turn: Turn) -> None:
        self.conn.execute("UPDATE hosts SET next_request_at = %s, lease_holder = %s, lease_until = %s, waiter = %s"
                          " WHERE host = %s",
                          [turn.next_request_at, turn.holder, turn.lease_until or None, turn.waiter, host])

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()


def _revisit(row: Sequence[Any]) -> Revisit:
    key, url, article_id, base, step, etag, modified = row
    return Revisit(str(key), str(url), int(article_id), float(base), int(step), etag, modified)


def _selection(selection: Recleaning) -> tuple[str, list[Any]]:
    """recleaning._selection's WHERE: the source's articles with a raw page; since a day (UTC, as SQLite compares
    its stored ISO strings), all, or those cleaned by an older adapter or before a learned-set revision."""
    where = "source = %s AND warc_file IS NOT NULL"
    params: list[Any] = [selection.source]
    if selection.since is not None:
        where += " AND (published_at AT TIME ZONE 'UTC')::date >= %s"
        params.append(selection.since)
    elif not selection.everything:
        where += " AND (coalesce(adapter_version, 0) < %s OR coalesce(learned_rev, 0) < %s)"
        params += [selection.adapter_version, selection.learned_rev]
    return where, params


def open_postgres_store(dsn: str) -> PostgresStore:
    """Connect to the database at `dsn` (postgresql://user@host/dbname), making the archive's tables when they are
    missing and applying the schema's pending steps (migrations.apply_postgres). Idempotent. ArchiveTrouble, nothing
    changed, when the database was made by a newer ingest."""
    conn: Conn = psycopg.connect(dsn, autocommit=True)
    try:
        conn.execute("SET TIME ZONE 'UTC'")  # timestamptz read back as UTC, the archive's one time zone
        migrations.apply_postgres(conn)
    except migrations.SchemaRefused as exc:
        name = conn.info.dbname
        conn.close()
        raise ArchiveTrouble(f"PostgreSQL at {server_of(dsn)}: database {name} was {exc}") from None
    except BaseException:
        conn.close()
        raise
    return PostgresStore(conn, dsn)


class ArchiveTrouble(Exception):
    """The PostgreSQL archive cannot be opened as asked (server out of reach, no archive there); str() is the one
    line to show."""


class Unreachable(ArchiveTrouble):
    """The server did not accept a connection (down, wrong host or port, refused credentials)."""


def server_of(dsn: str) -> str:
    """host:port of a DSN, for messages (never the password)."""
    try:
        parts = conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "the server"
    return f"{parts.get('host') or 'localhost'}:{parts.get('port') or 5432}"


def connect_reason(exc: BaseException) -> str:
    """psycopg's message in one line: the last cause it gives ("Connection refused", "database ... does not
    exist")."""
    first = next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
    return first.rsplit(" failed: ", 1)[-1]


@contextmanager
def server_errors(dsn: str) -> Iterator[None]:
    """psycopg's errors inside (a lost connection, a failing query) as ArchiveTrouble: the server and the reason."""
    try:
        yield
    except psycopg.Error as exc:
        raise ArchiveTrouble(f"PostgreSQL at {server_of(dsn)}: {connect_reason(exc)}") from None


def open_postgres_archive(dsn: str, *, read_only: bool = True) -> PostgresStore:
    """The existing archive at `dsn`, tables never created (open_postgres_store makes them). With `read_only`, every
    transaction of the connection is READ ONLY (default_transaction_read_only), so a report cannot write by mistake.
    ArchiveTrouble when the server cannot be reached or the database holds no archive of this ingest's schema."""
    where = server_of(dsn)
    try:
        conn: Conn = psycopg.connect(dsn, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        raise Unreachable(f"cannot reach PostgreSQL at {where}: {connect_reason(exc)}") from None
    try:
        conn.execute("SET TIME ZONE 'UTC'")
        if read_only:
            conn.execute("SET default_transaction_read_only = on")
        version = pgschema.schema_version(conn)
    except BaseException:
        conn.close()
        raise
    current = migrations.SCHEMA_VERSION
    if version != current:  # never migrated here: which version it holds, and what to run
        name = conn.info.dbname
        conn.close()
        if version == 0:
            raise ArchiveTrouble(f"PostgreSQL at {where}: database {name} holds no ingest archive (this ingest reads "
                                 f"schema {current}); nothing was created in it: `ingest run` or `ingest backfill` "
                                 "makes one")
        todo = ("made by a newer ingest: upgrade ingest to read it" if version > current else
                "`ingest run` or `ingest backfill` on it upgrades it")
        raise ArchiveTrouble(f"PostgreSQL at {where}: database {name} holds an ingest archive of schema {version} "
                             f"(this ingest reads schema {current}), {todo}; nothing was changed in it")
    return PostgresStore(conn, dsn)


def open_postgres_host_states(dsn: str) -> PostgresHostStore:
    """Per-host state for the fetcher's threads, on a connection of its own to the archive at `dsn` (whose tables
    open_postgres_store made)."""
    return PostgresHostStore(psycopg.connect(dsn, autocommit=True), dsn)


def _conforms(candidate: PostgresStore) -> Store:
    """mypy checks here that PostgresStore implements storage.Store, as archive/sqlite.py checks SqliteStore."""
    return candidate
