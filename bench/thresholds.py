"""How learned boilerplate's thresholds were chosen: junk learned and story text lost, per setting, same run.

    python bench/thresholds.py [--pages 60] [--quick]

Backfills the generated outlets of bench/outlets.py (served on 127.0.0.1, generic adapter, raw pages kept)
into a fresh database for each setting of ingest/archive/learn.py's MIN_PAGES, MIN_SHARE and MIN_SPAN, in this
process (the settings are the module's constants, patched here), then re-cleans as the backfill command does.
Besides the four outlets it backfills two stress outlets whose story arc is a burst of 16 follow-ups on
consecutive pages reusing one background paragraph (pages = 2 x --pages, so the arc fits), the case most
likely to be mistaken for boilerplate.

Printed per setting, over all outlets: story paragraphs lost (false removals, the number that must be 0), junk
lines left, pages perfect among the first 10 fetched and among the rest while the backfill runs (before
re-cleaning: how soon it learns), and pages perfect once re-cleaned.
"""

from __future__ import annotations

import argparse
import dataclasses
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from learning import FIRST, Score, judge
from outlets import DESIGNS, LANTERN, PIVDEN, Outlet, build, serve

from ingest.archive import learn, store
from ingest.archive.sqlite import open_store
from ingest.config import Settings, Source
from ingest.crawl.fetch import Fetcher
from ingest.run.parsing import parse_pool
from ingest.run.pipeline import Window, raw_archive, run_source
from ingest.run.reclean import reclean_source

SETTINGS = [  # (MIN_PAGES, MIN_SHARE, MIN_SPAN)
    (3, 0.3, 10), (5, 0.45, 20), (5, 0.6, 20), (5, 0.75, 20), (5, 0.6, 30), (5, 0.45, 40), (5, 0.5, 40),
    (5, 0.6, 40), (3, 0.5, 40), (8, 0.5, 40), (5, 0.5, 50), (5, 0.5, 60),
]
QUICK = [(5, 0.6, 20), (5, 0.5, 40), (5, 0.5, 60)]


def stress(design_slug: str, pages: int) -> Outlet:
    """An outlet whose arc is a burst of 16 follow-ups reusing its background paragraph."""
    design = next(d for d in DESIGNS if d.slug == design_slug)
    background, follow_ups = design.arc
    longer = tuple((f"{title} ({n})", lead) for n in range(2) for title, lead in follow_ups)
    return build(dataclasses.replace(design, slug=f"{design.slug}_burst", arc=(background, longer),
                                     arc_burst=True), pages * 2)


@contextmanager
def patched(min_pages: int, min_share: float, min_span: int) -> Iterator[None]:
    saved = learn.MIN_PAGES, learn.MIN_SHARE, learn.MIN_SPAN
    learn.MIN_PAGES, learn.MIN_SHARE, learn.MIN_SPAN = min_pages, min_share, min_span
    try:
        yield
    finally:
        learn.MIN_PAGES, learn.MIN_SHARE, learn.MIN_SPAN = saved


def score(db_path: Path, outlet: Outlet) -> Score:
    """Pages in the order they were fetched: the first 10 fetched are the ones cleaned with least evidence."""
    conn = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        stored = {urlsplit(u).path: t for u, t in conn.execute("SELECT url, text FROM articles WHERE source = ?",
                                                                [outlet.slug])}
        order = [urlsplit(u).path for (u,) in conn.execute("SELECT url FROM fetches WHERE source = ? ORDER BY id",
                                                            [outlet.slug])]
    finally:
        conn.close()
    result = Score(pages=len(outlet.articles))
    for position, path in enumerate(dict.fromkeys(order)):
        article = outlet.by_path(path)
        if article is None or path not in stored:
            continue
        if position < FIRST:
            result.first += 1
        else:
            result.rest += 1
        judge(article, stored[path], result, position)
    return result


def run(outlets: list[Outlet], setting: tuple[int, float, int]) -> dict[str, Score]:
    """Backfill every outlet into a fresh database with `setting`, score, re-clean, score again."""
    scores: dict[str, Score] = {}
    settings = Settings(per_host_delay=0.0, concurrency=2, max_retries=0)
    with tempfile.TemporaryDirectory() as tmp, patched(*setting), parse_pool(2) as pool:
        db_path = Path(tmp) / "news.db"
        db, hosts = open_store(db_path), store.HostStore(db_path)
        archive = raw_archive(db_path, settings)
        try:
            with Fetcher(settings, hosts) as fetcher:
                for outlet in outlets:
                    base, close = serve(outlet)
                    d = outlet.design
                    source = Source(slug=outlet.slug, feeds=(base + d.feed,), sitemaps=(base + d.sitemap,),
                                    listings=(base + d.listing,), domains=("127.0.0.1",), language=d.language)
                    first = min(a.published for a in outlet.articles).date() - timedelta(days=1)
                    try:
                        run_source(db, fetcher, source, kind="backfill", window=Window(first, None), workers=2,
                                   pool=pool, archive=archive)
                        scores[f"{outlet.slug} before"] = score(db_path, outlet)
                        reclean_source(db, archive, source, pool)
                        scores[f"{outlet.slug} after"] = score(db_path, outlet)
                    finally:
                        close()
        finally:
            hosts.close()
            db.close()
    return scores


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=60)
    parser.add_argument("--quick", action="store_true", help="three settings instead of twelve")
    args = parser.parse_args(argv)
    outlets = [build(d, args.pages) for d in DESIGNS] + [stress(LANTERN.slug, args.pages),
                                                         stress(PIVDEN.slug, args.pages)]
    print("| MIN_PAGES | MIN_SHARE | MIN_SPAN | story lost | junk left | perfect, first 10 fetched | perfect, rest"
          " | perfect after re-cleaning | seconds |")
    print("|---|---|---|---|---|---|---|---|---|")
    for setting in QUICK if args.quick else SETTINGS:
        start = time.perf_counter()
        scores = run(outlets, setting)
        before = [s for k, s in scores.items() if k.endswith("before")]
        after = [s for k, s in scores.items() if k.endswith("after")]
        lost = sum(s.lost for s in after)
        story = sum(s.story for s in after)
        left = sum(s.junk_left for s in after)
        junk = sum(s.junk for s in after)
        first = sum(s.perfect_first for s in before), sum(s.first for s in before)
        rest = sum(s.perfect_rest for s in before), sum(s.rest for s in before)
        final = sum(s.perfect_first + s.perfect_rest for s in after), sum(s.first + s.rest for s in after)
        print(f"| {setting[0]} | {setting[1]} | {setting[2]} | {lost}/{story} | {left}/{junk} | {first[0]}/{first[1]}"
              f" | {rest[0]}/{rest[1]} | {final[0]}/{final[1]} | {time.perf_counter() - start:.0f} |", flush=True)
        lost_where = {k.split()[0]: s.lost_by_kind for k, s in scores.items() if k.endswith("after") and s.lost}
        if lost_where:
            print(f"|  | lost by outlet and article kind: {lost_where} |||||||", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
