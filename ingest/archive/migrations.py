"""The archive's schema history for both stores: one SCHEMA_VERSION, one ordered list of steps.

Each Step is a version with its SQLite part and its PostgreSQL part: SQL statements, or a small function over a
connection. Adding version 10 is adding one Step with both parts (check_steps, run by tests/test_migrations.py,
fails a list whose version lacks either) and raising SCHEMA_VERSION. The openers apply the pending steps:

- SQLite (store.open_db -> apply_sqlite): the steps after PRAGMA user_version, in one BEGIN IMMEDIATE transaction
  that re-reads the version once it holds the write lock and sets it last; FTS5 is made after it (sqlite-utils
  commits enable_fts on its own), on every open, so a kill half-way through making it is completed.
- PostgreSQL (postgres.open_postgres_store -> apply_postgres): the steps after `ingest_schema`'s version, in one
  transaction holding an advisory lock, which re-reads the version under the lock and records the new one.

PostgreSQL's baseline is version 9: no PostgreSQL archive older exists, so versions 1-8 are CREATED_AT_BASELINE
(made by version 9's part, pgschema.TABLES, all at once) and an archive claiming one of them is refused.
SQLite's parts are idempotent (CREATE IF NOT EXISTS, a column added when missing): a database whose
user_version was lost (set to 0) is brought to the current schema without losing rows.

A database of a version above SCHEMA_VERSION was made by a newer ingest: NewerSchema, nothing changed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, LiteralString

import sqlite_utils

from ingest.archive import boilerplate, neardup, pgschema, rekey
from ingest.archive.db import transaction
from ingest.urls import url_key

if TYPE_CHECKING:
    import psycopg

SCHEMA_VERSION: Final = 10
POSTGRES_BASELINE: Final = 9  # the first version PostgreSQL has: its part makes every table at once


class Baseline:
    """A PostgreSQL part that is not there: the version came before PostgreSQL's baseline, whose part made it."""

    def __repr__(self) -> str:
        return f"CREATED_AT_BASELINE ({POSTGRES_BASELINE})"


CREATED_AT_BASELINE: Final = Baseline()

SqlitePart = Sequence[str] | Callable[[sqlite_utils.Database], None]
PostgresPart = Sequence[LiteralString] | Callable[["psycopg.Connection[Any]"], None] | Baseline


@dataclass(frozen=True)
class Step:
    """What one schema version changed, in each store's dialect."""

    version: int
    what: str
    sqlite: SqlitePart
    postgres: PostgresPart


class SchemaRefused(Exception):
    """A database whose schema version this ingest cannot use; str() is the one line to show (the opener adds
    where)."""


class NewerSchema(SchemaRefused):
    """The database was made by a newer ingest."""


def refuse_newer(version: int) -> None:
    """NewerSchema when `version` is above SCHEMA_VERSION."""
    if version > SCHEMA_VERSION:
        raise NewerSchema(f"made by a newer ingest (schema {version}; this ingest knows schema {SCHEMA_VERSION} and"
                          " older): upgrade ingest to use it; nothing was changed in it")


# --- SQLite's parts -------------------------------------------------------------------------------

def _add_columns(db: sqlite_utils.Database, table: str, columns: dict[str, type]) -> None:
    """Add the columns `table` lacks: an older archive's rows are kept."""
    have = db.table(table).columns_dict
    for name, kind in columns.items():
        if name not in have:
            db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {({int: 'INTEGER', float: 'REAL'}).get(kind, 'TEXT')}")


