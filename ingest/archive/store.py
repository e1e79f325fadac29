"""SQLite through sqlite-utils: schema, idempotent writes, and crawl state.

Everything the crawl must remember lives here, not in memory or in the scheduler: articles, one
row per fetch outcome, the frontier of discovered URLs, per-host robots/backoff state and HTTP
validators for feeds and sitemaps. A page's writes are never split across transactions, so a crash
leaves either all of a page or none of it. WAL mode lets Datasette and sqlite3 read while we write.

Deduplication (dedup.judge decides, record_article stores what it decided): one row per canonical URL key;
an article's earlier texts go to `revisions` when it changes; the keys of the URLs it was fetched at go to
`url_aliases`, so is_known() skips them before fetching; a new URL whose text is an exact (content hash) or near
(neardup.py) copy of a stored original is stored with duplicate_of -> that original, never dropped.

These functions take the connection and are SqliteStore's (archive/sqlite.py) internals; stages use the Store.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import sqlite_utils

from ingest.archive import dedup, migrations, neardup, revdiff, views
from ingest.archive.db import immediate, iso_utc, transaction, utcnow
from ingest.archive.dedup import content_hash
from ingest.models import Article, Fingerprint, HostState, Link, Turn, WarcRef, holder_alive
from ingest.storage import CLAIM_SECONDS as CLAIM_SECONDS  # re-exported: the claims' contract is storage's
from ingest.storage import Revisit, Stored, Verdict
from ingest.storage import Saved as Saved  # re-exported: what save_article returns
from ingest.urls import url_key

# The schema's versions and both stores' steps to them are migrations.py's; open_db applies SQLite's.
SCHEMA_VERSION: Final = migrations.SCHEMA_VERSION  # re-exported: what other modules and tests compare with
BUSY_TIMEOUT_MS: Final = 30_000
WAL_CHECKPOINT_PAGES: Final = 10_000
CACHE_MIB: Final = 64  # per connection; with SQLite's 2 MiB a 250k archive took 0.89-0.99 ms per article, with 64: 0.83


def open_db(path: str | Path) -> sqlite_utils.Database:
    """Open (creating when needed) the database: WAL, busy timeout, tables, FTS. Idempotent."""
    path = Path(path)
    if str(path) != ":memory:":
        path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    db = sqlite_utils.Database(conn)
    db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    with _refused(db, path):
        migrations.refuse_newer(migrations.sqlite_version(db))  # before anything is written (WAL mode, tables)
    if db.journal_mode != "wal":
        db.enable_wal()
    db.execute("PRAGMA synchronous = NORMAL")  # safe in WAL: a crash loses no committed transaction
    # A checkpoint copies every page in the WAL back into the file. At SQLite's default (1,000 pages) a
    # 100-article transaction of an archive of 100k articles, whose LSH band rows land on as many random
    # pages, checkpointed at every commit; at 10,000 pages (a WAL of up to ~40 MB) the store's time per
    # article at 100k fell from 1.12 to 0.82 ms (bench/dedup_scale.py, 256 MiB cache).
    db.execute(f"PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES}")
    db.execute(f"PRAGMA cache_size = {-1024 * CACHE_MIB}")  # negative: KiB
    db.execute("PRAGMA foreign_keys = ON")
    with _refused(db, path):  # also when a newer ingest upgraded it since the check above
        migrations.apply_sqlite(db)
    views.create_views(db)  # views for sqlite3 and Datasette, and the article_topics table
    return db


def readonly_uri(path: str | Path) -> str:
    """The URI that reads the existing database at `path` without writing: `mode=ro`, which reads the live file
    while the daemon writes; in a folder that can't be written, where SQLite cannot create the -shm file reading a
    WAL database needs, `mode=ro&immutable=1`, a snapshot (no writer can be at work in such a folder either: it
    could not create its -wal)."""
    uri = f"{Path(path).resolve().as_uri()}?mode=ro"
    try:
        with closing(sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000)) as conn:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError as exc:
        if "unable to open" not in str(exc):
            raise
        return f"{uri}&immutable=1"
    return uri


def open_readonly(path: str | Path) -> sqlite_utils.Database:
    """An existing database, read-only (nothing is created or changed; see readonly_uri); FileNotFoundError when
    there is none."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"no database at {path}")
    conn = sqlite3.connect(readonly_uri(path), uri=True, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    return sqlite_utils.Database(conn)


def open_for_reading(path: str | Path) -> sqlite_utils.Database:
    """What read-only commands (stats, sources, topics) open: the file read-only, so they work on a read-only file
    or folder and never take the write lock. One made by an older ingest is upgraded first (open_db, a write); one
    made by a newer ingest is a DatabaseTrouble (nothing written); with no file at all, an empty database in memory:
    nothing is created on disk by asking."""
    if not Path(path).exists():
        return open_db(":memory:")
    db = open_readonly(path)
    version = migrations.sqlite_version(db)
    if version < SCHEMA_VERSION:
        db.close()
        return open_db(path)
    with _refused(db, path):
        migrations.refuse_newer(version)
    return db


@contextmanager
def _refused(db: sqlite_utils.Database, path: str | Path) -> Iterator[None]:
    """A schema the block refuses (made by a newer ingest): the connection closed, one DatabaseTrouble naming the
    file; nothing was written."""
    try:
        yield
    except migrations.SchemaRefused as exc:
        db.close()
        raise DatabaseTrouble(f"{path} was {exc}") from None


class DatabaseTrouble(Exception):
    """A --db that cannot be used as asked; str() is the one line to show, naming the path."""


SQLITE_HEADER = b"SQLite format 3\x00"
CREATE_HINT = "`ingest run` or `ingest backfill` creates it; give another with --db"


def check_database(path: str | Path, *, create: bool) -> None:
    """Raise DatabaseTrouble unless `path` is an ingest database (or, with `create`, nothing yet or a 0-byte file,
    to be created): a folder, a missing or 0-byte file for a command that only reads, a non-SQLite file, a damaged
    schema, another program's SQLite database. Reads only the file's first bytes and its schema: nothing is created
    or changed, however bad the path."""
    path = Path(path)
    if path.is_dir():
        raise DatabaseTrouble(f"{path} is a folder, not a database file: give the file with --db")
    if not path.exists():
        if create:
            return
        raise DatabaseTrouble(f"no database at {path}: {CREATE_HINT}")
    try:
        with path.open("rb") as file:
            head = file.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise DatabaseTrouble(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if not head:
        # SQLite takes a 0-byte file for an empty database: a plain sqlite3.connect() (a script looking in before
        # the daemon starts) leaves one, and a writer starting up has just made one. Only a creator may fill it.
        if create or Path(f"{path}-wal").exists():
            return
        raise DatabaseTrouble(f"{path} is an empty file (0 bytes), not a database: delete it so that `ingest run` "
                              "or `ingest backfill` can create one there, or give another with --db")
    if head and head != SQLITE_HEADER:
        raise DatabaseTrouble(f"{path} is not an SQLite database (it starts {head[:8]!r}); nothing was written to it")
    there = sidecars(path)
    try:
        with closing(open_readonly(path)) as db:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            version = migrations.sqlite_version(db)
        if not tables or "articles" in tables:
            migrations.refuse_newer(version)
            return
        trouble = (f"{path} is an SQLite database of another program (no articles table); nothing was written to it: "
                   "give ingest's archive with --db")
    except migrations.SchemaRefused as exc:
        trouble = f"{path} was {exc}"
    except sqlite3.DatabaseError as exc:
        trouble = f"{path}: {database_trouble(exc)}"
    drop_new_sidecars(path, there)
    raise DatabaseTrouble(trouble)


def sidecars(path: str | Path) -> tuple[bool, bool]:
    """Whether the database's -wal and -shm files exist (to tell, after a refusal, which ones we made)."""
    return Path(f"{path}-wal").exists(), Path(f"{path}-shm").exists()


def drop_new_sidecars(path: str | Path, there: tuple[bool, bool]) -> None:
    """Reading a WAL database (mode=ro) makes its -wal and -shm files: one we refuse is left as it was found. Only
    those that were not `there` before go, and a -wal only while empty (it holds no one's writes)."""
    for side, existed in zip((Path(f"{path}-wal"), Path(f"{path}-shm")), there, strict=True):
        if not existed and side.exists() and (side.name.endswith("-shm") or side.stat().st_size == 0):
            side.unlink(missing_ok=True)


def database_trouble(exc: sqlite3.DatabaseError) -> str:
    """What SQLite's error means for the user, in one line."""
    text = str(exc)
    if "not a database" in text or "malformed" in text:
        return f"damaged, or not an SQLite database ({text}); nothing was written to it"
    if "readonly" in text or "read-only" in text:
        return f"cannot be written ({text}): check the file's and its folder's permissions"
    if "locked" in text or "busy" in text:
        return f"locked by another process for too long ({text})"
    if "unable to open" in text:
        return f"cannot be opened ({text}): check that its folder exists and can be written"
    return text


def check_writable(path: str | Path) -> None:
    """Raise sqlite3.OperationalError ("readonly", "locked") unless a write transaction can start on the existing
    database at `path`: writers check before their first pass instead of failing in the middle of one."""
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        conn.execute(f"PRAGMA user_version = {version}")  # a write that changes nothing, rolled back
        conn.execute("ROLLBACK")
    finally:
        conn.close()


# --- articles -----------------------------------------------------------------------------------

def stored_at(db: sqlite_utils.Database, key: str) -> Stored | None:
    """The article stored under this canonical URL key, as the dedup stage compares a new fetch of it."""
    row = db.execute("SELECT id, content_hash, duplicate_of, title, text, fetched_at FROM articles"
                     " WHERE url_key = ?", [key]).fetchone()
    return Stored(*row) if row else None


def exact_copy(db: sqlite_utils.Database, digest: str) -> int | None:
    """The earliest original with this content hash."""
    row = db.execute("SELECT id FROM articles WHERE content_hash = ? AND duplicate_of IS NULL ORDER BY id LIMIT 1",
                     [digest]).fetchone()
    return int(row[0]) if row else None


class Lookups:
    """storage.DedupLookups on one connection: what dedup.judge asks, for callers holding a database."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def stored_at(self, url_key: str) -> Stored | None:
        """See storage.DedupLookups.stored_at."""
        return stored_at(self.db, url_key)

    def exact_copy(self, digest: str) -> int | None:
        """See storage.DedupLookups.exact_copy."""
        return exact_copy(self.db, digest)

    def near_copy(self, fingerprint: Fingerprint) -> int | None:
        """See storage.DedupLookups.near_copy."""
        return neardup.find_original(self.db, fingerprint)


def save_article(db: sqlite_utils.Database, article: Article, fingerprint: Fingerprint | None = None, *,
                 raw: WarcRef | None = None, digest: str | None = None) -> Saved:
    """The dedup stage and the save of one article in one transaction (joining the caller's): how scripts and
    tests store an article. The pipeline calls the two itself, dedup.judge then SqliteStore.save_article."""
    with transaction(db):
        return record_article(db, article, dedup.judge(Lookups(db), article, fingerprint, digest), raw=raw)


def record_article(db: sqlite_utils.Database, article: Article, verdict: Verdict, *,
                   raw: WarcRef | None = None) -> Saved:
    """Store `article` as dedup.judge found it, in the transaction the verdict's lookups were made in.

    `raw` is where the page's bytes were archived (ingest/archive/warc.py), kept for `ingest reclean`.

    Same URL key: unchanged text is left alone (no FTS re-index); changed text replaces the stored one,
    which becomes a row of `revisions`. A new URL whose text is an exact or near copy of a stored original
    (any outlet, any earlier run or process) is stored with duplicate_of -> the earliest such original.
    """
    with transaction(db):  # joins the caller's page transaction
        key = verdict.url_key
        row = article_row(article, key, verdict.digest)
        if raw is not None:
            row.update(warc_file=raw.file, warc_offset=raw.offset, warc_length=raw.length)
        stored = verdict.stored
        if stored is not None:
            _alias(db, article, key, stored.article_id)
            if verdict.kind == "same":
                return Saved("unchanged", stored.article_id, stored.duplicate_of)
            row.pop("first_seen_at")
            (modified_at,) = db.execute("SELECT modified_at FROM articles WHERE id = ?", [stored.article_id]).fetchone()
            _insert(db, "revisions", {"article_id": stored.article_id, "content_hash": stored.content_hash,
                                      "title": stored.title, "text": stored.text, "fetched_at": stored.fetched_at,
                                      "replaced_at": utcnow(),
                                      **revdiff.revision_fields(stored.title, stored.text, modified_at, row["title"],
                                                                row["text"], row["modified_at"])})
            db.table("articles").update(stored.article_id, row)
            neardup.unindex(db, stored.article_id, verdict.unindex)  # an original: its index follows its text
            neardup.index(db, stored.article_id, verdict.bands)
            return Saved("updated", stored.article_id, stored.duplicate_of)
        original = verdict.original
        row["duplicate_of"] = original
        article_id = _insert(db, "articles", row)
        neardup.index(db, article_id, verdict.bands)  # a new original's; copies point at originals: not indexed
        neardup.maintain(db, article_id)
        _alias(db, article, key, article_id)
        return Saved("duplicate" if original else "new", article_id, original)


# What a new cleaning of the same page may change; the URL, dedup links, fetch times and raw page stay.
CLEANED_COLUMNS = ("title", "authors", "published_at", "modified_at", "date_source", "language", "text", "lead",
                   "section", "tags", "image", "content_hash", "words", "adapter", "adapter_version", "fallback",
                   "paywalled", "learned_rev", "truncated")


def replace_cleaning(db: sqlite_utils.Database, article_id: int, article: Article,
                     fingerprint: Fingerprint | None = None) -> bool:
    """Store a new cleaning of a stored article's page (`ingest reclean`); True when anything a reader sees
    changed. The FTS row follows by trigger, an original's near-duplicate bands follow its new text; no
    revision is recorded (the page is the same). Call inside the article's transaction."""
    with transaction(db):
        old = db.execute(f"SELECT duplicate_of, {', '.join(CLEANED_COLUMNS)} FROM articles WHERE id = ?",
                         [article_id]).fetchone()
        if old is None:
            return False
        duplicate_of, before = old[0], dict(zip(CLEANED_COLUMNS, old[1:], strict=True))
        row = article_row(article, url_key(article.url), content_hash(article.text))
        after = {name: row[name] for name in CLEANED_COLUMNS}
        if after == before:
            return False
        db.table("articles").update(article_id, after)
        if duplicate_of is None and after["content_hash"] != before["content_hash"]:
            neardup.unindex(db, article_id, neardup.fingerprint(before["text"]).bands)
            neardup.index(db, article_id, (fingerprint or neardup.fingerprint(article.text)).bands)
        # truncated: null on rows from before schema 9; a page cut differently has a different text anyway
        hidden = ("adapter_version", "learned_rev", "words", "content_hash", "truncated")
        shown = {n for n in CLEANED_COLUMNS if n not in hidden}
        return any(after[n] != before[n] for n in shown)


def _insert(db: sqlite_utils.Database, table: str, row: dict[str, Any]) -> int:
    """INSERT one row of a table whose columns we created; returns its rowid.

    Table.insert() looks the table and its views up in sqlite_master and re-checks every value's type on
    each call: a fifth of record()'s time in a profile of bench/throughput.py, for columns known in advance.
    """
    cursor = db.conn.execute(_insert_sql(table, tuple(row)), tuple(row.values()))
    assert cursor.lastrowid is not None
    return cursor.lastrowid


@lru_cache(maxsize=32)
def _insert_sql(table: str, names: tuple[str, ...]) -> str:
    columns = ", ".join(f'"{name}"' for name in names)
    return f'INSERT INTO "{table}" ({columns}) VALUES ({", ".join("?" * len(names))})'


def _alias(db: sqlite_utils.Database, article: Article, key: str, article_id: int) -> None:
    """Remember the key of the URL the article was fetched at, when it is not its canonical key."""
    if article.fetched_url and (alias := url_key(article.fetched_url)) != key:
        db.execute("INSERT OR IGNORE INTO url_aliases (url_key, article_id) VALUES (?, ?)", [alias, article_id])


def article_row(article: Article, key: str, digest: str) -> dict[str, Any]:
    """An article as the columns of its row (both stores: archive/postgres.py too)."""
    now = utcnow()
    return {
        "url": article.url, "url_key": key, "source": article.source, "title": article.title,
        "authors": json.dumps(article.authors, ensure_ascii=False),
        "published_at": iso_utc(article.published_at), "modified_at": iso_utc(article.modified_at),
        "date_source": article.date_source, "learned_rev": article.learned_rev,
        "language": article.language, "text": article.text, "lead": article.lead,
        "section": article.section, "tags": json.dumps(article.tags, ensure_ascii=False),
        "image": article.image, "content_hash": digest, "words": len(article.text.split()),
        "adapter": article.adapter, "adapter_version": article.adapter_version,
        "fallback": int(article.fallback), "paywalled": int(article.paywalled), "truncated": int(article.truncated),
        "fetched_url": article.fetched_url, "fetched_at": iso_utc(article.fetched_at) or now,
        "first_seen_at": now,
    }


def log_fetch(db: sqlite_utils.Database, *, url: str, source: str, outcome: str, status: int | None = None,
              reason: str | None = None, detail: str | None = None, article_id: int | None = None) -> None:
    """One row per fetch outcome: new, duplicate, updated, unchanged, rejected, failed, not-modified."""
    _insert(db, "fetches", {"url": url, "source": source, "status": status, "outcome": outcome,
                            "reason": reason, "detail": (detail or "")[:500] or None,
                            "article_id": article_id, "time": utcnow()})


# --- frontier -----------------------------------------------------------------------------------

DONE_STATES = ("done", "rejected")
MAX_ATTEMPTS: Final = 3


def add_links(db: sqlite_utils.Database, links: Iterable[Link]) -> int:
    """Put newly discovered links in the frontier as pending; known ones are left as they are."""
    now = utcnow()
    rows = [(url_key(link.url), link.url, link.source, link.via, iso_utc(link.published_at), now, now)
            for link in links]
    with transaction(db):
        before = db.execute("SELECT count(*) FROM frontier").fetchone()[0]
        db.conn.executemany(
            "INSERT INTO frontier (url_key, url, source, via, published_hint, state, attempts,"
            " discovered_at, updated_at) VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?)"
            " ON CONFLICT(url_key) DO NOTHING", rows)
        after = db.execute("SELECT count(*) FROM frontier").fetchone()[0]
    return int(after - before)


def is_known(db: sqlite_utils.Database, url: str) -> bool:
    """True when this URL (any variant) is stored, was fetched for a stored article, or was settled."""
    key = url_key(url)
    if db.execute("SELECT 1 FROM articles WHERE url_key = ? UNION ALL SELECT 1 FROM url_aliases WHERE url_key = ?",
                  [key, key]).fetchone():
        return True
    row = db.execute("SELECT state FROM frontier WHERE url_key = ?", [key]).fetchone()
    return bool(row and row[0] in DONE_STATES)


def pending_links(db: sqlite_utils.Database, source: str, *, start: datetime | None = None,
                  end: datetime | None = None, limit: int | None = None) -> list[Link]:
    """Frontier links still to fetch for a source, newest hint first (undated last); not those another
    process is fetching (claim_links). With `start`/`end`, only those hinted in [start, end) or undated."""
    sql = ("SELECT url, source, via, published_hint FROM frontier WHERE source = ?"
           f" AND {_FETCHABLE} AND (claimed_until IS NULL OR claimed_until < ?)")
    params: list[Any] = [source, MAX_ATTEMPTS, time.time()]
    if start:  # hints are iso_utc() strings: they compare as the instants they name
        sql += " AND (published_hint IS NULL OR published_hint >= ?)"
        params.append(iso_utc(start))
    if end:
        sql += " AND (published_hint IS NULL OR published_hint < ?)"
        params.append(iso_utc(end))
    sql += " ORDER BY published_hint IS NULL, published_hint DESC"
    if limit:
        sql += f" LIMIT {int(limit)}"
    return [Link(url=u, source=s, via=v, published_at=datetime.fromisoformat(p) if p else None)
            for u, s, v, p in db.execute(sql, params).fetchall()]


def stored_after(db: sqlite_utils.Database, url: str, moment: datetime) -> bool:
    """Whether the article at `url` (or an alias of it) was stored from a fetch later than `moment`."""
    key = url_key(url)
    row = db.execute("SELECT max(a.fetched_at) FROM articles a WHERE a.url_key = ? OR a.id IN"
                     " (SELECT article_id FROM url_aliases WHERE url_key = ?)", [key, key]).fetchone()
    return bool(row and row[0] and row[0] > iso_utc(moment))


def revisit_candidates(db: sqlite_utils.Database, source: str,
                       since: datetime) -> list[tuple[int, str, datetime, datetime]]:
    """See storage.Store.revisit_candidates."""
    rows = db.execute("SELECT a.id, a.url_key, coalesce(a.published_at, a.first_seen_at) AS base, a.first_seen_at"
                      " FROM articles a"
                      " WHERE a.source = ? AND a.removed_at IS NULL AND coalesce(a.published_at, a.first_seen_at) >= ?"
                      " AND NOT EXISTS (SELECT 1 FROM revisits r WHERE r.url_key = a.url_key)",
                      [source, iso_utc(since)]).fetchall()
    return [(article_id, key, datetime.fromisoformat(base), datetime.fromisoformat(seen or base))
            for article_id, key, base, seen in rows]


def schedule_revisits(db: sqlite_utils.Database,
                      rows: Iterable[tuple[str, int, str, float, int, float | None]]) -> None:
    """See storage.Store.schedule_revisits."""
    with transaction(db):
        db.conn.executemany("INSERT INTO revisits (url_key, article_id, source, base_at, step, due_at)"
                            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (url_key) DO UPDATE SET step = excluded.step,"
                            " due_at = excluded.due_at", list(rows))


# A due revisit's row (storage.Revisit's fields, in order), for both stores; each adds its WHERE.
DUE_REVISITS: Final = ("SELECT r.url_key, a.url, a.id, r.base_at, r.step, r.etag, r.last_modified FROM revisits r"
                       " JOIN articles a ON a.id = r.article_id")


def due_revisits(db: sqlite_utils.Database, source: str, now: float, limit: int) -> list[Revisit]:
    """See storage.Store.due_revisits."""
    rows = db.execute(DUE_REVISITS + " WHERE r.source = ? AND r.due_at <= ? AND a.removed_at IS NULL"
                      " ORDER BY r.due_at LIMIT ?", [source, now, limit]).fetchall()
    return [Revisit(*row) for row in rows]


def due_revisit(db: sqlite_utils.Database, key: str, now: float) -> Revisit | None:
    """See storage.Store.due_revisit."""
    row = db.execute(DUE_REVISITS + " WHERE r.url_key = ? AND r.due_at <= ? AND a.removed_at IS NULL",
                     [key, now]).fetchone()
    return Revisit(*row) if row else None


def finish_revisit(db: sqlite_utils.Database, key: str, step: int, due_at: float | None, etag: str | None = None,
                   last_modified: str | None = None) -> None:
    """See storage.Store.finish_revisit."""
    with transaction(db):
        db.execute("UPDATE revisits SET step = ?, due_at = ?, checked_at = ?, etag = ?, last_modified = ?"
                   " WHERE url_key = ?", [step, due_at, utcnow(), etag, last_modified, key])


def revisit_modified(db: sqlite_utils.Database, url: str, modified: datetime, now: float) -> bool:
    """See storage.Store.revisit_modified."""
    key = url_key(url)
    row = db.execute("SELECT a.id, a.url_key, a.source, a.fetched_at, coalesce(a.published_at, a.first_seen_at),"
                     " r.checked_at FROM articles a LEFT JOIN revisits r ON r.url_key = a.url_key"
                     " WHERE (a.url_key = ? OR a.id IN (SELECT article_id FROM url_aliases WHERE url_key = ?))"
                     " AND a.removed_at IS NULL", [key, key]).fetchone()
    if row is None:
        return False
    article_id, stored_key, source, fetched_at, base, checked_at = row
    seen = max(filter(None, (fetched_at, checked_at)), default=None)
    if seen is not None and iso_utc(modified) <= seen:
        return False
    with transaction(db):
        db.execute("INSERT INTO revisits (url_key, article_id, source, base_at, step, due_at) VALUES (?, ?, ?, ?, 0, ?)"
                   " ON CONFLICT (url_key) DO UPDATE SET due_at = excluded.due_at",
                   [stored_key, article_id, source, datetime.fromisoformat(base).timestamp(), now])
    return True


def mark_removed(db: sqlite_utils.Database, article_id: int, status: int) -> None:
    """See storage.Store.mark_removed."""
    with transaction(db):
        db.execute("UPDATE articles SET removed_at = ?, removed_status = ? WHERE id = ? AND removed_at IS NULL",
                   [utcnow(), status, article_id])


def settle_link(db: sqlite_utils.Database, url: str, state: str, reason: str | None = None, *,
                attempted: bool = True) -> None:
    """Mark a frontier link done, rejected, failed (retried later) or skipped, and end its claim.

    `attempted=False` (the host was backed off, no request was sent) does not use up one of the
    link's MAX_ATTEMPTS: a host that is down for a day must not cost us its articles.
    """
    db.execute("UPDATE frontier SET state = ?, reason = ?, attempts = attempts + ?, updated_at = ?,"
               " claimed_by = NULL, claimed_until = NULL WHERE url_key = ?",
               [state, reason, int(attempted), utcnow(), url_key(url)])


# --- claims: which process fetches a link -------------------------------------------------------------

_FETCHABLE = "(state = 'pending' OR (state = 'failed' AND attempts < ?))"


def claim_links(db: sqlite_utils.Database, links: Iterable[Link], holder: str) -> list[Link]:
    """Of `links`, those `holder` may fetch now, claimed for it in one transaction: still to fetch, and not
    claimed by another process (the daemon and a backfill on one database never fetch one URL twice)."""
    now = time.time()
    claimed = []
    with transaction(db):
        for link in links:
            cursor = db.execute(
                f"UPDATE frontier SET claimed_by = ?, claimed_until = ? WHERE url_key = ? AND {_FETCHABLE}"
                " AND (claimed_by IS NULL OR claimed_by = ? OR claimed_until < ?)",
                [holder, now + CLAIM_SECONDS, url_key(link.url), MAX_ATTEMPTS, holder, now])
            if cursor.rowcount:
                claimed.append(link)
    return claimed


def release_dead_claims(db: sqlite_utils.Database) -> int:
    """End the claims of processes of this machine that are gone (killed mid-pass); returns how many links."""
    holders = [r[0] for r in db.execute("SELECT DISTINCT claimed_by FROM frontier WHERE claimed_by IS NOT NULL")]
    released = 0
    for holder in holders:
        if not holder_alive(holder):
            with transaction(db):
                released += db.execute("UPDATE frontier SET claimed_by = NULL, claimed_until = NULL"
                                       " WHERE claimed_by = ?", [holder]).rowcount
    return released


def renew_claims(db: sqlite_utils.Database, holder: str) -> None:
    """Keep `holder`'s claims from lapsing while its pass goes on."""
    with transaction(db):
        db.execute("UPDATE frontier SET claimed_until = ? WHERE claimed_by = ?", [time.time() + CLAIM_SECONDS, holder])


def release_claims(db: sqlite_utils.Database, holder: str) -> None:
    """The links `holder` claimed and did not settle (a stopped pass) are free for any process again."""
    with transaction(db):
        db.execute("UPDATE frontier SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = ?", [holder])


# --- feeds and sitemaps: validators for conditional GET ---------------------------------------

def validators(db: sqlite_utils.Database, url: str) -> tuple[str | None, str | None]:
    """(etag, last_modified) last seen for a feed, sitemap or listing URL."""
    row = db.execute("SELECT etag, last_modified FROM resources WHERE url = ?", [url]).fetchone()
    return (row[0], row[1]) if row else (None, None)


def save_validators(db: sqlite_utils.Database, url: str, *, source: str, kind: str, status: int,
                    etag: str | None, last_modified: str | None) -> None:
    """Remember a resource's ETag and Last-Modified for the next conditional GET."""
    db.table("resources").upsert({"url": url, "source": source, "kind": kind, "etag": etag,
                            "last_modified": last_modified, "status": status, "fetched_at": utcnow()},
                           pk="url")


# --- runs ---------------------------------------------------------------------------------------

def start_run(db: sqlite_utils.Database, source: str, kind: str) -> int:
    """Record that a run of a source started; returns its id."""
    run_id = db.table("runs").insert({"source": source, "kind": kind, "started_at": utcnow(),
                                      "status": "running"}).last_pk
    assert run_id is not None
    return int(run_id)


def finish_run(db: sqlite_utils.Database, run_id: int, counts: dict[str, int], status: str) -> None:
    """Record a run's counts and how it ended: ok, failed (every request failed), stopped, error (an exception)."""
    db.table("runs").update(run_id, {**counts, "finished_at": utcnow(), "status": status})


# --- per-host state, shared by fetcher threads --------------------------------------------------

class HostStore:
    """HostStateStore on the database: robots.txt and backoff survive restarts.

    Fetcher threads call it. One connection shared under a lock, not one per thread: the pipeline
    starts fresh fetch threads every pass, and per-thread connections piled up open for months.
    Host state is read once per host and written only on robots.txt fetches and failures.
    """

    def __init__(self, path: str | Path) -> None:
        self._conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False,
                                     isolation_level=None)
        # Leases are taken and given back in small commits: in WAL mode NORMAL loses no committed transaction in a
        # crash of ours, and spares the fsync per commit FULL makes (SQLite's default, per connection).
        self._conn.execute("PRAGMA synchronous = NORMAL")
        self._lock = threading.Lock()

    def load_host(self, host: str) -> HostState | None:
        """The stored state of a host, or None when it was never contacted."""
        with self._lock:
            row = self._conn.execute(
                "SELECT host, robots_txt, robots_fetched_at, robots_status, backoff_until, failures"
                " FROM hosts WHERE host = ?", [host]).fetchone()
        if row is None:
            return None
        return HostState(host=row[0], robots_txt=row[1], robots_fetched_at=row[2] or 0.0,
                         robots_status=row[3] or 0, backoff_until=row[4] or 0.0, failures=row[5] or 0)

    def save_host(self, state: HostState) -> None:
        """Upsert a host's state in its own short transaction."""
        with self._lock:
            self._conn.execute(
                "INSERT INTO hosts (host, robots_txt, robots_fetched_at, robots_status, backoff_until,"
                " failures) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(host) DO UPDATE SET"
                " robots_txt = excluded.robots_txt, robots_fetched_at = excluded.robots_fetched_at,"
                " robots_status = excluded.robots_status, backoff_until = excluded.backoff_until,"
                " failures = excluded.failures",
                [state.host, state.robots_txt, state.robots_fetched_at, state.robots_status,
                 state.backoff_until, state.failures])

    def take_turn(self, host: str, holder: str, *, hold: float) -> tuple[bool, float, float]:
        """Take the host's lease, shared by every process on the database (fetch.HostStateStore.take_turn).
        Looked at without the write lock first: a process that waits only reads, and writes its name once."""
        with self._lock:
            turn, backoff_until = self._turn(host)
            if not turn.free_for(holder, time.time(), backoff_until) and turn.waiter == holder:
                return False, turn.next_request_at, backoff_until
            with immediate(self._conn):
                turn, backoff_until = self._turn(host)  # again, now that no one else can write
                now = time.time()
                taken = turn.free_for(holder, now, backoff_until)
                self._save_turn(host, turn.taken(holder, now, hold=hold) if taken else turn.awaited(holder))
            return taken, turn.next_request_at, backoff_until

    def renew_turn(self, host: str, holder: str, *, hold: float) -> bool:
        """Extend `holder`'s lease (fetch.HostStateStore.renew_turn)."""
        with self._lock:
            return bool(self._conn.execute("UPDATE hosts SET lease_until = ? WHERE host = ? AND lease_holder = ?",
                                           [time.time() + hold, host, holder]).rowcount)

    def turn_wanted(self, host: str, holder: str) -> bool:
        """Is another (live) process waiting for the lease? A read: asked after every request of the holder."""
        with self._lock:
            return self._turn(host)[0].wanted(holder)

    def end_turn(self, host: str, holder: str, next_request_at: float) -> None:
        """Give the lease back, or hand it to the process waiting for it (fetch.HostStateStore.end_turn)."""
        with self._lock, immediate(self._conn):
            turn, _ = self._turn(host)
            if turn.holder == holder:
                self._save_turn(host, turn.given_back(next_request_at, time.time()))

    def _turn(self, host: str) -> tuple[Turn, float]:
        """The host's lease as stored, and its backoff_until."""
        row = self._conn.execute("SELECT next_request_at, lease_holder, lease_until, waiter, backoff_until"
                                 " FROM hosts WHERE host = ?", [host]).fetchone()
        if row is None:
            return Turn(), 0.0
        return Turn(row[0] or 0.0, row[1], row[2] or 0.0, row[3]), row[4] or 0.0

    def _save_turn(self, host: str, turn: Turn) -> None:
        self._conn.execute(
            "INSERT INTO hosts (host, next_request_at, lease_holder, lease_until, waiter) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT(host) DO UPDATE SET next_request_at = excluded.next_request_at,"
            " lease_holder = excluded.lease_holder, lease_until = excluded.lease_until, waiter = excluded.waiter",
            [host, turn.next_request_at, turn.holder, turn.lease_until or None, turn.waiter])

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()


def rows(db: sqlite_utils.Database, sql: str, params: Iterable[Any] = ()) -> Iterator[dict[str, Any]]:
    """Query helper for reports: rows as dicts."""
    cursor = db.execute(sql, list(params))
    names = [d[0] for d in cursor.description]
    for row in cursor:
        yield dict(zip(names, row, strict=True))
