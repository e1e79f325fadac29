"""Schema 8: every stored URL key computed again with today's dedup.url_key, merging what now shares a key.

db inside the migration's transaction -> the same rows under the new keys, nothing dropped that anything needs:

- articles: re-keyed from their URL. Two rows whose URLs now have one key are one page stored twice (under
  `%d0%bd` and `н`, say): the older keeps the key; the newer stays, with every id that points at it (revisions,
  topics, fetches, aliases), as a copy of the older (`duplicate_of`, like any copy) under a key no URL has.
  Copies of it are pointed at its new original, which is what copies point at.
- url_aliases: re-keyed from the stored key (a key read as a URL gives its own key back), plus the key of each
  article's fetched URL; two aliases now one keep the older article's.
- frontier: re-keyed from its URL; of links that are now one, the one furthest on (done, rejected, failed,
  skipped, pending) stays.
- boilerplate_pages: re-keyed from the stored key; two records of one page become one with both sets of keys.
- hosts: an IDN host stored in Unicode is renamed to the IDNA form fetch.host_key now uses.

Running it again changes nothing (a crash before user_version is written redoes it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any, Final

import sqlite_utils

from ingest.archive import neardup
from ingest.urls import ascii_host, url_key

log = logging.getLogger("ingest")

_BATCH: Final = 5000  # rows re-keyed per fetch: memory stays flat on an archive of millions
# boilerplate_pages.keys as schema 8 found it: 8-byte hashes of a page's block keys (archive/learn.py writes them).
# The migration keeps its own copy of the format it migrates: the archive never imports the cleaning stage, and a
# later change of learn's format would need a migration of its own.
PAGE_KEY_HASH_SIZE: Final = 8
# The links of a frontier group that is now one link, best first: the one whose fate is known.
_FRONTIER_ORDER = ("CASE t.state WHEN 'done' THEN 0 WHEN 'rejected' THEN 1 WHEN 'failed' THEN 2"
                   " WHEN 'skipped' THEN 3 ELSE 4 END, t.attempts DESC, t.updated_at DESC, t.rowid")


def rekey(db: sqlite_utils.Database) -> None:
    """Re-key articles, aliases, frontier, learned pages and hosts; call inside the migration's transaction."""
    count = db.execute("SELECT count(*) FROM articles").fetchone()[0]
    if count:
        log.info("re-keying the URLs of %d articles (schema 8)", count)
    _rekey_articles(db)
    _rekey_aliases(db)
    _rekey_table(db, "frontier", "url, url_key", lambda row: _url_key_or(row[0], row[1]), _FRONTIER_ORDER,
                 lambda loser, keeper, key: db.execute("DELETE FROM frontier WHERE rowid = ?", [loser]))
    _rekey_table(db, "boilerplate_pages", "url_key", lambda row: _key_again(row[0]), "t.serial, t.rowid",
                 lambda loser, keeper, key: _merge_pages(db, loser, keeper), group="source")
    _rename_hosts(db)


def merged_key(key: str, article_id: int) -> str:
    """The url_key of an article merged into the one holding `key`: unique, and no URL's key ('#' never is in
    one: fragments are dropped and a '#' in a path or query is escaped)."""
    return f"{key}#duplicate-{article_id}"


def _key_again(key: str) -> str:
    """A stored key (host, path, query) as today's url_key; one that no longer parses stays as it is."""
    try:
        return url_key("http://" + key)
    except ValueError:
        return key


def _url_key_or(url: str, key: str) -> str:
    """url_key(url), or the stored `key` of a URL today's url_key refuses."""
    try:
        return url_key(url)
    except ValueError:
        return key


def _rekey_articles(db: sqlite_utils.Database) -> None:
    # The FTS index reads title and text only: the update trigger would re-index every re-keyed article for nothing.
    trigger = db.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'articles_au'").fetchone()
    if trigger:
        db.execute("DROP TRIGGER articles_au")

    def merge(loser: int, keeper: int, key: str) -> str:
        original, copy_of = db.execute(
            "SELECT coalesce(k.duplicate_of, k.id), l.duplicate_of FROM articles k, articles l"
            " WHERE k.id = ? AND l.id = ?", [keeper, loser]).fetchone()
        if copy_of is None and original != loser:  # an original until now: a copy from now on, out of the index
            text = db.execute("SELECT text FROM articles WHERE id = ?", [loser]).fetchone()[0]
            neardup.unindex(db, loser, neardup.fingerprint(text).bands)
            db.execute("UPDATE articles SET duplicate_of = ? WHERE id = ? OR duplicate_of = ?",
                       [original, loser, loser])
        return merged_key(key, loser)

    _rekey_table(db, "articles", "url, url_key", lambda row: _url_key_or(row[0], row[1]), "t.id", merge)
    if trigger:
        db.execute(trigger[0])