def _sqlite_1(db: sqlite_utils.Database) -> None:
    db.table("articles").create({
        "id": int, "url": str, "url_key": str, "source": str, "title": str, "authors": str,
        "published_at": str, "modified_at": str, "language": str, "text": str, "lead": str,
        "section": str, "tags": str, "image": str, "duplicate_of": int, "content_hash": str,
        "words": int, "adapter": str, "adapter_version": int, "fallback": int, "paywalled": int,
        "fetched_url": str, "fetched_at": str, "first_seen_at": str,
    }, pk="id", not_null={"url", "url_key", "source", "title", "text"},
        foreign_keys=[("duplicate_of", "articles", "id")], if_not_exists=True)
    for columns, unique in ((["url"], True), (["url_key"], True), (["content_hash"], False),
                            (["source", "published_at"], False), (["published_at"], False)):
        db.table("articles").create_index(columns, unique=unique, if_not_exists=True)
    db.table("fetches").create({
        "id": int, "url": str, "source": str, "status": int, "outcome": str, "reason": str,
        "detail": str, "article_id": int, "time": str,
    }, pk="id", if_not_exists=True)
    db.table("fetches").create_index(["source", "time"], if_not_exists=True)
    db.table("fetches").create_index(["outcome", "reason"], if_not_exists=True)
    db.table("frontier").create({
        "url_key": str, "url": str, "source": str, "via": str, "published_hint": str,
        "state": str, "attempts": int, "reason": str, "discovered_at": str, "updated_at": str,
    }, pk="url_key", if_not_exists=True)
    db.table("frontier").create_index(["source", "state"], if_not_exists=True)
    db.table("hosts").create({
        "host": str, "robots_txt": str, "robots_fetched_at": float, "robots_status": int,
        "backoff_until": float, "failures": int,
    }, pk="host", if_not_exists=True)
    db.table("resources").create({
        "url": str, "source": str, "kind": str, "etag": str, "last_modified": str,
        "status": int, "fetched_at": str,
    }, pk="url", if_not_exists=True)
    db.table("runs").create({
        "id": int, "source": str, "kind": str, "started_at": str, "finished_at": str,
        "discovered": int, "new": int, "duplicate": int, "updated": int, "unchanged": int,
        "rejected": int, "failed": int, "status": str,
    }, pk="id", if_not_exists=True)
    db.table("runs").create_index(["source", "started_at"], if_not_exists=True)


def _sqlite_2(db: sqlite_utils.Database) -> None:
    db.table("url_aliases").create({"url_key": str, "article_id": int}, pk="url_key",
                                   foreign_keys=[("article_id", "articles", "id")], if_not_exists=True)
    db.table("revisions").create({
        "id": int, "article_id": int, "content_hash": str, "title": str, "text": str, "fetched_at": str,
        "replaced_at": str,
    }, pk="id", foreign_keys=[("article_id", "articles", "id")], if_not_exists=True)
    db.table("revisions").create_index(["article_id"], if_not_exists=True)
    neardup.create_table(db)
    # the aliases of the stored fetched URLs (idempotent); step 3 fills the band index
    aliases = [(url_key(url), article_id, key) for article_id, url, key in db.execute(
        "SELECT id, fetched_url, url_key FROM articles WHERE fetched_url IS NOT NULL").fetchall()]
    db.conn.executemany("INSERT OR IGNORE INTO url_aliases (url_key, article_id) VALUES (?, ?)",
                        [(alias, article_id) for alias, article_id, key in aliases if alias != key])


def _sqlite_3(db: sqlite_utils.Database) -> None:
    neardup.reindex(db)  # the originals' bands with 16 x 2 rows, their filter made again


def _sqlite_4(db: sqlite_utils.Database) -> None:
    neardup.create_table(db)  # the newer levels, empty
    neardup.rebuild_filter(db)  # the oldest level's filter, from its rows: a million-article index is kept


def _sqlite_6(db: sqlite_utils.Database) -> None:
    _add_columns(db, "articles", {"learned_rev": int, "warc_file": str, "warc_offset": int, "warc_length": int})
    boilerplate.create_tables(db)
    db.table("reclean_cursors").create({"source": str, "scope": str, "last_id": int, "updated_at": str},
                                       pk=("source", "scope"), if_not_exists=True)


