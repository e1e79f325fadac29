"""Near duplicates across outlets, runs and processes: MinHash LSH kept in SQLite.

text -> Fingerprint: the text's shingles (word 5-grams of the case-folded text, each hashed to 64 bits; a Han
or kana character counts as a word, as Japanese has no spaces) and BANDS band hashes of its MinHash signature
(NUM_PERM permutations, ROWS per band). Every original article (duplicate_of IS NULL) has its band hashes in
the band index, rows (band, hash, article_id) in SQLite, so any process finds them in any later run.

find_original(db, fingerprint) -> the earliest stored original whose text overlaps this one by at least
THRESHOLD, or None. Overlap is the overlap coefficient of the shingle sets, |A & B| / min(|A|, |B|): the share
of the shorter text found in the longer one, so a copy under an aggregator's header, footer and related-links
list, or a copy with its end cut off, still scores near 1 where Jaccard falls with every word added.
Candidates are the originals sharing at least one band (one indexed lookup per band, at most PER_BAND rows
each, at most CANDIDATES confirmed by reading their text), so the cost of one article does not grow with the
archive. LSH finds a pair with Jaccard similarity s with probability 1 - (1 - s**ROWS)**BANDS: 0.78 at 0.3,
0.94 at 0.4, 0.99 at 0.5; so a copy keeping only the first third of a story is found five times in six.
16 bands of 2 rows, not 32 of 3: the band rows are the index's writes, and halving them took a 100-article
transaction at 100k stored articles from 2.2 to 1.1 ms per article (bench/dedup_scale.py) with the same
precision and recall on the labelled pairs. The price is more candidates at low similarity (a follow-up at
Jaccard 0.2 shares a band half of the time), each one text read and compared, at most CANDIDATES per article.

The band rows live in three levels, newest first (LEVELS), so that the cost of storing an article does not grow
with the archive. One B-tree of random hashes outgrows the page cache: past ~100k articles every band row
dirties a page of its own, written to the WAL at commit and again at the checkpoint. Instead a new original's
rows go to `article_bands_new`, which stays a few hundred pages; every FLUSH_EVERY article ids it is merged,
in key order, into `article_bands_recent`, and every MOVE_EVERY flushes one band of that (in turn) moves into
`article_bands`. A merge writes each page it touches once, for many rows. A lookup reads a bucket from all
three (one statement). A merge runs in the transaction of the article whose id is due, so it lands whole or
not at all, whichever process stores that id; it is idempotent, so running one twice changes nothing.

What still grows is the lookups in the oldest level: once it outgrows the page cache, each probe reads a page
from the OS (1.7 us a probe at 10k articles, 7.6 us at 1M). Most probes find nothing there (a new story), so
the oldest level has a filter, `article_bands_filter`: per band FILTER_BLOCKS blocks of 4096 bits (1 MiB), where
a row sets two bits of one block; one statement reads a text's 16 blocks, and a band whose two bits are not both
set skips the oldest level. The 16 MiB stay in the page cache. At 1M articles (900k rows a band) a hash that
the oldest level does not hold passes with probability ~4%. Rows enter the oldest level only by merge() and
reindex(), which set their bits in the same transaction; bits are never cleared (a stale bit costs a lookup).

THRESHOLD was chosen on the labelled pairs of bench/dedup_pairs.py (see docs/dedup.md): copies with boilerplate
added or removed, a paragraph or sentence changed, or the end cut off overlap by 0.86 or more; other outlets'
reports of the same event, follow-ups that reuse a story's background paragraphs, template reports with other
numbers and different stories under the same boilerplate overlap by 0.60 or less. Rewrites of one story in
another outlet's words (0.23-0.51) cannot be told from follow-ups by shingles and are not caught.

The MinHash is datasketch's scheme (a*x + b mod 2**61 - 1 over 32-bit shingle hashes, parameters from numpy's
RandomState(SEED)) in a few vectorised numpy lines: datasketch itself imports scipy (0.6 s at every start) and
hashes shingle by shingle in Python (3x slower per article). Changing SHINGLE, NUM_PERM, ROWS or SEED, or the
hashing, changes every band hash: add a version to migrations.py whose steps run reindex(db) in SQLite and
rebuild `article_bands` in PostgreSQL (a test pins the values).
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import numpy.typing as npt
import sqlite_utils

from ingest.models import Fingerprint as Fingerprint  # re-exported: made here

SHINGLE = 5  # words per shingle
NUM_PERM = 32  # MinHash permutations
ROWS = 2  # signature rows per band
BANDS = NUM_PERM // ROWS
SEED = 1
THRESHOLD = 0.75  # overlap from which a text is a copy of another
MIN_SHINGLES = 20  # shorter texts carry too little evidence: only exact duplicates are caught
PER_BAND = 32  # rows read per band bucket, earliest first: a template text's crowded bucket stays cheap
CANDIDATES = 16  # candidate texts read and compared, most shared bands first
LEVELS = ("article_bands_new", "article_bands_recent", "article_bands")  # band index levels, newest first
FLUSH_EVERY = 2500  # article ids between merges of article_bands_new into article_bands_recent
MOVE_EVERY = 2  # flushes between moves of one band from article_bands_recent into article_bands
FILTER = "article_bands_filter"  # which band hashes the oldest level may hold: one row per block of bits
FILTER_BLOCKS = 2048  # blocks per band: 2048 x 4096 bits, 1 MiB a band
FILTER_BLOCK_BYTES = 512

# A word, or one Han / hiragana / katakana character (CJK text has no spaces between words).
_TOKEN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[^\W_]+")
_MERSENNE = np.uint64((1 << 61) - 1)
_LOW32 = np.uint64(0xFFFFFFFF)
_MIX = np.uint64(0x100000001B3)  # FNV-1a's 64-bit prime: word hashes -> shingle hash
_BAND_MIX = np.uint64(0x9E3779B97F4A7C15)  # odd: the third row of a band folded into 64 bits
Hashes = npt.NDArray[np.uint64]
# One bucket from every level: each part comes in article_id order from its primary key, so SQLite merges them
# and stops at the LIMIT.
_BUCKET, _BUCKET_NEWER = ((" UNION ALL ".join(f"SELECT article_id FROM {table} WHERE band = ?1 AND hash = ?2"
                                               for table in levels) + " ORDER BY 1 LIMIT ?3")
                           for levels in (LEVELS, LEVELS[:-1]))


def tokens(text: str) -> list[str]:
    """Words of the NFKC case-folded text, each Han or kana character a word of its own."""
    return _TOKEN.findall(unicodedata.normalize("NFKC", text).casefold())


def shingle_hashes(text: str, size: int = SHINGLE) -> Hashes:
    """64-bit hashes of the text's `size`-word sequences (one of the whole text when it is shorter)."""
    words = tokens(text)
    ids = np.fromiter((zlib.crc32(w.encode("utf-8")) for w in words), dtype=np.uint64, count=len(words))
    width = min(size, len(ids))
    count = len(ids) - width + 1 if len(ids) else 0
    hashes = ids[:count].copy()
    for offset in range(1, width):
        hashes = (hashes * _MIX) ^ ids[offset:offset + count]
    return hashes


