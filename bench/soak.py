"""Soak: ingest many synthetic pages from a local server and watch memory stay flat.

    python bench/soak.py [--pages 40000] [--batch 500] [--every 4000] [--db PATH] [--max-growth 32]

A server process makes article pages on the fly (each unique, ~5 KB, with nav, share bar and a
related-links box) and lists them in sitemaps of 1,000 URLs served with an ETag. The crawler does
what the daemon does: `pipeline.run_source` in passes of --batch pages (the daemon's PAGES_PER_PASS),
one shared fetcher and parse pool, politeness delay 0, into a real SQLite file. Every --every pages
it prints the resident memory of this process and of the parse workers (from /proc), and pages/s.
Exit status 1 when this process's RSS grew by more than --max-growth MiB over the second half: the crawler
must not keep anything per page in memory. The first half is warm-up: SQLite's page cache (store.CACHE_MIB,
64 MiB) fills as the database outgrows it, by design, and so does RSS (by ~46 MiB over 20,000 pages).
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from ingest.archive import store
from ingest.archive.sqlite import open_store
from ingest.config import Settings, Source
from ingest.crawl.fetch import Fetcher
from ingest.demo.outlet import Reply, serve_http
from ingest.run.parsing import parse_pool
from ingest.run.pipeline import run_source

PER_SITEMAP = 1000
WORDS = ("council", "budget", "school", "road", "water", "minister", "energy", "winter", "grid", "city", "region",
         "court", "report", "village", "farmer", "harvest", "price", "market", "border", "train", "station",
         "bridge", "hospital", "doctor", "teacher", "student")


# --- the server (a child process, so its CPU and memory are not counted as the crawler's) ----------

def article(n: int) -> bytes:
    rnd = random.Random(n)
    paragraphs = "".join(f"<p>{' '.join(rnd.choice(WORDS) for _ in range(rnd.randint(30, 60)))}. Story {n}.</p>"
                         for _ in range(rnd.randint(5, 9)))
    ld = json.dumps({"@context": "https://schema.org", "@type": "NewsArticle", "headline": f"Soak story {n}",
                     "datePublished": f"2025-{1 + n % 12:02d}-{1 + n % 28:02d}T10:00:00+00:00",
                     "author": {"@type": "Person", "name": f"Writer {n % 37}"}})
    related = "".join(f'<li><a href="/news/2025/01/01/story-{(n + k) % 100000}">Related {k}</a></li>'
                      for k in range(1, 8))
    return (f"<!doctype html><html><head><title>Soak story {n} | Soak News</title>"
            f'<script type="application/ld+json">{ld}</script></head><body>'
            f'<header><nav><a href="/">Home</a><a href="/news">News</a></nav></header>'
            f'<div class="share-bar">Share on X, Facebook, Telegram</div>'
            f"<article><h1>Soak story {n}</h1>{paragraphs}</article>"
            f'<aside class="related"><ul>{related}</ul></aside><footer>(c) Soak News</footer>'
            f"</body></html>").encode()


def sitemap(base: str, k: int, pages: int) -> bytes:
    urls = "".join(f"<url><loc>{base}/news/2025/01/01/story-{n}</loc></url>"
                   for n in range(k * PER_SITEMAP, min(pages, (k + 1) * PER_SITEMAP)))
    return ('<?xml version="1.0" encoding="UTF-8"?>'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>').encode()


def serve(pages: int) -> None:
    def respond(path: str, request: Mapping[str, str]) -> Reply:
        base = f"http://{request['host']}"
        if path == "/robots.txt":
            return 200, {"Content-Type": "text/plain"}, b"User-agent: *\nAllow: /\n"
        if path.startswith("/sitemap-"):
            etag = f'"{pages}"'
            if request.get("if-none-match") == etag:
                return 304, {}, b""
            body = sitemap(base, int(path[9:].split(".")[0]), pages)
            return 200, {"Content-Type": "application/xml", "ETag": etag}, body
        if path.startswith("/news/2025/01/01/story-"):
            return 200, {"Content-Type": "text/html; charset=utf-8"}, article(int(path.rsplit("-", 1)[1]))
        return 404, {"Content-Type": "text/plain"}, b"not found"

    server = serve_http(respond, keep_alive=True)
    print(server.server_address[1], flush=True)
    sys.stdin.read()  # until the parent closes our stdin (or dies)


# --- the crawler ---------------------------------------------------------------------------------

def rss_mib(pid: int | str = "self") -> float:
    """Resident set size of a process in MiB, from /proc (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def soak(pages: int, batch: int, every: int, db_path: Path) -> list[float]:
    server = subprocess.Popen([sys.executable, __file__, "--serve", "--pages", str(pages)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    base = f"http://127.0.0.1:{server.stdout.readline().strip()}"
    source = Source(slug="soak", sitemaps=tuple(f"{base}/sitemap-{k}.xml"
                                                for k in range((pages + PER_SITEMAP - 1) // PER_SITEMAP)),
                    domains=("127.0.0.1",))
    settings = Settings(user_agent="ingest-soak/1.0 (+https://example.org/contact)", per_host_delay=0.0,
                        concurrency=4, timeout=10.0, max_retries=1)
    db = open_store(db_path)
    hosts = store.HostStore(db_path)
    done = 0
    samples: list[float] = []
    started = last_time = time.monotonic()
    last_done = 0
    print(f"{'pages':>7} {'s':>6} {'pages/s':>8} {'now p/s':>8} {'RSS MiB':>8} {'workers MiB':>12} {'db MiB':>7}")

    try:
        with Fetcher(settings, hosts) as fetcher, parse_pool() as pool:
            def sample() -> None:
                nonlocal last_time, last_done
                now = time.monotonic()
                pids = pool.pids()  # empty for a moment while a retired worker is replaced
                rss, workers = rss_mib(), (f"{sum(rss_mib(pid) for pid in pids):.1f}" if pids else "-")
                samples.append(rss)
                size = sum(p.stat().st_size for p in db_path.parent.glob(db_path.name + "*")) / 2**20
                print(f"{done:>7} {now - started:>6.1f} {done / (now - started):>8.1f} "
                      f"{(done - last_done) / (now - last_time):>8.1f} {rss:>8.1f} {workers:>12} {size:>7.1f}",
                      flush=True)
                last_time, last_done = now, done

            def on_outcome(outcome: str) -> None:
                nonlocal done
                done += 1
                if done % every == 0:
                    sample()

            while True:
                summary = run_source(db, fetcher, source, kind="soak", limit=batch, workers=settings.concurrency,
                                     pool=pool, on_outcome=on_outcome)
                if not summary.counts()["new"] + summary.counts()["failed"] + summary.counts()["rejected"]:
                    break
            if done % every:
                sample()
    finally:
        hosts.close()
        db.close()
        server.stdin.close() if server.stdin else None
        server.wait(timeout=10)
    elapsed = time.monotonic() - started
    counts = store.open_db(db_path)
    stored = counts.execute("SELECT count(*) FROM articles").fetchone()[0]
    reasons = counts.execute("SELECT outcome, reason, count(*) FROM fetches GROUP BY 1, 2").fetchall()
    counts.close()
    print(f"\n{done} pages in {elapsed:.1f} s: {done / elapsed:.1f} pages/s; {stored} articles stored; "
          f"fetch outcomes {reasons}")
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=40000, help="pages to ingest (default 40000)")
    parser.add_argument("--batch", type=int, default=500, help="pages per pass, as the daemon (default 500)")
    parser.add_argument("--every", type=int, default=4000, help="print a sample every N pages (default 4000)")
    parser.add_argument("--db", type=Path, help="database file (default: a temporary one)")
    parser.add_argument("--max-growth", type=float, default=32.0,
                        help="allowed RSS growth over the second half, in MiB (default 32)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.pages)
        return 0
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        samples = soak(args.pages, args.batch, args.every, args.db or Path(tmp) / "soak.db")
    if len(samples) < 4:
        return 0
    growth = samples[-1] - samples[len(samples) // 2 - 1]
    print(f"RSS growth over the second half (after the page cache filled): {growth:+.1f} MiB "
          f"(allowed {args.max_growth:g})")
    return 1 if growth > args.max_growth else 0


if __name__ == "__main__":
    sys.exit(main())
