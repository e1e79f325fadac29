"""Learned boilerplate's tables in SQLite: the counts behind archive/learn.py's rules.

Contract: `observe(db, source, url_key, keys)` counts the block keys of one cleaned page inside the caller's
transaction (a page counts once however often it is cleaned again) and returns True when a key has just become
boilerplate (learn.is_boilerplate), which raises the source's revision; `learned_keys` and `revision` are what the
parse workers clean with; `listing` is what `ingest boilerplate` shows. Keys seen on few pages that have not come
back for learn.PRUNE_AFTER pages are pruned. The thresholds are read from archive/learn.py at each call.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import sqlite_utils

from ingest.archive import learn
from ingest.archive.db import utcnow
from ingest.models import BlockKey
from ingest.storage import Listing

CHUNK: Final = 500  # keys per IN (...) list: under SQLite's 999 bound variables on old builds


def create_tables(db: sqlite_utils.Database) -> None:
    """The learning tables (idempotent)."""
    db.table("boilerplate").create({
        "source": str, "key": str, "kind": str, "sample": str, "pages": int, "variants": int, "first_serial": int,
        "last_serial": int, "first_seen": str, "last_seen": str, "learned_at": str,
    }, pk=("source", "key"), if_not_exists=True)
    db.table("boilerplate_variants").create({"source": str, "key": str, "variant": str},
                                            pk=("source", "key", "variant"), if_not_exists=True)
    db.table("boilerplate").create_index(["source", "learned_at"], if_not_exists=True)
    # No index on pages or last_serial: every page moves a hundred rows' counts, and only the prune, once in
    # learn.PRUNE_EVERY pages, asks by them (one pass over the source's rows).
    db.table("boilerplate_pages").create({"source": str, "url_key": str, "serial": int, "keys": bytes},
                                         pk=("source", "url_key"), if_not_exists=True)
    db.table("boilerplate_sources").create({"source": str, "pages": int, "revision": int, "updated_at": str},
                                           pk="source", if_not_exists=True)


def observe(db: sqlite_utils.Database, source: str, url_key: str, keys: Iterable[BlockKey]) -> bool:
    """Count one page's block keys for `source`; True when a key just became boilerplate.

    A page's keys go in with a few statements for all of them (executemany), not a few each: a page has a
    hundred blocks, and the writer that stores them also stores every article."""
    now = utcnow()
    row = db.execute("SELECT serial, keys FROM boilerplate_pages WHERE source = ? AND url_key = ?",
                     [source, url_key]).fetchone()
    blocks = {b.key: b for b in keys}
    hashes = {learn.page_hash(key): key for key in blocks}
    if row is None:
        db.execute("INSERT INTO boilerplate_sources (source, pages, revision, updated_at) VALUES (?, 1, 0, ?)"
                   " ON CONFLICT(source) DO UPDATE SET pages = pages + 1, updated_at = excluded.updated_at",
                   [source, now])
        serial = newest = int(db.execute("SELECT pages FROM boilerplate_sources WHERE source = ?",
                                         [source]).fetchone()[0])
        db.execute("INSERT INTO boilerplate_pages (source, url_key, serial, keys) VALUES (?, ?, ?, ?)",
                   [source, url_key, serial, b"".join(sorted(hashes))])
    else:  # a page counted before (cleaned again): only keys it did not show then are new
        serial, counted = int(row[0]), learn.page_hashes(row[1])
        newest = int(db.execute("SELECT pages FROM boilerplate_sources WHERE source = ?", [source]).fetchone()[0])
        blocks = {key: blocks[key] for digest, key in hashes.items() if digest not in counted}
        if blocks:
            db.execute("UPDATE boilerplate_pages SET keys = ? WHERE source = ? AND url_key = ?",
                       [b"".join(sorted(counted | hashes.keys())), source, url_key])
    if not blocks:
        return False
    db.conn.executemany(
        "INSERT INTO boilerplate (source, key, kind, sample, pages, variants, first_serial, last_serial, first_seen,"
        " last_seen) VALUES (?, ?, ?, ?, 1, 0, ?, ?, ?, ?) ON CONFLICT(source, key) DO UPDATE SET"
        " pages = pages + 1, last_serial = max(last_serial, excluded.last_serial),"
        " first_serial = min(first_serial, excluded.first_serial), last_seen = excluded.last_seen",
        [(source, b.key, b.kind, b.sample, serial, serial, now, now) for b in blocks.values()])
    boxes = [(source, b.key, b.variant) for b in blocks.values() if b.variant]
    if boxes:
        db.conn.executemany("INSERT OR IGNORE INTO boilerplate_variants (source, key, variant) VALUES (?, ?, ?)", boxes)
        db.conn.executemany("UPDATE boilerplate SET variants = (SELECT count(*) FROM boilerplate_variants v"
                            " WHERE v.source = boilerplate.source AND v.key = boilerplate.key)"
                            " WHERE source = ? AND key = ?", [(s, k) for s, k, _ in boxes])
    # Only keys seen often enough can have just become boilerplate: most of a page's blocks are its own.
    candidates = [k for k in blocks if k]
    learned_now = []
    for start in range(0, len(candidates), CHUNK):
        chunk = candidates[start:start + CHUNK]
        # By primary key only (the unary + keeps SQLite off the learned_at index, a walk over every key).
        rows = db.execute(f"SELECT key, pages, variants, first_serial FROM boilerplate WHERE source = ?"
                          f" AND key IN ({', '.join('?' * len(chunk))}) AND +learned_at IS NULL AND +pages >= ?",
                          [source, *chunk, learn.MIN_PAGES]).fetchall()
        learned_now += [key for key, pages, variants, first in rows
                        if learn.is_boilerplate(pages, first, newest, variants)]
    if learned_now:
        db.conn.executemany("UPDATE boilerplate SET learned_at = ? WHERE source = ? AND key = ?",
                            [(now, source, key) for key in learned_now])
        db.execute("UPDATE boilerplate_sources SET revision = revision + 1 WHERE source = ?", [source])
    if row is None and serial % learn.PRUNE_EVERY == 0:
        prune(db, source, serial)
    return bool(learned_now)


def prune(db: sqlite_utils.Database, source: str, serial: int) -> int:
    """Drop the keys seen on fewer than MIN_PAGES pages and not since PRUNE_AFTER pages; returns how many."""
    stale = [r[0] for r in db.execute(
        "SELECT key FROM boilerplate WHERE source = ? AND pages < ? AND last_serial < ? AND learned_at IS NULL",
        [source, learn.MIN_PAGES, serial - learn.PRUNE_AFTER]).fetchall()]
    for start in range(0, len(stale), CHUNK):
        chunk = stale[start:start + CHUNK]
        marks = ", ".join("?" * len(chunk))
        db.execute(f"DELETE FROM boilerplate_variants WHERE source = ? AND key IN ({marks})", [source, *chunk])
        db.execute(f"DELETE FROM boilerplate WHERE source = ? AND key IN ({marks})", [source, *chunk])
    return len(stale)


def learned_keys(db: sqlite_utils.Database, source: str) -> frozenset[str]:
    """The source's keys that became boilerplate."""
    return frozenset(r[0] for r in db.execute(
        "SELECT key FROM boilerplate WHERE source = ? AND learned_at IS NOT NULL", [source]).fetchall())


def revision(db: sqlite_utils.Database, source: str) -> int:
    """The source's learned-set revision: it goes up each time a key becomes boilerplate."""
    row = db.execute("SELECT revision FROM boilerplate_sources WHERE source = ?", [source]).fetchone()
    return int(row[0]) if row else 0


def listing(db: sqlite_utils.Database, source: str, *, candidates: bool = False) -> Listing:
    """The source's learned blocks (with `candidates`, also those seen on two pages or more), most seen first."""
    where = "learned_at IS NOT NULL" if not candidates else "(learned_at IS NOT NULL OR pages >= 2)"
    blocks = [dict(zip(("kind", "block", "pages", "first_seen", "last_seen", "learned_at"), r, strict=True))
              for r in db.execute(f"SELECT kind, sample, pages, first_seen, last_seen, learned_at FROM boilerplate"
                                  f" WHERE source = ? AND {where} ORDER BY pages DESC, first_seen", [source])]
    row = db.execute("SELECT pages, revision FROM boilerplate_sources WHERE source = ?", [source]).fetchone()
    return Listing(source, int(row[0]) if row else 0, int(row[1]) if row else 0, blocks)
