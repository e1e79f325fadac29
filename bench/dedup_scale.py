"""Deduplication at scale: time per article and memory from 10k to 1M stored articles.

    python bench/dedup_scale.py [--max 1000000] [--checkpoints 10000,100000,1000000] [--batch 100]
        [--window N] [--cache-mib N] [--series FILE] [--db PATH]

Stores synthetic articles through the dedup stage and the store (dedup.judge, SqliteStore.save_article), `--batch`
articles per transaction, into a fresh database (FTS triggers on, as in production). Texts are 60-120 words drawn
from a generated vocabulary of 4,096 words, so distinct articles share no shingles; `--near` of them (default 10%)
are near copies of a random earlier original (an aggregator's header and footer added, the last sentence dropped)
and `--updates` (1%) re-store a random earlier URL with a changed text (an "updated" outcome with a revision row).
At each checkpoint it prints the time per article over the last `--window` articles, the same time for the baseline
(the first checkpoint's database, copied then and re-measured right after every checkpoint: see Baseline), their
ratio, the process RSS (current and peak), the database size, and how many near copies were stored as duplicates of
their original. `--series FILE` writes every transaction's time.
"""

from __future__ import annotations

import argparse
import copy
import multiprocessing
import random
import shutil
import sys
import tempfile
import time
from array import array
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingest.archive import dedup, neardup, store  # noqa: E402
from ingest.archive.sqlite import SqliteStore  # noqa: E402
from ingest.models import Article  # noqa: E402

SYLLABLES = ("ka", "lo", "mi", "ra", "ne", "tu", "vo", "si", "de", "pa", "gri", "sto", "ven", "mar", "kol",
             "bra", "zen", "tol", "fi", "ush", "ond", "ler", "ska", "yu", "chi", "pro", "mos", "dan")
HEADER = "This story was republished under a content-sharing agreement. Copying only with a hyperlink."
FOOTER = "Follow our news on Telegram, Facebook and X to stay up to date with the latest developments."


