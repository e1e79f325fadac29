"""Learned boilerplate in the store: per source, the text blocks its pages repeat, counted by distinct page.

Contract: `observe(db, source, url_key, keys)` counts the block keys of one cleaned page (ingest/adapters/
blocks.py) inside the caller's transaction; a page counts once however often it is cleaned again. It returns
True when a key has just become boilerplate, which raises the source's revision. `learned(db, source)` is
the snapshot the parse workers clean with; `listing(db, source)` is what `ingest boilerplate` shows.

A key is boilerplate once it was seen on at least MIN_PAGES distinct pages of the source and on at least
MIN_SHARE of the source's pages since it first appeared, counted over no fewer than MIN_SPAN pages (see
README, "Learned boilerplate", for how these were measured). Learned keys stay learned. Keys seen on few
pages that have not come back for PRUNE_AFTER pages (story paragraphs, which are not repeated) are pruned, so
the tables grow with what repeats, not with the archive. All state is in tables, so it survives restarts and
every process writing the database learns from every other.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlite_utils

from ingest.models import BlockKey, Learned

# Measured with bench/thresholds.py (README, "Learned boilerplate"): MIN_SHARE x MIN_SPAN = 20 repeats is the
# least that tells a site's block from a burst of follow-ups reusing a paragraph (16 in a row were learned at
# 0.6 x 20 and 0.75 x 20, none at 0.6 x 30 and above); every junk block of the generated outlets is learned.
MIN_PAGES = 5
MIN_SHARE = 0.5
MIN_SPAN = 40
MAX_VARIANTS = 4  # different texts a box may show over its pages and still be the site's (an appeal's wordings)
PRUNE_AFTER = 1000  # pages of the source after which a key seen fewer than MIN_PAGES times is dropped
PRUNE_EVERY = 250  # pages of the source between two prunes
_HASH_SIZE = 8


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
    # PRUNE_EVERY pages, asks by them (one pass over the source's rows).
    db.table("boilerplate_pages").create({"source": str, "url_key": str, "serial": int, "keys": bytes},
                                         pk=("source", "url_key"), if_not_exists=True)
    db.table("boilerplate_sources").create({"source": str, "pages": int, "revision": int, "updated_at": str},
                                           pk="source", if_not_exists=True)


def is_boilerplate(pages: int, first_serial: int, serial: int, variants: int = 0) -> bool:
    """Seen on MIN_PAGES pages, and on MIN_SHARE of the source's pages since it first appeared (at least
    MIN_SPAN of them: five follow-ups in a row that reuse a background paragraph are not the site's chrome);
    a box, also saying at most MAX_VARIANTS different things (`variants` is 0 for other kinds)."""
    span = max(MIN_SPAN, serial - first_serial + 1)
    return pages >= MIN_PAGES and pages >= MIN_SHARE * span and variants <= MAX_VARIANTS


def observe(db: sqlite_utils.Database, source: str, url_key: str, keys: Iterable[BlockKey]) -> bool:
    """Count one page's block keys for `source`; True when a key just became boilerplate.

    A page's keys go in with a few statements for all of them (executemany), not a few each: a page has a
    hundred blocks, and the writer that stores them also stores every article."""
    now = _now()
    row = db.execute("SELECT serial, keys FROM boilerplate_pages WHERE source = ? AND url_key = ?",
                     [source, url_key]).fetchone()
    blocks = {b.key: b for b in keys}
    hashes = {_hash(key): key for key in blocks}
    if row is None:
        db.execute("INSERT INTO boilerplate_sources (source, pages, revision, updated_at) VALUES (?, 1, 0, ?)"
                   " ON CONFLICT(source) DO UPDATE SET pages = pages + 1, updated_at = excluded.updated_at",
                   [source, now])
        serial = newest = int(db.execute("SELECT pages FROM boilerplate_sources WHERE source = ?",
                                         [source]).fetchone()[0])
        db.execute("INSERT INTO boilerplate_pages (source, url_key, serial, keys) VALUES (?, ?, ?, ?)",
                   [source, url_key, serial, b"".join(sorted(hashes))])
    else:  # a page counted before (cleaned again): only keys it did not show then are new
        serial, counted = int(row[0]), _hashes(row[1])
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
    for start in range(0, len(candidates), 500):
        chunk = candidates[start:start + 500]
        # By primary key only (the unary + keeps SQLite off the learned_at index, a walk over every key).
        rows = db.execute(f"SELECT key, pages, variants, first_serial FROM boilerplate WHERE source = ?"
                          f" AND key IN ({', '.join('?' * len(chunk))}) AND +learned_at IS NULL AND +pages >= ?",
                          [source, *chunk, MIN_PAGES]).fetchall()
        learned_now += [key for key, pages, variants, first in rows if is_boilerplate(pages, first, newest, variants)]
    if learned_now:
        db.conn.executemany("UPDATE boilerplate SET learned_at = ? WHERE source = ? AND key = ?",
                            [(now, source, key) for key in learned_now])
        db.execute("UPDATE boilerplate_sources SET revision = revision + 1 WHERE source = ?", [source])
    if row is None and serial % PRUNE_EVERY == 0:
        prune(db, source, serial)
    return bool(learned_now)


def prune(db: sqlite_utils.Database, source: str, serial: int) -> int:
    """Drop the keys seen on fewer than MIN_PAGES pages and not since PRUNE_AFTER pages; returns how many."""
    stale = [r[0] for r in db.execute(
        "SELECT key FROM boilerplate WHERE source = ? AND pages < ? AND last_serial < ? AND learned_at IS NULL",
        [source, MIN_PAGES, serial - PRUNE_AFTER]).fetchall()]
    for start in range(0, len(stale), 500):
        chunk = stale[start:start + 500]
        marks = ", ".join("?" * len(chunk))
        db.execute(f"DELETE FROM boilerplate_variants WHERE source = ? AND key IN ({marks})", [source, *chunk])
        db.execute(f"DELETE FROM boilerplate WHERE source = ? AND key IN ({marks})", [source, *chunk])
    return len(stale)


def learned(db: sqlite_utils.Database, source: str, *, keep: Iterable[str] = (),
            junk: Iterable[str] = ()) -> Learned:
    """What cleaning `source`'s pages removes besides the adapter's rules: its learned keys and its pins."""
    keys = frozenset(r[0] for r in db.execute(
        "SELECT key FROM boilerplate WHERE source = ? AND learned_at IS NOT NULL", [source]).fetchall())
    return Learned(keys, tuple(k.casefold() for k in keep), tuple(j.casefold() for j in junk), revision(db, source))


def revision(db: sqlite_utils.Database, source: str) -> int:
    """The source's learned-set revision: it goes up each time a key becomes boilerplate."""
    row = db.execute("SELECT revision FROM boilerplate_sources WHERE source = ?", [source]).fetchone()
    return int(row[0]) if row else 0