def _sqlite_7(db: sqlite_utils.Database) -> None:
    _add_columns(db, "hosts", {"next_request_at": float, "lease_holder": str, "lease_until": float, "waiter": str})
    _add_columns(db, "frontier", {"claimed_by": str, "claimed_until": float})
    db.execute("CREATE INDEX IF NOT EXISTS idx_frontier_claimed_by ON frontier (claimed_by)"
               " WHERE claimed_by IS NOT NULL")  # the few links being fetched, not the whole frontier


def _sqlite_10(db: sqlite_utils.Database) -> None:
    _add_columns(db, "revisions", {"title_after": str, "diff": str, "headline_changed": int, "paragraphs_added": int,
                                   "paragraphs_removed": int, "paragraphs_changed": int, "modified_at": str,
                                   "said_updated": int})
    _add_columns(db, "articles", {"removed_at": str, "removed_status": int})
    db.table("revisits").create({"url_key": str, "article_id": int, "source": str, "base_at": float, "step": int,
                                 "due_at": float, "checked_at": str, "etag": str, "last_modified": str}, pk="url_key",
                                if_not_exists=True)
    db.table("revisits").create_index(["source", "due_at"], if_not_exists=True)


_POSTGRES_10: Final[tuple[LiteralString, ...]] = (
    "ALTER TABLE revisions ADD COLUMN IF NOT EXISTS title_after text, ADD COLUMN IF NOT EXISTS diff text,"
    " ADD COLUMN IF NOT EXISTS headline_changed integer, ADD COLUMN IF NOT EXISTS paragraphs_added integer,"
    " ADD COLUMN IF NOT EXISTS paragraphs_removed integer, ADD COLUMN IF NOT EXISTS paragraphs_changed integer,"
    " ADD COLUMN IF NOT EXISTS modified_at timestamptz, ADD COLUMN IF NOT EXISTS said_updated integer",
    "ALTER TABLE articles ADD COLUMN IF NOT EXISTS removed_at timestamptz,"
    " ADD COLUMN IF NOT EXISTS removed_status integer",
    """CREATE TABLE IF NOT EXISTS revisits (
        url_key text PRIMARY KEY, article_id bigint, source text, base_at double precision, step integer,
        due_at double precision,
        checked_at timestamptz, etag text, last_modified text)""",
    "CREATE INDEX IF NOT EXISTS revisits_source_due_at ON revisits (source, due_at)",
)


STEPS: Final[tuple[Step, ...]] = (
    Step(1, "articles (FTS5 made after the steps), fetches, frontier, hosts, resources, runs", _sqlite_1,
         CREATED_AT_BASELINE),
    Step(2, "url_aliases, revisions, the band index; aliases of the stored fetched URLs", _sqlite_2,
         CREATED_AT_BASELINE),
    Step(3, "bands of 16 x 2 rows: the band index rebuilt from the stored originals", _sqlite_3,
         CREATED_AT_BASELINE),
    Step(4, "the band index's newer levels (neardup.LEVELS) and its oldest level's filter (neardup.FILTER)",
         _sqlite_4, CREATED_AT_BASELINE),
    Step(5, "articles.date_source: where published_at was read",
         lambda db: _add_columns(db, "articles", {"date_source": str}), CREATED_AT_BASELINE),
    Step(6, "learned boilerplate (learn.py); articles.learned_rev and where the raw page is; reclean_cursors",
         _sqlite_6, CREATED_AT_BASELINE),
    Step(7, "state the processes on one database share: hosts' request slot, frontier claims", _sqlite_7,
         CREATED_AT_BASELINE),
    Step(8, "URL keys spelled by w3lib on IDNA hosts: every stored key re-keyed (rekey.py)", rekey.rekey,
         CREATED_AT_BASELINE),
    Step(9, "articles.truncated: the page was over the size cap, cleaned up to an element boundary before it",
         lambda db: _add_columns(db, "articles", {"truncated": int}),
         pgschema.TABLES),  # PostgreSQL's baseline: every table at once (pgschema.py)
    Step(10, "edits over time: revisions' diff (headline, paragraphs added, removed, changed; the modified time the "
         "page claims), articles removed after publication, the revisit schedule", _sqlite_10, _POSTGRES_10),
)