def vocabulary(size: int = 4096) -> list[str]:
    """`size` distinct pseudo-words, the same on every run."""
    rng = random.Random(0)
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def synthetic_text(n: int, words: list[str]) -> str:
    """Article n's text: 60-120 words in sentences of 6-14 words, two or three paragraphs."""
    rng = random.Random(n * 7919 + 13)
    drawn, sentences, start = rng.choices(words, k=rng.randint(60, 120)), [], 0
    while start < len(drawn):
        length = rng.randint(6, 14)
        sentences.append(" ".join(drawn[start:start + length]).capitalize() + ".")
        start += length
    cut = max(1, len(sentences) // 2)
    return " ".join(sentences[:cut]) + "\n\n" + " ".join(sentences[cut:])


def near_copy(text: str) -> str:
    """An aggregator's copy: its header and footer around the story, whose last sentence is dropped."""
    body = text.rsplit(". ", 1)[0] + "."
    return f"{HEADER}\n\n{body}\n\n{FOOTER}"


def rss_mib() -> tuple[float, float]:
    """(current, peak) resident set size of this process in MiB."""
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return int(status["VmRSS"].split()[0]) / 1024, int(status["VmHWM"].split()[0]) / 1024


class Workload:
    """The synthetic stream of articles, and what the store made of them; copy() forks it."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.words = vocabulary()
        self.rng = random.Random(42)
        self.near, self.updates, self.size = args.near, args.updates, args.batch
        self.counts: Counter[str] = Counter()
        # Ids of the stored originals (8 bytes each), to pick near-copy sources from. An original's text is
        # synthetic_text(its id): rows are only ever appended to a fresh database, so its id is stored + 1.
        self.originals = array("q")
        self.stored = self.made = self.near_expected = self.near_found = 0

    def copy(self) -> Workload:
        twin = copy.copy(self)
        twin.rng, twin.counts, twin.originals = random.Random(), Counter(self.counts), array("q", self.originals)
        twin.rng.setstate(self.rng.getstate())
        return twin

    def batch(self, limit: int) -> list[tuple[str, int, Article]]:
        """The next transaction's articles (at most `limit` new rows)."""
        batch: list[tuple[str, int, Article]] = []
        inserts = 0
        while len(batch) < self.size and inserts < limit:
            self.made += 1
            made, roll = self.made, self.rng.random()
            if self.originals and roll < self.near:
                source = self.originals[self.rng.randrange(len(self.originals))]
                batch.append(("near", source, Article(url=f"https://copy.example/{made}", source="copy",
                                                      title=f"Copy {made}",
                                                      text=near_copy(synthetic_text(source, self.words)))))
                inserts += 1
            elif self.originals and roll < self.near + self.updates:
                source = self.originals[self.rng.randrange(len(self.originals))]
                batch.append(("update", source, Article(
                    url=f"https://news.example/{source}", source="news", title=f"Story {source}",
                    text=synthetic_text(source, self.words) + f"\n\nUpdate {made}: officials confirmed it.")))
            else:
                number = self.stored + inserts + 1  # rows are only appended: its id will be this
                batch.append(("new", number, Article(url=f"https://news.example/{number}", source="news",
                                                     title=f"Story {number}",
                                                     text=synthetic_text(number, self.words))))
                inserts += 1
        return batch

    def store(self, db: SqliteStore, limit: int) -> tuple[float, int]:
        """Store one batch in one transaction, as the pipeline does (the dedup stage, then the save, per article);
        (seconds, articles). Only the dedup stage's and the store's work is timed."""
        batch = self.batch(limit)
        start = time.perf_counter()
        with db.batch():
            saves = [db.save_article(article, dedup.judge(db, article)) for _, _, article in batch]
        seconds = time.perf_counter() - start
        for (kind, number, _), saved in zip(batch, saves, strict=True):
            self.counts[saved.outcome] += 1
            self.stored += saved.outcome in ("new", "duplicate")
            if kind == "near":
                self.near_expected += 1
                self.near_found += saved.outcome == "duplicate" and saved.duplicate_of == number
            elif kind == "new":
                assert saved.article_id == number, (saved, number)
                if saved.outcome == "new":
                    self.originals.append(number)
        return seconds, len(batch)


def open_store(path: Path, args: argparse.Namespace) -> SqliteStore:
    db = SqliteStore(store.open_db(path), path)
    if args.cache_mib:  # otherwise store.open_db's page cache (store.CACHE_MIB), as in production
        db.db.execute(f"PRAGMA cache_size = {-1024 * args.cache_mib}")
    return db


class Baseline:
    """The first checkpoint's window again: the same articles stored into a copy of the same database.

    The copy is taken WARMUP + window articles before the first checkpoint; each measurement stores WARMUP
    articles untimed (the run's own connection has a warm page cache too), then times the window, the very
    work the run timed at the first checkpoint. It is measured again right after every checkpoint, so that
    a ratio pairs two timings taken seconds apart: on this machine the same work's time drifts by a fifth
    over minutes, as much as the 1.5x target allows for growth.
    """

    WARMUP = 1000

    def __init__(self, db: SqliteStore, db_path: Path, workload: Workload,
                 args: argparse.Namespace) -> None:
        db.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.path = db_path.with_name("baseline.db")
        shutil.copyfile(db_path, self.path)
        self.workload, self.args, self.stored = workload.copy(), args, workload.stored

    def measure(self) -> float:
        """ms per article, measured in a forked child: the run's RSS stays the run's own."""
        context = multiprocessing.get_context("fork")
        receive, send = context.Pipe(duplex=False)
        child = context.Process(target=lambda: send.send(self._measure()))
        child.start()
        result: float = receive.recv()
        child.join()
        return result

    def _measure(self) -> float:
        trial = self.path.with_name("baseline-trial.db")
        shutil.copyfile(self.path, trial)
        db, workload = open_store(trial, self.args), self.workload.copy()
        try:
            while workload.stored < self.stored + self.WARMUP:
                workload.store(db, self.stored + self.WARMUP - workload.stored)  # same batches as the run's
            seconds = articles = 0
            while articles < self.args.window:
                took, size = workload.store(db, self.args.window)
                seconds, articles = seconds + took, articles + size
        finally:
            db.close()
            for path in trial.parent.glob(trial.name + "*"):
                path.unlink()
        return 1000 * seconds / articles


def run(db_path: Path, args: argparse.Namespace) -> list[dict[str, object]]:
    checkpoints = sorted(int(c) for c in args.checkpoints.split(",") if int(c) <= args.max)
    db = open_store(db_path, args)
    workload = Workload(args)
    times: list[float] = []  # seconds per transaction batch, with its size
    sizes: list[int] = []
    rows: list[dict[str, object]] = []
    baseline: Baseline | None = None
    series = args.series.open("w") if args.series else None  # one line per transaction: stored, size, seconds
    try:
        while workload.stored < args.max:
            seconds, size = workload.store(db, args.max - workload.stored)
            times.append(seconds)
            sizes.append(size)
            if series:
                series.write(f"{workload.stored},{size},{seconds:.6f}\n")
            if baseline is None and checkpoints and workload.stored >= checkpoints[0] - args.window - Baseline.WARMUP:
                baseline = Baseline(db, db_path, workload, args)
            if checkpoints and workload.stored >= checkpoints[0]:
                checkpoints.pop(0)
                assert baseline is not None
                rows.append(checkpoint(db, db_path, workload, times, sizes, args.window, baseline))
                print(format_row(rows[-1]), flush=True)
    finally:
        db.close()
        if series:
            series.close()
        if baseline:
            baseline.path.unlink()
    return rows


def checkpoint(db: SqliteStore, db_path: Path, workload: Workload, times: list[float],
               sizes: list[int], window: int, baseline: Baseline) -> dict[str, object]:
    seconds = articles = 0.0
    for t, n in zip(reversed(times), reversed(sizes), strict=True):
        seconds, articles = seconds + t, articles + n
        if articles >= window:
            break
    ms = 1000 * seconds / articles
    base = baseline.measure()
    current, peak = rss_mib()
    size = sum(p.stat().st_size for p in db_path.parent.glob(db_path.name + "*"))
    return {"stored": workload.stored, "ms_per_article": round(ms, 3),
            "baseline_ms": round(base, 3), "ratio": round(ms / base, 2),
            "rss_mib": round(current), "peak_rss_mib": round(peak), "db_mib": round(size / 2**20),
            "band_rows": neardup.band_rows(db.db), "new": workload.counts["new"],
            "duplicate": workload.counts["duplicate"], "updated": workload.counts["updated"],
            "near_copies_found": f"{workload.near_found}/{workload.near_expected}"}


def format_row(row: dict[str, object]) -> str:
    return "| " + " | ".join(str(v) for v in row.values()) + " |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max", type=int, default=1_000_000, help="stored articles to reach")
    parser.add_argument("--checkpoints", default="10000,100000,1000000", help="comma-separated article counts")
    parser.add_argument("--batch", type=int, default=100, help="articles per transaction")
    parser.add_argument("--window", type=int, default=neardup.FLUSH_EVERY * neardup.MOVE_EVERY,
                        help="articles the time per article is averaged over (default: the band index's merge"
                             " period, so that every window pays the same share of merges)")
    parser.add_argument("--near", type=float, default=0.10, help="fraction of near copies")
    parser.add_argument("--updates", type=float, default=0.01, help="fraction of re-stored URLs with a changed text")
    parser.add_argument("--cache-mib", type=int, default=0,
                        help=f"SQLite page cache (default: the store's, {store.CACHE_MIB} MiB)")
    parser.add_argument("--series", type=Path, help="CSV file of every transaction: stored articles, size, seconds")
    parser.add_argument("--db", type=Path, help="database file (default: a temporary one, removed afterwards)")
    args = parser.parse_args()
    print(f"synthetic articles of 60-120 words, {args.near:.0%} near copies, {args.updates:.0%} updates, "
          f"{args.batch} articles per transaction, FTS triggers on, page cache "
          f"{args.cache_mib or store.CACHE_MIB} MiB; "
          f"time per article over the last {args.window}")
    keys = ["stored", "ms_per_article", "baseline_ms", "ratio", "rss_mib", "peak_rss_mib",
            "db_mib", "band_rows", "new", "duplicate", "updated", "near_copies_found"]
    print("| " + " | ".join(keys) + " |\n|" + "---|" * len(keys))
    started = time.perf_counter()
    if args.db:
        rows = run(args.db, args)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            rows = run(Path(tmp) / "scale.db", args)
    print(f"total {time.perf_counter() - started:.0f} s")
    if len(rows) > 1:
        print(f"time per article at {rows[-1]['stored']:,} stored against {rows[0]['stored']:,}, measured seconds"
              f" apart: {rows[-1]['ratio']}x (target: at most 1.5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
