"""Throughput: end-to-end ingestion (fetch, clean, store) vs plain `trafilatura.extract` in one process.

    python bench/throughput.py [--corpus ../shared/corpus] [--rounds 3] [--workers 4] [--pages N]

The 258 fundus pages (real articles from 181 publishers, gzip in the corpus) are decompressed and served,
each at its own path, by a small HTTP server in a child process on 127.0.0.1 (robots.txt allows all, a
sitemap lists every page, Content-Type `text/html` with no charset, so the fetcher finds the charset as
it would on the web). Each round measures, alternating, and the report prints medians over the rounds:

- ours: `pipeline.run_source` over one "generic" source (per_host_delay 0) into a fresh SQLite file:
  discovery, fetch threads, parsing in the forkserver worker pool (started by the pass, as a cold
  `ingest backfill` does), junk rules, dedup, FTS and fetch-log writes. Pages per second = pages / wall time.
- plain: `trafilatura.extract(html)` (defaults) over the same bytes, decoded beforehand (outside the
  timer), one page after the other in this process.
- cleaning per page: `parse_page` in this process (adapter pre-clean + extraction + junk rules) vs
  `trafilatura.extract` on the same decoded page, both timed per page; median of per-page times and the
  median of the per-page ratio ours/plain.

Peak memory of ours is the whole process tree minus the server: a fresh interpreter running the pass plus
its descendants (forkserver, parse workers): RSS summed from /proc/<pid>/statm every 50 ms, PSS from
smaps_rollup every 0.5 s (RSS counts the pages workers share with the forkserver once per process; PSS splits them),
probed by the benchmark's own process, so the probes take none of the measured process's CPU.
The machine is shared: the report prints how many cores other processes kept busy during the plain runs.
Overlap: the number of parse calls in flight in the pool, sampled every 10 ms (time-weighted mean and
share of the pass with every worker busy), shows whether fetching keeps the workers fed.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import gzip
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

from ingest.archive import store
from ingest.archive.sqlite import open_store
from ingest.clean.adapters import get_adapter
from ingest.clean.parse import parse_page
from ingest.config import Settings, Source
from ingest.crawl.fetch import Fetcher
from ingest.decoding import decode_html, page_text
from ingest.demo.outlet import Reply, serve_http
from ingest.models import Page, Rejected
from ingest.run.parsing import PARSE_WORKER_TASKS, parse_preload
from ingest.run.pipeline import raw_archive, run_source
from ingest.run.workers import WorkerPool

T = TypeVar("T")
ROOT = Path(__file__).resolve().parent.parent


def load_pages(corpus: Path, limit: int | None = None) -> dict[str, bytes]:
    """URL path -> decompressed page bytes, from the fundus INDEX.tsv."""
    pages: dict[str, bytes] = {}
    with (corpus / "fundus" / "INDEX.tsv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            raw = gzip.decompress((corpus / "fundus" / row["group"] / row["html"]).read_bytes())
            pages[f"/{row['group']}/{row['html'].removesuffix('.gz')}"] = raw
    return dict(list(pages.items())[:limit]) if limit else pages


# --- the server (a child process: its CPU is not ours, as a remote site's would not be) -----------------

def serve(corpus: Path, limit: int | None) -> None:
    pages = load_pages(corpus, limit)

    def respond(path: str, request: Mapping[str, str]) -> Reply:
        if path == "/robots.txt":
            return 200, {"Content-Type": "text/plain"}, b"User-agent: *\nAllow: /\n"
        if path == "/sitemap.xml":
            urls = "".join(f"<url><loc>http://{request['host']}{p}</loc></url>" for p in pages)
            return 200, {"Content-Type": "application/xml"}, (
                '<?xml version="1.0" encoding="UTF-8"?><urlset '
                f'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>').encode()
        if path in pages:
            return 200, {"Content-Type": "text/html"}, pages[path]
        return 404, {"Content-Type": "text/plain"}, b"not found"

    server = serve_http(respond, keep_alive=True)
    print(server.server_address[1], flush=True)
    sys.stdin.read()  # until the parent closes our stdin (or dies)


# --- measurements --------------------------------------------------------------------------------------

def memory_kib(pid: int, *, pss: bool) -> int:
    """RSS (from /proc/<pid>/statm: cheap) or PSS (from smaps_rollup: walks the page tables) in KiB; 0 if gone."""
    try:
        if not pss:
            return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, IndexError, ValueError):
        pass
    return 0


def descendants(pid: int, skip: int) -> list[int]:
    """pid and every process below it, except the subtree of `skip` (from /proc/<pid>/task/*/children)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        if current == skip:
            continue
        found.append(current)
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


class Sampler(Generic[T]):
    """Runs `probe` every `every` seconds in a thread until stopped; keeps the values."""

    def __init__(self, probe: Callable[[], T], every: float) -> None:
        self.values: list[T] = []
        self._probe, self._every, self._stop = probe, every, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sampler[T]:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            self.values.append(self._probe())


class CountingPool(WorkerPool):
    """The parse pool, counting calls in flight (a measurement hook, not used by ingest)."""

    waiting = 0  # calls made, holding a worker or waiting for one

    def call(self, function: Callable[..., Any], *args: Any, timeout: float) -> Any:
        self.waiting += 1  # += on an int attribute under the GIL: good enough for a sampled gauge
        try:
            return super().call(function, *args, timeout=timeout)
        finally:
            self.waiting -= 1

    @property
    def in_flight(self) -> int:
        """Calls that hold a worker (sent to it or about to be)."""
        return len(self._busy)


def run_ours(base: str, workers: int) -> dict[str, float]:
    """One cold pass of run_source over the served sitemap into a fresh database."""
    source = Source(slug="fundus", adapter="generic", sitemaps=(f"{base}/sitemap.xml",), domains=("127.0.0.1",))
    settings = Settings(user_agent="ingest-bench/1.0 (+https://example.org/contact)", per_host_delay=0.0,
                        concurrency=workers, timeout=30.0, max_retries=0)
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "bench.db"
        db, hosts = open_store(db_path), store.HostStore(db_path)
        # What parse_pool builds (size, worker lifetime, preloaded modules), counting calls in flight.
        pool = CountingPool(min(workers, os.cpu_count() or 1), max_tasks=PARSE_WORKER_TASKS,
                            preload=parse_preload())
        # The pool gauges every 10 ms, in this process (they read the pool); memory is probed from the parent.
        gauges = Sampler(lambda: (pool.in_flight, pool.waiting), 0.01)
        try:
            with Fetcher(settings, hosts) as fetcher, gauges:
                print("start", flush=True)  # the parent's memory probes begin
                start = time.perf_counter()
                # The raw pages are archived as by default (db/warc beside the database): part of the pass's cost.
                summary = run_source(db, fetcher, source, kind="bench", workers=workers, pool=pool,
                                     archive=raw_archive(db_path, settings))
                elapsed = time.perf_counter() - start
        finally:
            pool.close()
            hosts.close()
            stored = db.db.execute("SELECT count(*) FROM articles").fetchone()[0]
            db.close()
    busy = [b for b, _ in gauges.values] or [0]
    handled = sum(summary.counts()[k] for k in ("new", "duplicate", "updated", "unchanged", "rejected", "failed"))
    return {"pages": handled, "seconds": elapsed, "pps": handled / elapsed, "stored": stored,
            "rejected": sum(summary.rejected.values()), "failed": sum(summary.failed.values()),
            "in_flight": statistics.fmean(busy), "asked": statistics.fmean(a for _, a in gauges.values or [(0, 0)]),
            "saturated": sum(v >= pool.size for v in busy) / len(busy)}


def run_ours_child(args: argparse.Namespace, base: str, server_pid: int) -> dict[str, float]:
    """run_ours in a fresh interpreter, so the tree's RSS holds no benchmark data (corpus, decoded pages)."""
    return measured([sys.executable, __file__, "--ours", base, "--workers", str(args.workers)], server_pid)


def measured(cmd: list[str], skip: int) -> dict[str, float]:
    """Run a child that prints "start", then its JSON result; its process tree's peak RSS and PSS (not counting
    process `skip`, a server it shares the tree with).

    Its memory is probed from here, outside the measured process (a probe inside would take the CPU it
    measures): RSS every 50 ms from statm, PSS (a page-table walk per process) every 500 ms, from the line
    "start" until the child reports."""
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    tree = Sampler(lambda: sum(memory_kib(p, pss=False) for p in descendants(child.pid, skip)) / 1024, 0.05)
    pss = Sampler(lambda: sum(memory_kib(p, pss=True) for p in descendants(child.pid, skip)) / 1024, 0.5)
    line = child.stdout.readline()
    if line.strip() == "start":
        with tree, pss:
            line = child.stdout.readline()
    rest = child.stdout.read()
    if child.wait() != 0:
        raise RuntimeError(f"the measured run failed (exit {child.returncode}): {' '.join(cmd)}")
    result: dict[str, float] = json.loads((line + rest).strip().splitlines()[-1])
    result["peak_tree_mib"] = max(tree.values or [0.0])
    result["first_tenth_mib"] = max(tree.values[: max(1, len(tree.values) // 10)] or [0.0])  # flat: about the peak
    result["peak_pss_mib"] = max(pss.values or [0.0])
    return result


def busy_cpu_seconds() -> float:
    """CPU seconds the whole machine spent busy since boot (all processes, all cores), from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")  # minus idle and iowait


def run_plain(htmls: list[str]) -> dict[str, float]:
    """Plain extraction, one page after the other; also how many cores other processes kept busy meanwhile."""
    import trafilatura  # here, not at the top: the --ours child (an `ingest backfill`) never imports it itself

    busy, own = busy_cpu_seconds(), time.process_time()
    start = time.perf_counter()
    for html in htmls:
        trafilatura.extract(html)
    elapsed = time.perf_counter() - start
    others = (busy_cpu_seconds() - busy - (time.process_time() - own)) / elapsed
    return {"pages": len(htmls), "seconds": elapsed, "pps": len(htmls) / elapsed, "others": max(0.0, others)}


def clean_per_page(pages: dict[str, bytes], htmls: list[str]) -> tuple[list[float], list[float]]:
    """Per page: (parse_page seconds, trafilatura.extract seconds), alternating on each page."""
    import trafilatura
    adapter = get_adapter("generic")
    source = Source(slug="fundus", adapter="generic", domains=("127.0.0.1",))
    ours, plain = [], []
    for (path, raw), html in zip(pages.items(), htmls, strict=True):
        url = f"http://127.0.0.1{path}"
        page = Page(url=url, requested_url=url, status=200, headers={"content-type": "text/html"}, body=raw,
                    fetched_at=datetime.now(UTC))
        assert page_text(page) == html  # decoded outside the timer, as plain's input is
        start = time.perf_counter()
        with contextlib.suppress(Rejected):
            parse_page(adapter, source, page)
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        trafilatura.extract(html)
        plain.append(time.perf_counter() - start)
    return ours, plain


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--rounds", type=int, default=3, help="measurements of each kind (default 3)")
    parser.add_argument("--workers", type=int, default=4, help="run_source workers (fetch threads; default 4)")
    parser.add_argument("--pages", type=int, default=None, help="only the first N pages (default all)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--ours", metavar="BASE_URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.corpus, args.pages)
        return 0
    logging.basicConfig(level=logging.ERROR)
    if args.ours:
        print(json.dumps(run_ours(args.ours, args.workers)))
        return 0
    pages = load_pages(args.corpus, args.pages)
    htmls = [decode_html(raw, None)[0] for raw in pages.values()]
    cmd = [sys.executable, __file__, "--serve", "--corpus", str(args.corpus)]
    server = subprocess.Popen(cmd + (["--pages", str(args.pages)] if args.pages else []),
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    assert server.stdin is not None
    base = f"http://127.0.0.1:{server.stdout.readline().strip()}"
    print(f"{len(pages)} pages, {sum(map(len, pages.values())) / 2**20:.1f} MiB; {os.cpu_count()} CPUs; "
          f"run_source workers={args.workers}, {args.rounds} rounds (ours, then plain)")
    ours_runs: list[dict[str, float]] = []
    plain_runs: list[dict[str, float]] = []
    clean_ours: list[list[float]] = []
    clean_plain: list[list[float]] = []
    try:
        run_plain(htmls[:10])  # warm imports and trafilatura's lazily built structures
        for n in range(1, args.rounds + 1):
            ours_runs.append(run_ours_child(args, base, server.pid))
            plain_runs.append(run_plain(htmls))
            o, p = ours_runs[-1], plain_runs[-1]
            print(f"round {n}: ours {o['pps']:.1f} pages/s ({o['pages']:.0f} pages in {o['seconds']:.2f} s, "
                  f"{o['stored']:.0f} stored, {o['rejected']:.0f} rejected, {o['failed']:.0f} failed; "
                  f"peak tree RSS {o['peak_tree_mib']:.0f} MiB, PSS {o['peak_pss_mib']:.0f} MiB; "
                  f"parse calls holding a worker {o['in_flight']:.2f}, "
                  f"made {o['asked']:.2f}, "
                  f"all workers busy {100 * o['saturated']:.0f}%) | plain {p['pps']:.1f} pages/s "
                  f"({p['seconds']:.2f} s; other processes kept {p['others']:.2f} cores busy meanwhile)", flush=True)
            ours_t, plain_t = clean_per_page(pages, htmls)
            clean_ours.append(ours_t)
            clean_plain.append(plain_t)
    finally:
        server.stdin.close()
        server.wait(timeout=10)

    def med(runs: list[dict[str, float]], key: str) -> float:
        return statistics.median(r[key] for r in runs)

    ratio = statistics.median(o["pps"] / p["pps"] for o, p in zip(ours_runs, plain_runs, strict=True))
    per_page_ours = [statistics.median(ts) for ts in zip(*clean_ours, strict=True)]  # per page, over rounds
    per_page_plain = [statistics.median(ts) for ts in zip(*clean_plain, strict=True)]
    ratios = [o / p for o, p in zip(per_page_ours, per_page_plain, strict=True) if p > 0]
    print()
    print(f"end-to-end, ours (run_source, {args.workers} fetch threads, pool of "
          f"{min(args.workers, os.cpu_count() or 1)}): {med(ours_runs, 'pps'):.1f} pages/s (median)")
    print(f"plain trafilatura.extract, one process:           {med(plain_runs, 'pps'):.1f} pages/s (median)")
    print(f"ratio ours/plain (median of per-round ratios):   {ratio:.2f}x   (target >= 1.6x)")
    print(f"peak memory, ours, whole tree (a fresh `run_source` process + forkserver + workers; RSS from statm "
          f"every 50 ms, PSS from smaps_rollup every 0.5 s): RSS {med(ours_runs, 'peak_tree_mib'):.0f} MiB median, "
          f"{max(r['peak_tree_mib'] for r in ours_runs):.0f} max (counts pages shared with the forkserver once per "
          f"process); PSS {med(ours_runs, 'peak_pss_mib'):.0f} MiB median   (target < 400 MB)")
    print(f"other processes kept {med(plain_runs, 'others'):.2f} of {os.cpu_count()} cores busy during the plain runs")
    print(f"overlap: parse calls holding a worker {med(ours_runs, 'in_flight'):.2f} of "
          f"{min(args.workers, os.cpu_count() or 1)}, parse calls made (incl. waiting for a worker) "
          f"{med(ours_runs, 'asked'):.2f} (time-weighted means); all workers busy "
          f"{100 * med(ours_runs, 'saturated'):.0f}% of the pass")
    print(f"cleaning per page, in-process, median over pages of per-page medians: ours (parse_page) "
          f"{1000 * statistics.median(per_page_ours):.1f} ms, plain (trafilatura.extract) "
          f"{1000 * statistics.median(per_page_plain):.1f} ms; per-page ratio ours/plain median "
          f"{statistics.median(ratios):.2f}, p90 {statistics.quantiles(ratios, n=10)[-1]:.2f}; "
          f"ours faster on {sum(r <= 1 for r in ratios)}/{len(ratios)} pages; totals ours "
          f"{sum(per_page_ours):.2f} s, plain {sum(per_page_plain):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
