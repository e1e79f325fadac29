"""Politeness of the revisit schedule (issue 21): new links first, revisits with what is left, the host's delay kept.

    python bench/revisit.py [--articles 1000] [--new 20] [--delay 0.05] [--limit 500] [--workers 4] [--quick]

A loopback outlet on 127.0.0.1 (one host) serves an RSS feed (its newest 50), a sitemap (every page) and article
pages, each with an ETag of its body (If-None-Match answered 304). The bench stores `--articles` of them with one
daemon pass (`run_source`, kind "run", no delay) into a fresh SQLite archive with a real Fetcher; the revisit
schedule (ingest's `revisit.schedule_new`) then places them, on a Source whose first step falls a second after that
store pass (a Source made in code may use fractions of a second), and the bench waits until they are due. Before the
measured pass the outlet edits the headline of one story in ten and moves only the view counter of another one in
ten, and adds `--new` links to its feed. Then ONE daemon pass (`run_source(..., kind="run", limit=--limit)`) with
`per_host_delay = --delay` runs, and the server's own request log (arrival times, taken in the handler, and the
requests in flight) says:

- whether every new article page was requested before the first revisit;
- the smallest gap between two request starts on the host against `per_host_delay`, and the most requests in flight;
  beside it, the same gaps as the client sent them (httpx's request hook on the Fetcher's client, a measurement
  hook), and between the Fetcher's turns on the host (its `_wait_turn`, wrapped): a short gap at the server and not
  between turns is jitter on the way (a thread of this process waiting for a core or the GIL), not the Fetcher's
  pacing; and the smallest mean gap over 10 requests at the server;
- how many revisits the pass's page budget allowed (limit - new) against how many were made;
- pages per second, against the ceiling the delay sets (1 / delay);
- the outcomes: 304, 200 with the same story (counter only: unchanged), 200 with an edit (updated, a revision).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import itertools
import json
import logging
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any, Final

from ingest.archive.sqlite import open_host_states, open_store
from ingest.config import Settings, Source
from ingest.crawl.fetch import Fetcher
from ingest.demo.outlet import Reply, serve_http
from ingest.run import revisit
from ingest.run.parsing import parse_pool
from ingest.run.pipeline import Summary, run_source
from ingest.run.workers import WorkerPool

AGENT = "ingest-bench/1.0 (+https://example.org/contact)"
LAST_STEP = 7 * 86400.0  # the schedule's last step: every stored article stays within it
WORDS: Final = (
    "council", "budget", "school", "road", "river", "bridge", "mayor", "district", "hospital", "police", "court",
    "election", "vote", "market", "harbour", "railway", "tram", "park", "library", "museum", "festival", "farmers",
    "teachers", "nurses", "drivers", "union", "strike", "wage", "price", "rent", "housing", "flood", "storm",
    "heat", "winter", "summer", "water", "power", "grid", "station", "tower", "square", "church", "factory", "mine",
    "forest", "coast", "island", "village", "suburb", "centre", "report", "inquiry", "audit", "plan", "permit",
    "contract", "tender", "fund", "grant", "loan", "debt", "tax", "fee", "fine", "ruling", "appeal", "protest",
    "petition", "meeting", "hearing", "minister", "deputy", "official", "resident", "owner", "tenant", "worker",
    "student", "parent", "patient", "visitor", "tourist"
)
JITTER: Final = 0.8  # a gap under this share of the delay is more than the loopback's arrival jitter


@dataclass
class Story:
    """One article page: its words, and what the outlet changes between the passes."""

    title: str
    paragraphs: list[str]
    published: str
    views: int = 1000

    def body(self) -> bytes:
        ld = json.dumps({"@context": "https://schema.org", "@type": "NewsArticle", "headline": self.title,
                         "datePublished": self.published, "author": {"@type": "Person", "name": "Bench Writer"}})
        text = "".join(f"<p>{p}</p>" for p in (*self.paragraphs, f"{self.views:,} views"))
        return (f'<!doctype html><html><head><title>{self.title}</title><script type="application/ld+json">{ld}'
                f"</script></head><body><article><h1>{self.title}</h1>{text}</article></body></html>").encode()


def made_up(rng: random.Random, words: int) -> str:
    """A sentence of random words: every story its own text, so dedup stores each."""
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


class Outlet:
    """The loopback outlet: a feed of its newest stories, the stories, and a log of every request it served."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = random.Random(seed)
        self.stories: dict[str, Story] = {}
        self.log: list[tuple[float, str, int]] = []  # (arrival, time.monotonic(); path; status)
        self.in_flight = self.most_in_flight = 0
        self.lock = threading.Lock()
        self.server = serve_http(self.respond, keep_alive=True, name="revisit-outlet")
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def add(self, count: int) -> list[str]:
        """Publish `count` stories now; their paths."""
        published = datetime.now(UTC).isoformat(timespec="seconds")
        paths = []
        for _ in range(count):
            n = len(self.stories)
            paths.append(f"/news/{n}")
            self.stories[paths[-1]] = Story(f"Story {n}: {made_up(self.rng, 6)}",
                                            [made_up(self.rng, 30) for _ in range(4)], published)
        return paths

    def respond(self, path: str, request: Mapping[str, str]) -> Reply:
        """Answer and log one request; it is in flight until this returns (the reply starts right after)."""
        arrived = time.monotonic()
        with self.lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        status, headers, body = self._answer(path, request)
        with self.lock:
            self.in_flight -= 1
            self.log.append((arrived, path, status))
        return status, headers, body

    def _answer(self, path: str, request: Mapping[str, str]) -> Reply:
        if path == "/robots.txt":
            return 200, {"Content-Type": "text/plain"}, b"User-agent: *\nAllow: /\n"
        if path == "/feed.xml":
            newest = list(self.stories.items())[-50:][::-1]
            items = "".join(f"<item><title>{s.title}</title><link>{self.base}{p}</link>"
                            f"<pubDate>{format_datetime(datetime.fromisoformat(s.published))}</pubDate></item>"
                            for p, s in newest)
            return 200, {"Content-Type": "application/rss+xml"}, (
                f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>bench</title>'
                f"<link>{self.base}/</link>{items}</channel></rss>").encode()
        if path == "/sitemap.xml":
            urls = "".join(f"<url><loc>{self.base}{p}</loc></url>" for p in self.stories)
            return 200, {"Content-Type": "application/xml"}, (
                '<?xml version="1.0" encoding="UTF-8"?><urlset '
                f'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>').encode()
        story = self.stories.get(path)
        if story is None:
            return 404, {"Content-Type": "text/plain"}, b"not found"
        body = story.body()
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if request.get("if-none-match") == etag:
            return 304, {"ETag": etag}, b""
        return 200, {"Content-Type": "text/html; charset=utf-8", "ETag": etag}, body

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def daemon_pass(db: Path, source: Source, delay: float, limit: int | None, workers: int,
                pool: WorkerPool, sent: dict[str, float] | None = None,
                turns: list[float] | None = None) -> tuple[Summary, float]:
    """One run_source pass (kind "run") with a fresh Fetcher; its summary and wall time. Measurement hooks: `sent`
    gets the time.monotonic() each request was handed to httpx (its request hook), by URL path; `turns` the time
    each of the Fetcher's turns on the host ended (its private _wait_turn, wrapped)."""
    settings = Settings(user_agent=AGENT, per_host_delay=delay, concurrency=workers, max_retries=0)
    store, hosts = open_store(db), open_host_states(db)
    try:
        with Fetcher(settings, hosts) as fetcher:
            if sent is not None:
                fetcher._client.event_hooks["request"].append(
                    lambda request: sent.__setitem__(request.url.raw_path.decode(), time.monotonic()))
            if turns is not None:
                wait_turn = fetcher._wait_turn

                def turn(host: Any) -> None:
                    wait_turn(host)
                    turns.append(time.monotonic())  # when the Fetcher let a request start (next_start was set)
                fetcher._wait_turn = turn  # type: ignore[method-assign]
            started = time.perf_counter()
            summary = run_source(store, fetcher, source, kind="run", limit=limit, workers=workers,
                                 pool=pool)
            return summary, time.perf_counter() - started
    finally:
        store.close()
        hosts.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=1000, help="stored articles due for revisit (1000)")
    parser.add_argument("--new", type=int, default=20, help="new links in the feed for the measured pass (20)")
    parser.add_argument("--delay", type=float, default=0.05, help="per_host_delay of the measured pass (0.05 s)")
    parser.add_argument("--limit", type=int, default=500, help="the measured pass's page budget (500)")
    parser.add_argument("--workers", type=int, default=4, help="fetch threads (4); a parse pool of up to 2")
    parser.add_argument("--quick", action="store_true", help="100 articles: a smoke run in under 30 s")
    args = parser.parse_args()
    if args.quick:
        args.articles = 100
    logging.basicConfig(level=logging.ERROR)
    outlet = Outlet()
    pool = parse_pool(min(args.workers, 2))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            return measure(args, outlet, pool, Path(tmp) / "bench.db")
    finally:
        pool.close()
        outlet.close()