def shingles(text: str, size: int = SHINGLE) -> frozenset[int]:
    """The set of the text's shingle hashes."""
    return frozenset(shingle_hashes(text, size).tolist())


def overlap(a: frozenset[int], b: frozenset[int]) -> float:
    """|a & b| / min(|a|, |b|): the share of the smaller set found in the larger; 0.0 if one is empty."""
    smaller = min(len(a), len(b))
    return len(a & b) / smaller if smaller else 0.0


def jaccard(a: frozenset[int], b: frozenset[int]) -> float:
    """|a & b| / |a | b|, 0.0 for two empty sets."""
    union = len(a | b)
    return len(a & b) / union if union else 0.0


@lru_cache(maxsize=1)
def _permutations() -> tuple[Hashes, Hashes]:
    # Built once, lazily; numpy's legacy RandomState gives the same numbers in every numpy version.
    state = np.random.RandomState(SEED)
    return (state.randint(1, int(_MERSENNE), size=NUM_PERM, dtype=np.uint64),
            state.randint(0, int(_MERSENNE), size=NUM_PERM, dtype=np.uint64))


def band_hashes(hashes: Hashes) -> tuple[int, ...]:
    """The BANDS band hashes (signed 64-bit, as SQLite stores integers) of the shingle hashes' MinHash."""
    a, b = _permutations()
    values = (hashes ^ (hashes >> np.uint64(32))) & _LOW32
    signature = (((values[:, None] * a + b) % _MERSENNE) & _LOW32).min(axis=0).reshape(BANDS, ROWS)
    key = (signature[:, 0] << np.uint64(32)) | signature[:, 1]
    for row in range(2, ROWS):
        key = key ^ (signature[:, row] * _BAND_MIX)
    return tuple(key.view(np.int64).tolist())


