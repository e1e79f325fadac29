"""What learned boilerplate costs per page cleaned: with it and without it, same pages, same run.

    python bench/learn_cost.py [--corpus ../shared/corpus] [--rounds 5]

Cleans every page of two sets in this process, alternating the two ways page by page, and prints the median
per-page time and the ratio:
- fundus: the 258 real article pages of ../shared/corpus/fundus, generic adapter, nothing learned (a new
  outlet's first pages: the blocks are cut and keyed, nothing is taken out);
- outlets: the generated outlets of bench/outlets.py with what a backfill of them learned (read from a
  database the bench fills first): blocks are cut, keyed, and the learned ones taken out of the text.
"without" is today's cleaning with the learning steps (ingest/clean/adapters/blocks.py: segment, junk_blocks,
drop_junk, observe) replaced by no-ops, so the difference is what learning adds to a page. The writer's side
(counting the keys in SQLite) is measured by bench/throughput.py, which runs the whole pass.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from outlets import build_outlets, serve

from ingest.archive import learn, store
from ingest.archive.sqlite import open_store
from ingest.clean.adapters import base, get_adapter
from ingest.clean.parse import page_from_bytes
from ingest.config import Settings, Source
from ingest.crawl.fetch import Fetcher
from ingest.decoding import page_text
from ingest.models import NOTHING_LEARNED, Learned, Rejected
from ingest.run.parsing import parse_pool
from ingest.run.pipeline import Window, raw_archive, run_source

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def without_learning() -> Iterator[None]:
    """The adapters' cleaning with the learning steps made no-ops."""
    saved = base.segment, base.junk_blocks, base.drop_junk, base.observe
    base.segment = lambda root: []  # type: ignore[assignment]
    base.junk_blocks = lambda blocks, learned: []  # type: ignore[assignment]
    base.drop_junk = lambda text, junk, learned, blocks=None: text  # type: ignore[assignment]
    base.observe = lambda blocks: ()  # type: ignore[assignment]
    try:
        yield
    finally:
        base.segment, base.junk_blocks, base.drop_junk, base.observe = saved


def fundus_pages(corpus: Path) -> list[tuple[Any, Learned]]:
    pages = []
    with (corpus / "fundus" / "INDEX.tsv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            raw = gzip.decompress((corpus / "fundus" / row["group"] / row["html"]).read_bytes())
            page = page_from_bytes(raw, row["url"])
            _ = page_text(page)
            pages.append((page, NOTHING_LEARNED))
    return pages


def outlet_pages(folder: Path) -> list[tuple[Any, Learned]]:
    """The generated outlets' pages, each with what a backfill of its outlet learned."""
    outlets = build_outlets()
    db_path = folder / "news.db"
    settings = Settings(per_host_delay=0.0, concurrency=2, max_retries=0)
    db, hosts = open_store(db_path), store.HostStore(db_path)
    pages = []
    try:
        with Fetcher(settings, hosts) as fetcher, parse_pool(2) as pool:
            for outlet in outlets:
                base_url, close = serve(outlet)
                d = outlet.design
                source = Source(slug=outlet.slug, feeds=(base_url + d.feed,), sitemaps=(base_url + d.sitemap,),
                                listings=(base_url + d.listing,), domains=("127.0.0.1",), language=d.language)
                first = min(a.published for a in outlet.articles).date()
                try:
                    run_source(db, fetcher, source, window=Window(first, None), pool=pool,
                               archive=raw_archive(db_path, settings))
                finally:
                    close()
                learned = learn.learned(db, outlet.slug)
                for article in outlet.articles:
                    page = page_from_bytes(outlet.page_bytes(article), base_url + article.path)
                    _ = page_text(page)
                    pages.append((page, learned))
    finally:
        hosts.close()
        db.close()
    return pages


def timed(clean: Callable[[], Any]) -> float:
    start = time.perf_counter()
    with suppress(Rejected):
        clean()
    return time.perf_counter() - start


def measure(pages: list[tuple[Any, Learned]], rounds: int) -> tuple[float, float]:
    """Median over pages of each page's median time, with and without learning, in ms (an even number of
    rounds gives each way the first turn equally often)."""
    adapter = get_adapter("generic")
    with_times: list[list[float]] = [[] for _ in pages]
    without_times: list[list[float]] = [[] for _ in pages]
    for round_number in range(rounds):
        for i, (page, learned) in enumerate(pages):
            def clean(p: Any = page, x: Learned = learned) -> Any:
                return adapter.clean(p, source="x", learned=x)
            # Which way goes first alternates by round: the second cleaning of a page finds its data in the CPU's
            # caches, and a bench that always ran one way first measured 11-14% where the overhead was ~5%.
            if round_number % 2:
                with without_learning():
                    without_times[i].append(timed(clean))
                with_times[i].append(timed(clean))
            else:
                with_times[i].append(timed(clean))
                with without_learning():
                    without_times[i].append(timed(clean))
    return (1000 * statistics.median(statistics.median(t) for t in with_times),
            1000 * statistics.median(statistics.median(t) for t in without_times))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args(argv)
    print("| pages | learned keys | with learning, ms | without, ms | ratio |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name, pages in (("fundus (nothing learned yet)", fundus_pages(args.corpus)),
                            ("generated outlets (their boilerplate learned)", outlet_pages(Path(tmp)))):
            keys = sorted({len(learned.keys) for _, learned in pages})
            with_ms, without_ms = measure(pages, args.rounds)
            print(f"| {name}, {len(pages)} | {keys[0]}-{keys[-1]} | {with_ms:.2f} | {without_ms:.2f} |"
                  f" {with_ms / without_ms:.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
