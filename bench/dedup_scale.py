"""Deduplication at scale: time per article and memory from 10k to 1M stored articles.

    python bench/dedup_scale.py [--max 1000000] [--checkpoints 10000,100000,1000000] [--batch 100]
        [--cache-mib N] [--db PATH]

Stores synthetic articles through store.save_article, `--batch` articles per transaction, into a fresh database
(FTS triggers on, as in production). Texts are 60-120 words drawn from a generated vocabulary of 4,096
words, so distinct articles share no shingles; `--near` of them (default 10%) are near copies of a random
earlier original (an aggregator's header and footer added, the last sentence dropped) and `--updates` (1%)
re-store a random earlier URL with a changed text (an "updated" outcome with a revision row). At each
checkpoint it prints the time per article over the last `--window` articles, the process RSS (current and
peak), the database size, and how many near copies were stored as duplicates of their original.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from array import array
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingest import store  # noqa: E402
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


def run(db_path: Path, args: argparse.Namespace) -> list[dict[str, object]]:
    words = vocabulary()
    rng = random.Random(42)
    checkpoints = sorted(int(c) for c in args.checkpoints.split(",") if int(c) <= args.max)
    db = store.open_db(db_path)
    if args.cache_mib:  # otherwise store.open_db's page cache (store.CACHE_MIB), as in production
        db.execute(f"PRAGMA cache_size = {-1024 * args.cache_mib}")
    counts: Counter[str] = Counter()
    # Ids of the stored originals (8 bytes each), to pick near-copy sources from. An original's text is
    # synthetic_text(its id): rows are only ever appended to a fresh database, so its id is stored + 1.
    originals = array("q")
    stored = made = 0
    times: list[float] = []  # seconds per transaction batch, with its size
    sizes: list[int] = []
    rows: list[dict[str, object]] = []
    near_expected = near_found = 0
    try:
        while stored < args.max:
            # The batch is made first: only the store's work is timed, not the making of synthetic texts.
            batch: list[tuple[str, int, Article]] = []
            inserts = 0
            while len(batch) < args.batch and stored + inserts < args.max:
                made += 1
                roll = rng.random()
                if originals and roll < args.near:
                    source = originals[rng.randrange(len(originals))]
                    batch.append(("near", source, Article(url=f"https://copy.example/{made}", source="copy",
                                                          title=f"Copy {made}",
                                                          text=near_copy(synthetic_text(source, words)))))
                    inserts += 1
                elif originals and roll < args.near + args.updates:
                    source = originals[rng.randrange(len(originals))]
                    batch.append(("update", source, Article(
                        url=f"https://news.example/{source}", source="news", title=f"Story {source}",
                        text=synthetic_text(source, words) + f"\n\nUpdate {made}: officials confirmed it.")))
                else:
                    number = stored + inserts + 1  # rows are only appended: its id will be this
                    batch.append(("new", number, Article(url=f"https://news.example/{number}", source="news",
                                                         title=f"Story {number}", text=synthetic_text(number, words))))
                    inserts += 1
            start = time.perf_counter()
            with store.transaction(db):
                saves = [store.save_article(db, article) for _, _, article in batch]
            times.append(time.perf_counter() - start)
            sizes.append(len(batch))
            for (kind, number, _), saved in zip(batch, saves, strict=True):
                counts[saved.outcome] += 1
                stored += saved.outcome in ("new", "duplicate")
                if kind == "near":
                    near_expected += 1
                    near_found += saved.outcome == "duplicate" and saved.duplicate_of == number
                elif kind == "new":
                    assert saved.article_id == number, (saved, number)
                    if saved.outcome == "new":
                        originals.append(number)
            if checkpoints and stored >= checkpoints[0]:
                checkpoints.pop(0)
                rows.append(checkpoint(db, db_path, stored, times, sizes, args.window, counts,
                                       near_expected, near_found))
                print(format_row(rows[-1]), flush=True)
    finally:
        db.close()
    return rows


def checkpoint(db: store.sqlite_utils.Database, db_path: Path, stored: int, times: list[float], sizes: list[int],
               window: int, counts: Counter[str], near_expected: int, near_found: int) -> dict[str, object]:
    seconds = articles = 0.0
    for t, n in zip(reversed(times), reversed(sizes), strict=True):
        seconds, articles = seconds + t, articles + n
        if articles >= window:
            break
    current, peak = rss_mib()
    size = sum(p.stat().st_size for p in db_path.parent.glob(db_path.name + "*"))
    bands = db.execute("SELECT count(*) FROM article_bands").fetchone()[0]
    return {"stored": stored, "ms_per_article": round(1000 * seconds / articles, 3),
            "rss_mib": round(current), "peak_rss_mib": round(peak), "db_mib": round(size / 2**20),
            "band_rows": bands, "new": counts["new"], "duplicate": counts["duplicate"], "updated": counts["updated"],
            "near_copies_found": f"{near_found}/{near_expected}"}


def format_row(row: dict[str, object]) -> str:
    return "| " + " | ".join(str(v) for v in row.values()) + " |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max", type=int, default=1_000_000, help="stored articles to reach")
    parser.add_argument("--checkpoints", default="10000,100000,1000000", help="comma-separated article counts")
    parser.add_argument("--batch", type=int, default=100, help="articles per transaction")
    parser.add_argument("--window", type=int, default=5000, help="articles the time per article is averaged over")
    parser.add_argument("--near", type=float, default=0.10, help="fraction of near copies")
    parser.add_argument("--updates", type=float, default=0.01, help="fraction of re-stored URLs with a changed text")
    parser.add_argument("--cache-mib", type=int, default=0,
                        help=f"SQLite page cache (default: the store's, {store.CACHE_MIB} MiB)")
    parser.add_argument("--db", type=Path, help="database file (default: a temporary one, removed afterwards)")
    args = parser.parse_args()
    print(f"synthetic articles of 60-120 words, {args.near:.0%} near copies, {args.updates:.0%} updates, "
          f"{args.batch} articles per transaction, FTS triggers on, page cache "
          f"{args.cache_mib or store.CACHE_MIB} MiB; "
          f"time per article over the last {args.window}")
    keys = ["stored", "ms_per_article", "rss_mib", "peak_rss_mib", "db_mib", "band_rows", "new", "duplicate",
            "updated", "near_copies_found"]
    print("| " + " | ".join(keys) + " |\n|" + "---|" * len(keys))
    started = time.perf_counter()
    if args.db:
        run(args.db, args)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            run(Path(tmp) / "scale.db", args)
    print(f"total {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