def fingerprint(text: str) -> Fingerprint:
    """Shingles and band hashes of a text; no bands below MIN_SHINGLES distinct shingles."""
    hashes = shingle_hashes(text)
    grams = frozenset(hashes.tolist())
    return Fingerprint(grams, band_hashes(hashes) if len(grams) >= MIN_SHINGLES else ())


def bucket(db: sqlite_utils.Database, band: int, value: int, limit: int = PER_BAND, oldest: bool = True) -> list[int]:
    """The earliest `limit` indexed articles with this band hash, from every level (the newer two: `oldest=False`)."""
    return [row[0] for row in db.conn.execute(_BUCKET if oldest else _BUCKET_NEWER, [band, value, limit])]


def _filter_slots(hashes: Sequence[int] | npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], ...]:
    """Band hashes -> their filter block within the band and their two bits in it.

    Mixed first: a band hash is two MinHash minima side by side, whose high bits are mostly zero.
    """
    mixed = np.asarray(hashes, dtype=np.int64).view(np.uint64) * _BAND_MIX  # wraps: mod 2**64
    bit = FILTER_BLOCK_BYTES * 8 - 1  # the top 11 bits pick the block, the next two 12-bit slices the bits
    return tuple((part & np.uint64(mask)).astype(np.int64) for part, mask in (
        (mixed >> np.uint64(53), FILTER_BLOCKS - 1), (mixed >> np.uint64(41), bit), (mixed >> np.uint64(29), bit)))


def oldest_may_hold(db: sqlite_utils.Database, bands: Sequence[int]) -> list[bool]:
    """Per band hash (all BANDS of one text): False if the oldest level has no row of it, True if it may."""
    blocks, first, second = _filter_slots(bands)
    ids = [band * FILTER_BLOCKS + block for band, block in enumerate(blocks.tolist())]
    found: dict[int, bytes] = dict(db.conn.execute(
        f"SELECT id, bits FROM {FILTER} WHERE id IN ({', '.join('?' * len(ids))})", ids).fetchall())
    may = []
    for block_id, one, two in zip(ids, first.tolist(), second.tolist(), strict=True):
        bits = found.get(block_id)
        may.append(bits is not None and bool(bits[one >> 3] >> (one & 7) & 1 and bits[two >> 3] >> (two & 7) & 1))
    return may


def mark(db: sqlite_utils.Database, band: int, hashes: Sequence[int]) -> None:
    """Set the filter bits of one band's hashes: call for every row that goes into the oldest level."""
    if not len(hashes):
        return
    blocks, first, second = _filter_slots(hashes)
    low = band * FILTER_BLOCKS
    bits = np.zeros((FILTER_BLOCKS, FILTER_BLOCK_BYTES), dtype=np.uint8)
    for block_id, blob in db.conn.execute(f"SELECT id, bits FROM {FILTER} WHERE id BETWEEN ? AND ?",
                                          [low, low + FILTER_BLOCKS - 1]):
        bits[block_id - low] = np.frombuffer(blob, dtype=np.uint8)
    before = bits.copy()
    for bit in (first, second):
        np.bitwise_or.at(bits, (blocks, bit >> 3), (1 << (bit & 7)).astype(np.uint8))
    db.conn.executemany(f"INSERT OR REPLACE INTO {FILTER} (id, bits) VALUES (?, ?)",
                        [(low + block, bits[block].tobytes())
                         for block in np.flatnonzero((bits != before).any(axis=1)).tolist()])


def rebuild_filter(db: sqlite_utils.Database) -> None:
    """Rebuild the oldest level's filter from its rows (it only gains bits as rows leave it)."""
    db.execute(f"DELETE FROM {FILTER}")
    for band in range(BANDS):
        mark(db, band, [row[0] for row in db.execute(f"SELECT hash FROM {LEVELS[-1]} WHERE band = ?", [band])])


def find_original(db: sqlite_utils.Database, fp: Fingerprint, threshold: float = THRESHOLD) -> int | None:
    """The earliest indexed original whose shingles overlap the fingerprint's by at least `threshold`."""
    shared: Counter[int] = Counter()
    oldest = oldest_may_hold(db, fp.bands)
    for band, value in enumerate(fp.bands):  # one cached statement per band: half the time of one for all bands
        shared.update(bucket(db, band, value, oldest=oldest[band]))
    candidates = sorted(shared, key=lambda article_id: (-shared[article_id], article_id))[:CANDIDATES]
    confirmed = []
    for article_id in candidates:
        row = db.conn.execute("SELECT text FROM articles WHERE id = ?", [article_id]).fetchone()
        if row and overlap(fp.shingles, shingles(row[0])) >= threshold:
            confirmed.append(article_id)
    return min(confirmed) if confirmed else None