def measure(args: argparse.Namespace, outlet: Outlet, pool: WorkerPool, db: Path) -> int:
    """Store, schedule, wait, edit, add the new links, run the measured pass, print the table."""
    stored_paths = outlet.add(args.articles)
    published = datetime.fromisoformat(outlet.stories[stored_paths[0]].published).timestamp()
    # The schedule is placed below, once storing is over (revisit=(): the store pass places none).
    storing = Source(slug="bench", feeds=(f"{outlet.base}/feed.xml",), sitemaps=(f"{outlet.base}/sitemap.xml",),
                     domains=("127.0.0.1",), revisit=())
    started = time.perf_counter()
    stored, store_seconds = daemon_pass(db, storing, 0.0, None, args.workers, pool)
    # The schedule: the first step a second after now (counted from publication), the last a week on.
    steps = (time.time() - published + 1.0, LAST_STEP)
    source = dataclasses.replace(storing, revisit=steps)
    archive = open_store(db)
    try:
        placed = revisit.schedule_new(archive, source, time.time())
    finally:
        archive.close()
    for n, path in enumerate(stored_paths):  # the outlet edits a tenth, and moves a counter on another tenth
        if n % 10 == 3:
            outlet.stories[path].title += " (updated)"
        elif n % 10 == 7:
            outlet.stories[path].views += 17
    new_paths = set(outlet.add(args.new))
    time.sleep(max(0.0, published + steps[0] + 0.2 - time.time()))
    with outlet.lock:
        outlet.log.clear()
        outlet.most_in_flight = 0
    sent: dict[str, float] = {}
    turns: list[float] = []
    summary, seconds = daemon_pass(db, source, args.delay, args.limit, args.workers, pool, sent, turns)
    report(args, outlet, new_paths, set(stored_paths), stored, store_seconds, placed, summary, seconds, db, sent,
           turns)
    print(f"(whole bench {time.perf_counter() - started:.1f} s)")
    return 0


