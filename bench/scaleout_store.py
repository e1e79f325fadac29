"""Per-article store cost on PostgreSQL from 10k to 1M articles: bench/dedup_scale.py's measure, on the other store.

    python bench/scaleout.py store [--max 1000000] [--sizes 10000,100000,1000000] [--sample 2000] [--batch 100]

The archive grows by bulk loading (COPY): storing a million articles one by one would take hours. The rows are
dedup_scale.py's synthetic articles (60-120 words of a generated vocabulary; 10% near copies of a random earlier
original, with duplicate_of set), each row made by store.article_row and dedup.content_hash, and every original's
near-duplicate band rows (`article_bands`) by neardup.fingerprint: what save_article writes for them. The loaded
ids are the article numbers; save_article's own rows take ids from 10^9 on. After each load (and VACUUM ANALYZE), at
each size, it stores `--sample` more articles as dedup_scale.py does (new originals, 10% near copies of a loaded
original, 1% changed texts of a loaded URL), `--batch` per transaction, timing `dedup.judge` (the exact and near
duplicate lookups) and `PostgresStore.save_article` (the row, its FTS vector and GIN entry, its band rows), after a
warm-up of `--sample // 4` untimed. Baseline: the first size's database is kept as a template; right after each
size's measurement the first size's very articles are stored again into a fresh copy of it, so that a ratio pairs
two timings taken a minute apart on a machine whose speed drifts.
"""

from __future__ import annotations

import argparse
import random
import time
from array import array
from collections import Counter
from datetime import UTC, datetime

import psycopg
from dedup_scale import near_copy, synthetic_text, vocabulary
from pg import Server

from ingest.archive import dedup, neardup, store
from ingest.archive.postgres import PostgresStore, open_postgres_store
from ingest.models import Article
from ingest.urls import url_key

SAMPLE_IDS = 10**9  # save_article's ids start here: the loaded rows' ids are their article numbers, below
CHUNK = 50_000  # articles loaded per transaction
SAMPLE_TEXTS = 10**8  # the timed originals' text numbers: no loaded article has their text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max", type=int, default=1_000_000, help="largest archive size to reach")
    parser.add_argument("--sizes", default="10000,100000,1000000", help="archive sizes to time at (first: baseline)")
    parser.add_argument("--sample", type=int, default=2000, help="articles timed at each size")
    parser.add_argument("--batch", type=int, default=100, help="articles per transaction")
    parser.add_argument("--near", type=float, default=0.10, help="fraction of near copies")
    parser.add_argument("--updates", type=float, default=0.01, help="fraction of re-stored URLs, changed")


def quick(args: argparse.Namespace) -> None:
    """A smoke run's sizes."""
    args.sizes, args.max, args.sample = "2000,20000", 20000, 400


class Archive:
    """What was loaded: the originals' article numbers (near-copy and update sources), the rows so far."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.words = vocabulary()
        self.rng = random.Random(42)
        self.near, self.updates = args.near, args.updates
        self.originals = array("q")
        self.loaded = 0

    def load(self, conn: psycopg.Connection[tuple[object, ...]], target: int) -> None:
        """COPY articles and their band rows up to `target` articles, CHUNK at a time (a chunk's band rows are held
        in memory, not a million's); then VACUUM ANALYZE (hint bits and statistics, as autovacuum leaves an archive
        that grew slowly)."""
        while self.loaded < target:
            self.load_chunk(conn, min(target, self.loaded + CHUNK))
        conn.execute("VACUUM ANALYZE")

    def load_chunk(self, conn: psycopg.Connection[tuple[object, ...]], target: int) -> None:
        now = datetime.now(UTC).isoformat()
        bands: list[tuple[int, int, int]] = []
        columns = ", ".join(["id", "duplicate_of", *store.article_row(Article(url="https://x.example/", source="x",
                                                                             title="x", text="x"), "x", "x")])
        with conn.transaction():
            with conn.cursor().copy(f"COPY articles ({columns}) FROM STDIN") as copy:
                for number in range(self.loaded + 1, target + 1):
                    if self.originals and self.rng.random() < self.near:
                        source = self.originals[self.rng.randrange(len(self.originals))]
                        article = Article(url=f"https://copy.example/{number}", source="copy", title=f"Copy {number}",
                                          text=near_copy(synthetic_text(source, self.words)))
                        original: int | None = source
                    else:
                        article = Article(url=f"https://news.example/{number}", source="news",
                                          title=f"Story {number}", text=synthetic_text(number, self.words))
                        original = None
                        self.originals.append(number)
                        bands += [(band, value, number) for band, value
                                  in enumerate(neardup.fingerprint(article.text).bands)]
                    row = store.article_row(article, url_key(article.url), dedup.content_hash(article.text))
                    row.update(first_seen_at=now, fetched_at=now)
                    copy.write_row([number, original, *row.values()])
            with conn.cursor().copy("COPY article_bands (band, hash, article_id) FROM STDIN") as copy:
                for band_row in bands:
                    copy.write_row(band_row)
        self.loaded = target


class Sample:
    """The articles timed at one size: dedup_scale.py's mix, near copies and updates of loaded originals."""

    def __init__(self, archive: Archive, size: int, seed: int) -> None:
        rng = random.Random(seed)
        self.items: list[tuple[str, int, Article]] = []
        for i in range(size):
            roll, made = rng.random(), SAMPLE_TEXTS + seed * size + i
            source = archive.originals[rng.randrange(len(archive.originals))]
            if roll < archive.near:
                self.items.append(("near", source, Article(url=f"https://copy.example/s{made}", source="copy",
                                                           title=f"Copy {made}",
                                                           text=near_copy(synthetic_text(source, archive.words)))))
            elif roll < archive.near + archive.updates:
                self.items.append(("update", source, Article(
                    url=f"https://news.example/{source}", source="news", title=f"Story {source}",
                    text=synthetic_text(source, archive.words) + f"\n\nUpdate {made}: officials confirmed it.")))
            else:
                self.items.append(("new", made, Article(url=f"https://news.example/s{made}", source="news",
                                                        title=f"Story {made}",
                                                        text=synthetic_text(made, archive.words))))

    def store(self, db: PostgresStore, batch: int, warmup: int) -> tuple[float, Counter[str]]:
        """ms per article over the items after the first `warmup`; outcomes (near copies found or missed)."""
        seconds, counts = 0.0, Counter[str]()
        for start in range(0, len(self.items), batch):
            chunk = self.items[start:start + batch]
            began = time.perf_counter()
            with db.batch():
                saves = [db.save_article(article, dedup.judge(db, article)) for _, _, article in chunk]
            if start >= warmup:
                seconds += time.perf_counter() - began
            for (kind, number, _), saved in zip(chunk, saves, strict=True):
                counts[saved.outcome] += 1
                if kind == "near":
                    counts["near found" if saved.duplicate_of == number else "near missed"] += 1
        return 1000 * seconds / (len(self.items) - warmup), counts