def _rekey_aliases(db: sqlite_utils.Database) -> None:
    def fetched() -> Iterator[tuple[str, int]]:
        for article_id, url, key in _stream(db, "SELECT id, fetched_url, url_key FROM articles"
                                                " WHERE fetched_url IS NOT NULL"):
            own = key.partition("#")[0]  # a merged article's key is its URL's key, then '#'
            if (alias := _url_key_or(url, own)) != own:
                yield alias, article_id

    db.conn.executemany("INSERT OR IGNORE INTO url_aliases (url_key, article_id) VALUES (?, ?)", fetched())
    _rekey_table(db, "url_aliases", "url_key", lambda row: _key_again(row[0]), "t.article_id, t.rowid",
                 lambda loser, keeper, key: db.execute("DELETE FROM url_aliases WHERE rowid = ?", [loser]))


def _merge_pages(db: sqlite_utils.Database, loser: int, keeper: int) -> None:
    """Two records of one page's learned keys: the earlier stays, holding the keys of both."""
    blobs = dict(db.execute("SELECT rowid, keys FROM boilerplate_pages WHERE rowid IN (?, ?)", [loser, keeper]))
    db.execute("UPDATE boilerplate_pages SET keys = ? WHERE rowid = ?",
               [merge_page_keys(blobs.get(keeper), blobs.get(loser)), keeper])
    db.execute("DELETE FROM boilerplate_pages WHERE rowid = ?", [loser])


def merge_page_keys(first: bytes | None, second: bytes | None) -> bytes:
    """The record of a page counted under two URL keys that are now one: the key hashes of both, sorted."""
    return b"".join(sorted(_key_hashes(first) | _key_hashes(second)))


def _key_hashes(blob: bytes | None) -> set[bytes]:
    blob = blob or b""
    return {blob[i:i + PAGE_KEY_HASH_SIZE] for i in range(0, len(blob), PAGE_KEY_HASH_SIZE)}


def _rekey_table(db: sqlite_utils.Database, table: str, columns: str, new_key: Callable[[tuple[Any, ...]], str],
                 order: str, merge: Callable[[int, int, str], object], *, group: str | None = None) -> None:
    """Set `table`.url_key to new_key(row of `columns`) for every row. Rows that now share a key (within `group`)
    keep the first by `order` (SQL over `t`, the table); merge(loser, keeper, key) handles each other one (by
    rowid), and returns the loser's key when it keeps its row. Keys move in two steps, so that no key is ever held by
    two rows on the way (one's new key may be another's old one)."""
    db.execute("CREATE TEMP TABLE rekeyed (rid INTEGER PRIMARY KEY, grp, new_key TEXT NOT NULL)")
    try:
        grp = group or "''"
        rows = ((row[0], row[1], new_key(row[2:])) for row in
                _stream(db, f"SELECT rowid, {grp}, {columns} FROM {table}"))
        db.conn.executemany("INSERT INTO temp.rekeyed (rid, grp, new_key) VALUES (?, ?, ?)", rows)
        groups = db.execute(
            "WITH shared AS (SELECT grp, new_key FROM temp.rekeyed GROUP BY grp, new_key HAVING count(*) > 1)"
            " SELECT rid, keeper, new_key FROM (SELECT r.rid, r.new_key, first_value(r.rid) OVER"
            f" (PARTITION BY r.grp, r.new_key ORDER BY {order}) AS keeper FROM temp.rekeyed r"
            f" JOIN shared USING (grp, new_key) JOIN {table} t ON t.rowid = r.rid) WHERE rid != keeper ORDER BY rid"
        ).fetchall()
        for loser, keeper, key in groups:
            kept_as = merge(loser, keeper, key)
            if isinstance(kept_as, str):
                db.execute("UPDATE temp.rekeyed SET new_key = ? WHERE rid = ?", [kept_as, loser])
            else:
                db.execute("DELETE FROM temp.rekeyed WHERE rid = ?", [loser])
        changed = f"rowid IN (SELECT r.rid FROM temp.rekeyed r JOIN {table} t ON t.rowid = r.rid" \
                  " WHERE t.url_key != r.new_key)"
        # '#' starts no key, old or new: a URL's fragment was always dropped. ('.' sorts right after '-'.)
        db.execute(f"UPDATE {table} SET url_key = '#rekey-' || rowid WHERE {changed}")
        db.execute(f"UPDATE {table} SET url_key = (SELECT new_key FROM temp.rekeyed WHERE rid = {table}.rowid)"
                   " WHERE url_key >= '#rekey-' AND url_key < '#rekey.'")
    finally:
        db.execute("DROP TABLE temp.rekeyed")


def _rename_hosts(db: sqlite_utils.Database) -> None:
    for (host,) in db.execute("SELECT host FROM hosts").fetchall():
        name, colon, port = host.rpartition(":") if not host.startswith("[") and ":" in host else (host, "", "")
        renamed = ascii_host(name) + colon + port
        if renamed == host:
            continue
        # Another row of the same host: the one fetch.host_key finds from now on stays (robots.txt is read again).
        if db.execute("SELECT 1 FROM hosts WHERE host = ?", [renamed]).fetchone():
            db.execute("DELETE FROM hosts WHERE host = ?", [host])
        else:
            db.execute("UPDATE hosts SET host = ? WHERE host = ?", [renamed, host])


def _stream(db: sqlite_utils.Database, sql: str) -> Iterator[tuple[Any, ...]]:
    """Rows of `sql` a batch at a time: an archive's keys need not fit in memory."""
    cursor = db.conn.execute(sql)
    while batch := cursor.fetchmany(_BATCH):
        yield from batch