def kind_of(path: str, new_paths: set[str], stored_paths: set[str]) -> str:
    """What a request was for: a new page, a revisit, or discovery (feed, sitemap, robots.txt)."""
    return "new" if path in new_paths else "revisit" if path in stored_paths else path.lstrip("/")


def report(args: argparse.Namespace, outlet: Outlet, new_paths: set[str], stored_paths: set[str], stored: Summary,
           store_seconds: float, placed: int, summary: Summary, seconds: float, db: Path,
           sent: dict[str, float], turns: list[float]) -> None:
    """The table, from the server's request log of the measured pass and the pass's summary; the times the client
    sent the requests beside, to tell the Fetcher's pacing from the loopback's jitter on their way."""
    with outlet.lock:
        log = sorted(outlet.log)
    kinds = [kind_of(path, new_paths, stored_paths) for _, path, _ in log]
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(log)]
    client = [b - a for a, b in itertools.pairwise(sorted(sent.values()))]
    paced = [b - a for a, b in itertools.pairwise(sorted(turns))]
    least = min(range(len(gaps)), key=gaps.__getitem__, default=None)
    ten = [(log[i + 10][0] - log[i][0]) / 10 for i in range(len(log) - 10)]  # pacing over 10 gaps: no jitter
    new_at = [i for i, kind in enumerate(kinds) if kind == "new"]
    revisit_at = [i for i, kind in enumerate(kinds) if kind == "revisit"]
    statuses = Counter(status for (_, _, status), kind in zip(log, kinds, strict=True) if kind == "revisit")
    pages = len(new_at) + len(revisit_at)
    archive = open_store(db)
    try:
        never = archive.db.execute("SELECT a.url FROM revisits r JOIN articles a ON a.id = r.article_id"
                                   " WHERE r.checked_at IS NULL").fetchall()
        revisions = archive.db.execute("SELECT count(*) FROM revisions").fetchone()[0]
    finally:
        archive.close()
    left = sum(url.removeprefix(outlet.base) in stored_paths for (url,) in never)
    first_ok = bool(new_at) and (not revisit_at or max(new_at) < min(revisit_at))
    delay = args.delay
    rows = [
        ("stored first (pass 1, no delay)", f"{stored.new} of {args.articles} new in {store_seconds:.1f} s; "
                                            f"{placed} placed in the schedule by revisit.schedule_new"),
        ("new article pages requested", f"{len(new_at)} of {args.new}"),
        ("all new before the first revisit", f"{'yes' if first_ok else 'NO'} (last new: request "
                                             f"#{max(new_at, default=-1) + 1}, first revisit: "
                                             f"{f'#{min(revisit_at) + 1}' if revisit_at else 'none'}, "
                                             f"of {len(log)})"),
        ("smallest gap between request starts",
         "none" if least is None else f"{1000 * gaps[least]:.1f} ms = {gaps[least] / delay:.2f}x per_host_delay "
         f"({kinds[least]} -> {kinds[least + 1]}, request #{least + 2}; the gap before it "
         f"{f'{1000 * gaps[least - 1]:.1f} ms' if least else 'none'}; as sent: "
         f"{1000 * (sent[log[least + 1][1]] - sent[log[least][1]]):.1f} ms); "
         f"median {1000 * statistics.median(gaps):.1f} ms; "
         f"{sum(g < delay for g in gaps)} of {len(gaps)} under the delay, "
         f"{sum(g < JITTER * delay for g in gaps)} under {JITTER:.0%} of it"),
        ("smallest gap as sent (httpx request hook)",
         f"{1000 * min(client, default=0):.1f} ms = {min(client, default=0) / delay:.2f}x per_host_delay; "
         f"{sum(g < delay for g in client)} of {len(client)} under the delay"),
        ("smallest gap between the Fetcher's turns", f"{1000 * min(paced, default=0):.1f} ms = "
                                                     f"{min(paced, default=0) / delay:.2f}x per_host_delay; "
                                                     f"{sum(g < delay for g in paced)} of {len(paced)} under it"),
        ("smallest mean gap over 10 requests", f"{1000 * min(ten, default=0):.1f} ms = "
                                               f"{min(ten, default=0) / delay:.2f}x per_host_delay"),
        ("most requests in flight on the host", str(outlet.most_in_flight)),
        ("revisits: budget (limit - new) / made", f"{max(0, args.limit - args.new)} / {len(revisit_at)} "
                                                  f"(summary: {summary.revisited}); {left} stored never revisited"),
        ("pass", f"{len(log)} requests, {pages} article pages in {seconds:.1f} s: {pages / seconds:.1f} pages/s, "
                 f"{pages / seconds * delay:.2f}x the delay's ceiling ({1 / delay:.0f}/s)"),
        ("revisit answers (server)", ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items()))),
        ("revisit outcomes (pass)", f"unchanged {summary.unchanged}, updated {summary.updated} "
                                    f"({revisions} revisions stored), removed {summary.removed}, "
                                    f"rejected {sum(summary.rejected.values())}, failed {sum(summary.failed.values())}"
                                    f"; new {summary.new}, duplicate {summary.duplicate}"),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"revisit politeness: {args.articles} stored, {args.new} new, per_host_delay {delay} s, "
          f"limit {args.limit}, {args.workers} fetch threads")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    sys.exit(main())