def create_table(db: sqlite_utils.Database) -> None:
    """The band index's LEVELS: (band, hash, article_id -> articles.id), one B-tree each (idempotent)."""
    # Hand-written because sqlite-utils cannot make a WITHOUT ROWID table: a rowid table plus the (band,
    # hash, article_id) index would be two B-trees, twice the size (16 rows per original) and the writes.
    for table in LEVELS:
        db.execute(f"CREATE TABLE IF NOT EXISTS {table} (band INTEGER NOT NULL, hash INTEGER NOT NULL,"
                   " article_id INTEGER NOT NULL, PRIMARY KEY (band, hash, article_id)) WITHOUT ROWID")
    db.execute(f"CREATE TABLE IF NOT EXISTS {FILTER} (id INTEGER PRIMARY KEY, bits BLOB NOT NULL)")


def index(db: sqlite_utils.Database, article_id: int, bands: Sequence[int]) -> None:
    """Store an original article's band hashes in the newest level (idempotent)."""
    if bands:
        db.conn.executemany(f"INSERT OR IGNORE INTO {LEVELS[0]} (band, hash, article_id) VALUES (?, ?, ?)",
                            [(band, value, article_id) for band, value in enumerate(bands)])


def unindex(db: sqlite_utils.Database, article_id: int, bands: Sequence[int]) -> None:
    """Remove an article's band hashes (computed from the text they were indexed with) from every level.

    Their filter bits stay set: the filter only ever answers "may hold", so a stale bit costs one lookup.
    """
    rows = [(band, value, article_id) for band, value in enumerate(bands)]
    for table in LEVELS if rows else ():
        db.conn.executemany(f"DELETE FROM {table} WHERE band = ? AND hash = ? AND article_id = ?", rows)


def maintain(db: sqlite_utils.Database, article_id: int) -> None:
    """Merge the levels when a new article row's id is due (every FLUSH_EVERY ids); call in its transaction.

    Keyed on the id, not on a count kept anywhere: whichever process stores the due id does the merge.
    """
    if article_id % FLUSH_EVERY == 0:
        flush = article_id // FLUSH_EVERY
        merge(db, LEVELS[0], LEVELS[1])
        if flush % MOVE_EVERY == 0:
            merge(db, LEVELS[1], LEVELS[2], band=flush // MOVE_EVERY % BANDS)


def merge(db: sqlite_utils.Database, source: str, target: str, band: int | None = None) -> None:
    """Move the rows of `source` (of one band, or all) into `target`, in key order (idempotent)."""
    where, params = ("WHERE band = ?", [band]) if band is not None else ("", [])
    for marked in (range(BANDS) if band is None else (band,)) if target == LEVELS[-1] else ():
        mark(db, marked, [row[0] for row in db.execute(f"SELECT hash FROM {source} WHERE band = ?", [marked])])
    db.execute(f"INSERT OR IGNORE INTO {target} (band, hash, article_id)"
               f" SELECT band, hash, article_id FROM {source} {where} ORDER BY band, hash, article_id", params)
    db.execute(f"DELETE FROM {source} {where}", params)


def band_rows(db: sqlite_utils.Database) -> int:
    """How many band rows the index holds, over all levels."""
    return sum(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in LEVELS)


def reindex(db: sqlite_utils.Database, batch: int = 500) -> int:
    """Rebuild the band index from the stored originals' texts; returns how many articles were indexed."""
    for table in LEVELS:
        db.execute(f"DELETE FROM {table}")
    done, last = 0, 0
    while True:
        rows = db.execute("SELECT id, text FROM articles WHERE duplicate_of IS NULL AND id > ? ORDER BY id LIMIT ?",
                          [last, batch]).fetchall()
        if not rows:
            rebuild_filter(db)
            return done
        db.conn.executemany(f"INSERT OR IGNORE INTO {LEVELS[-1]} (band, hash, article_id) VALUES (?, ?, ?)",
                            [(band, value, article_id) for article_id, text in rows
                             for band, value in enumerate(fingerprint(text).bands)])
        done += len(rows)
        last = rows[-1][0]