@dataclass(frozen=True)
class Listing:
    """What was learned for one source, for `ingest boilerplate`."""

    source: str
    pages: int  # distinct pages of the source counted
    revision: int
    blocks: list[dict[str, Any]]  # kind, block (sample text), pages, first_seen, last_seen, learned_at


def listing(db: sqlite_utils.Database, source: str, *, candidates: bool = False) -> Listing:
    """The source's learned blocks (with `candidates`, also those seen on two pages or more), most seen first."""
    where = "learned_at IS NOT NULL" if not candidates else "(learned_at IS NOT NULL OR pages >= 2)"
    blocks = [dict(zip(("kind", "block", "pages", "first_seen", "last_seen", "learned_at"), r, strict=True))
              for r in db.execute(f"SELECT kind, sample, pages, first_seen, last_seen, learned_at FROM boilerplate"
                                  f" WHERE source = ? AND {where} ORDER BY pages DESC, first_seen", [source])]
    row = db.execute("SELECT pages, revision FROM boilerplate_sources WHERE source = ?", [source]).fetchone()
    return Listing(source, int(row[0]) if row else 0, int(row[1]) if row else 0, blocks)


def _hash(key: str) -> bytes:
    """8 bytes standing for a block key in a page's record of the keys it counted (a page holds ~100)."""
    return hashlib.blake2b(key.encode(), digest_size=_HASH_SIZE).digest()


def merge_page_keys(first: bytes | None, second: bytes | None) -> bytes:
    """The record of a page counted under two URL keys that are now one (store's schema 8): the keys of both."""
    return b"".join(sorted(_hashes(first) | _hashes(second)))


def _hashes(blob: bytes | None) -> set[bytes]:
    blob = blob or b""
    return {blob[i:i + _HASH_SIZE] for i in range(0, len(blob), _HASH_SIZE)}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
