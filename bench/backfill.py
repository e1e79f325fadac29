"""Backfill from WARC: articles per second from a local WARC vs from loopback HTTP, and memory on a 1 GB WARC.

    python bench/backfill.py [--corpus ../shared/corpus] [--rounds 3] [--workers 4] [--size-mb 1024] [--quick]

The 258 fundus pages (real articles from 181 publishers) are served by the loopback server of
bench/throughput.py (a child process) and also written, at the same URLs, into a WARC file as our archive
writes one (a request and a response record per page, each its own gzip member). Each round, alternating:

- http: `pipeline.run_source` over the served sitemap into a fresh SQLite file (bench/throughput.py's pass:
  fetch threads, the parse pool, dedup, FTS, fetch log, raw pages to WARC);
- warc: `replay.replay` over the WARC file into a fresh SQLite file, with the same pool size, the same source
  and the raw pages archived too: what `ingest backfill --warc` does.

Each runs in a fresh interpreter (a cold `ingest backfill`, forkserver start included); pages per second =
pages handled / wall time; the report prints medians and the median of the per-round ratios warc/http.

Memory: a WARC of --size-mb (default 1024) is written to a temporary folder (deleted after): the same pages
again and again, one record in 50 at a URL of the source (parsed and stored, as duplicates of each other),
the rest at foreign hosts (read and passed over, as most of a CC-NEWS file is for a few outlets). It is
replayed in a fresh process while this one sums the RSS of its process tree (the process, forkserver and
workers) every 50 ms; the baseline is the peak of the warc rounds above, over a 20 MiB file. `--quick`: one
round, 64 MiB.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import throughput
from throughput import load_pages, measured

from ingest.archive.sqlite import open_store
from ingest.archive.warc import pack
from ingest.config import Settings, Source
from ingest.models import Page
from ingest.run.parsing import parse_pool
from ingest.run.pipeline import raw_archive
from ingest.run.replay import replay

ROOT = Path(__file__).resolve().parent.parent
ROUTED_EVERY = 50  # one record in this many belongs to the source in the 1 GB file


def source_for(base: str) -> Source:
    """The source of bench/throughput.py's pass: the generic adapter on the loopback server."""
    return Source(slug="fundus", adapter="generic", sitemaps=(f"{base}/sitemap.xml",), domains=("127.0.0.1",))


def crawl_dates(corpus: Path) -> dict[str, datetime]:
    """URL path (as load_pages keys it) -> when fundus crawled the page: the records' WARC-Date.

    A real archive's date comes after the page's publication; a made-up one before it sent a third of the pages
    down the date finder's slowest path (a page dated after its fetch is suspect) and halved the rate."""
    with (corpus / "fundus" / "INDEX.tsv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return {f"/{row['group']}/{row['html'].removesuffix('.gz')}":
            datetime.fromisoformat(row["crawl_date"]).replace(tzinfo=UTC) for row in rows}


def write_warc(path: Path, pages: dict[str, bytes], dates: dict[str, datetime], base: str, *,
               size: int | None = None) -> int:
    """The pages at base + their path (or, up to `size` bytes, mostly at foreign hosts); returns records written."""
    written = 0
    with path.open("wb") as out:
        items = list(pages.items())
        while True:
            for url_path, body in items:
                if size is None:
                    url = f"{base}{url_path}"
                elif written % ROUTED_EVERY == 0:
                    url = f"{base}/r{written}{url_path}"
                else:
                    url = f"http://foreign{written % 97}.example/{written}{url_path}"
                page = Page(url=url, requested_url=url, status=200, headers={"content-type": "text/html"},
                            body=body, fetched_at=dates[url_path])
                packed = pack(page, {"User-Agent": "ingest-bench"})
                out.write(packed.request + packed.response)
                written += 1
                if size is not None and out.tell() >= size:
                    return written
            if size is None:
                return written