def check_steps(steps: Sequence[Step], version: int = SCHEMA_VERSION) -> list[str]:
    """What is wrong with a version list (nothing: []): versions 1..`version` in order, each with a SQLite part
    and a PostgreSQL part, CREATED_AT_BASELINE only before POSTGRES_BASELINE."""
    problems = []
    if [step.version for step in steps] != list(range(1, version + 1)):
        problems.append(f"versions {[step.version for step in steps]} are not 1..{version} in order")
    for step in steps:
        if not step.sqlite:
            problems.append(f"version {step.version} has no SQLite part")
        if isinstance(step.postgres, Baseline):
            if step.version >= POSTGRES_BASELINE:
                problems.append(f"version {step.version} has no PostgreSQL part (its baseline is "
                                f"{POSTGRES_BASELINE}: later versions need one)")
        elif not step.postgres:
            problems.append(f"version {step.version} has no PostgreSQL part")
    return problems


def _run(part: Sequence[str] | Callable[[Any], None], conn: Any) -> None:
    if callable(part):
        part(conn)
    else:
        for statement in part:
            conn.execute(statement)


# --- the appliers ---------------------------------------------------------------------------------

def sqlite_version(db: sqlite_utils.Database) -> int:
    """The SQLite database's schema version (PRAGMA user_version; 0: new)."""
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def apply_sqlite(db: sqlite_utils.Database) -> None:
    """Bring the SQLite database to SCHEMA_VERSION: the pending steps' SQLite parts and the version in one write
    transaction (applied once however many processes open it together), then FTS5 if it is missing."""
    version = sqlite_version(db)
    refuse_newer(version)
    if version < SCHEMA_VERSION:
        with transaction(db):
            version = sqlite_version(db)  # another process may have migrated while we waited for the lock
            refuse_newer(version)
            for step in STEPS[version:SCHEMA_VERSION]:
                _run(step.sqlite, db)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    # enable_fts commits statement by statement, so it cannot be a step: a kill during the first start-up can
    # leave the index without its triggers, and every open looks (one query) and completes it.
    triggers = {t.name for t in db.table("articles").triggers}
    if not db["articles_fts"].exists() or not {"articles_ai", "articles_ad", "articles_au"} <= triggers:
        db.table("articles").enable_fts(["title", "text"], fts_version="FTS5", create_triggers=True,
                                        tokenize="unicode61 remove_diacritics 2", replace=True)


def apply_postgres(conn: psycopg.Connection[Any]) -> None:
    """Bring the PostgreSQL database (an autocommit connection) to SCHEMA_VERSION: the pending steps'
    PostgreSQL parts in one transaction under an advisory lock, the version recorded in `ingest_schema`."""
    version = pgschema.schema_version(conn)
    refuse_newer(version)
    if version == SCHEMA_VERSION:
        return
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", [pgschema.SCHEMA_LOCK])
        version = pgschema.schema_version(conn)  # another process may have made it while we waited
        refuse_newer(version)
        if version == SCHEMA_VERSION:
            return
        if 0 < version < POSTGRES_BASELINE:
            raise SchemaRefused(f"claims schema {version}, older than any PostgreSQL archive of ingest (the first is "
                              f"{POSTGRES_BASELINE}): not an archive ingest made; nothing was changed in it")
        for step in STEPS[version:SCHEMA_VERSION]:
            if not isinstance(step.postgres, Baseline):
                _run(step.postgres, conn)
        conn.execute("DELETE FROM ingest_schema")
        conn.execute("INSERT INTO ingest_schema (version) VALUES (%s)", [SCHEMA_VERSION])