def measure(dsn: str, sample: Sample, args: argparse.Namespace) -> tuple[float, Counter[str]]:
    db = open_postgres_store(dsn)
    try:
        return sample.store(db, args.batch, args.sample // 4)
    finally:
        db.close()


def sizes_mib(dsn: str) -> tuple[int, int]:
    """(database MiB, band rows)."""
    with psycopg.connect(dsn) as conn:
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        rows = conn.execute("SELECT count(*) FROM article_bands").fetchone()
    return (size[0] // 2**20 if size else 0), (rows[0] if rows else 0)


def bench_store(args: argparse.Namespace, server: Server) -> list[dict[str, object]]:
    sizes = [int(s) for s in args.sizes.split(",") if int(s) <= args.max]
    print(f"\nstore cost: synthetic 60-120-word articles bulk loaded to {sizes}, then {args.sample} stored "
          f"through dedup.judge + PostgresStore.save_article ({args.sample // 4} of them untimed), "
          f"{args.batch} per transaction", flush=True)
    print("| articles | load s | ms / article | baseline ms | ratio (same minute) | ratio to first size |"
          " database MiB | band rows | outcomes |\n|---|---|---|---|---|---|---|---|---|", flush=True)
    dsn = server.create_database()
    open_postgres_store(dsn).close()
    name = dsn.rsplit("/", 1)[1]
    template, first, baseline_sample = f"{name}_base", None, None
    archive, rows = Archive(args), []
    started = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT setval(pg_get_serial_sequence('articles', 'id'), %s)", [SAMPLE_IDS])
    for i, size in enumerate(sizes):
        began = time.perf_counter()
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("SET maintenance_work_mem = '256MB'")
            archive.load(conn, size)
        load = time.perf_counter() - began
        sample = Sample(archive, args.sample + args.sample // 4, seed=i + 1)
        if baseline_sample is None:
            baseline_sample = sample
            with psycopg.connect(server.dsn(), autocommit=True) as conn:  # the first size, kept as it is
                conn.execute(f'CREATE DATABASE "{template}" TEMPLATE "{name}"')
        ms, counts = measure(dsn, sample, args)
        with psycopg.connect(server.dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{template}_trial" TEMPLATE "{template}"')
        base, _ = measure(server.dsn(f"{template}_trial"), baseline_sample, args)
        drop_database(server, f"{template}_trial")
        first = first or ms
        mib, band_rows = sizes_mib(dsn)
        rows.append({"articles": size, "load_s": round(load), "ms": round(ms, 3), "baseline_ms": round(base, 3),
                     "ratio": round(ms / base, 2), "ratio_first": round(ms / first, 2), "db_mib": mib,
                     "band_rows": band_rows, "outcomes": dict(counts)})
        print("| " + " | ".join(f"{v:,}" if isinstance(v, int) else str(v) for v in rows[-1].values()) + " |",
              flush=True)
    print(f"store bench: {time.perf_counter() - started:.0f} s")
    return rows


def drop_database(server: Server, name: str) -> None:
    """Drop a database of the bench's server, connections and all."""
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