def run_replay(warc: Path, base: str, workers: int) -> dict[str, float]:
    """In the child: one cold replay of `warc` into a fresh database, raw pages archived as by default."""
    settings = Settings(concurrency=workers)
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "bench.db"
        db = open_store(db_path)
        try:
            with parse_pool(min(workers, os.cpu_count() or 1)) as pool:
                print("start", flush=True)  # the parent's memory probes begin
                start = time.perf_counter()
                done = replay(db, [warc], [source_for(base)], pool=pool, archive=raw_archive(db_path, settings))
                elapsed = time.perf_counter() - start
            stored = db.db.execute("SELECT count(*) FROM articles").fetchone()[0]
        finally:
            db.close()
    handled = sum(sum(s.counts()[k] for k in ("new", "duplicate", "updated", "unchanged", "rejected", "failed"))
                  for s in done.summaries)
    return {"pages": handled, "seconds": elapsed, "pps": handled / elapsed, "stored": stored,
            "records": done.stats.records, "mib": done.stats.bytes / 2**20, "foreign": done.stats.foreign}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--rounds", type=int, default=3, help="measurements of each kind (default 3)")
    parser.add_argument("--workers", type=int, default=4, help="fetch threads; the pool is min(this, CPUs)")
    parser.add_argument("--size-mb", type=int, default=1024, help="size of the WARC streamed for memory (MiB)")
    parser.add_argument("--quick", action="store_true", help="one round and a 64 MiB WARC")
    parser.add_argument("--replay", nargs=2, metavar=("WARC", "BASE_URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    if args.replay:
        print(json.dumps(run_replay(Path(args.replay[0]), args.replay[1], args.workers)))
        return 0
    if args.quick:
        args.rounds, args.size_mb = 1, 64
    pages = load_pages(args.corpus)
    server = subprocess.Popen([sys.executable, throughput.__file__, "--serve", "--corpus", str(args.corpus)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    assert server.stdin is not None
    base = f"http://127.0.0.1:{server.stdout.readline().strip()}"
    http_runs: list[dict[str, float]] = []
    warc_runs: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="ingest-bench-") as tmp:
        small = Path(tmp) / "fundus.warc.gz"
        dates = crawl_dates(args.corpus)
        write_warc(small, pages, dates, base)
        small_mib = small.stat().st_size / 2**20
        print(f"{len(pages)} pages, {sum(map(len, pages.values())) / 2**20:.1f} MiB; WARC {small_mib:.1f} MiB; "
              f"{os.cpu_count()} CPUs; workers={args.workers}, {args.rounds} rounds (http, then warc)", flush=True)
        replay_cmd = [sys.executable, __file__, "--workers", str(args.workers), "--replay"]
        try:
            for n in range(1, args.rounds + 1):
                http_runs.append(throughput.run_ours_child(args, base, server.pid))
                warc_runs.append(measured([*replay_cmd, str(small), base], server.pid))
                h, w = http_runs[-1], warc_runs[-1]
                print(f"round {n}: http {h['pps']:.1f} pages/s ({h['pages']:.0f} in {h['seconds']:.2f} s, "
                      f"{h['stored']:.0f} stored, peak tree RSS {h['peak_tree_mib']:.0f} MiB) | "
                      f"warc {w['pps']:.1f} pages/s "
                      f"({w['pages']:.0f} in {w['seconds']:.2f} s, {w['stored']:.0f} stored, peak tree RSS "
                      f"{w['peak_tree_mib']:.0f} MiB) | ratio {w['pps'] / h['pps']:.2f}x", flush=True)
        finally:
            server.stdin.close()
            server.wait(timeout=10)
        big = Path(tmp) / "big.warc.gz"
        start = time.perf_counter()
        records = write_warc(big, pages, dates, base, size=args.size_mb * 2**20)
        print(f"wrote {big.stat().st_size / 2**20:.0f} MiB, {records} records ({records // ROUTED_EVERY + 1} of the "
              f"source) in {time.perf_counter() - start:.0f} s; streaming it", flush=True)
        large = measured([*replay_cmd, str(big), base], 0)
        big.unlink()

    def med(runs: list[dict[str, float]], key: str) -> float:
        return statistics.median(r[key] for r in runs)

    ratio = statistics.median(w["pps"] / h["pps"] for h, w in zip(http_runs, warc_runs, strict=True))
    print()
    print(f"http (run_source from loopback):    {med(http_runs, 'pps'):.1f} pages/s (median)")
    print(f"warc (replay of a local WARC file): {med(warc_runs, 'pps'):.1f} pages/s (median)")
    print(f"ratio warc/http (median of per-round ratios): {ratio:.2f}x")
    print(f"{large['mib']:.0f} MiB WARC streamed: {large['records']:.0f} records ({large['foreign']:.0f} foreign, "
          f"{large['pages']:.0f} parsed, {large['stored']:.0f} stored) in {large['seconds']:.1f} s, "
          f"{large['mib'] / large['seconds']:.0f} MiB/s")
    base_rss, base_pss = med(warc_runs, "peak_tree_mib"), med(warc_runs, "peak_pss_mib")
    print(f"peak memory, whole tree: {large['peak_tree_mib']:.0f} MiB RSS, {large['peak_pss_mib']:.0f} MiB PSS; on the "
          f"{small_mib:.0f} MiB file {base_rss:.0f} MiB RSS, {base_pss:.0f} MiB PSS (median): ratio "
          f"{large['peak_tree_mib'] / base_rss:.2f}x RSS, {large['peak_pss_mib'] / base_pss:.2f}x PSS; peak RSS in the "
          f"first tenth of the stream {large['first_tenth_mib']:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
