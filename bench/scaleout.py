"""Scale-out on PostgreSQL (issue 20): pages per second with 1, 2, 3 workers; store cost from 10k to 1M articles.

    python bench/scaleout.py [workers|store|all] [--rounds 3] [--workers 1,2,3] [--hosts 16] [--pages 40]
        [--concurrency 4] [--releasing [--release-every 1.0]] [--no-interleave] [--timeout 600]
        [--max 1000000] [--sizes 10000,100000,1000000] [--sample 2000] [--quick]

Both start a PostgreSQL 15 server of their own (tests/pg.py's Server: Debian's binaries, a temporary folder, a free
port, run as the `postgres` user when we are root; fsync off, as in the tests) and write only to temporary folders.

workers: `--hosts` generated outlets (bench/outlets.py, the learning bench's four designs under several seeds,
`--pages` article pages each) served from a child process on 127.0.0.1, one port each, so that each is a host of
its own (per_host_delay 0, robots.txt allows all). Per round and per configuration (1, 2, 3 worker processes,
alternating) a fresh database: `QueueRunner.run_pass(source, kind="backfill")` discovers each outlet's sitemap and
defers a job per page (untimed), then N real `ingest worker --concurrency C` processes are started and timed until
`pending_jobs` has nothing to do or doing. Pages per second = jobs done / that wall time (process start included);
each configuration's figure is a ratio to 1 worker in the same round. CPU (user + sys) per worker process tree
(the worker and its parse pool, from /proc, sampled every 0.2 s), of the PostgreSQL server (postmaster, its exited
backends, its live processes) and of the loopback server, over the same wall time. Jobs are deferred source after
source, as `ingest backfill` does; their Procrastinate priority is then set so that workers take the hosts in turn
(`--no-interleave`: as deferred; then most jobs in flight wait on one host). A gap of over 5 s without a job
ending is counted as stalled. `--releasing`: the workers are `ingest worker` with one change, made in their own
process (releasing_worker): their Fetcher gives back the leases of hosts it has not used for `--release-every`
seconds, that often, as pipeline.run_source does during a pass: the variants measured before the shipped worker
handed a host over as soon as none of its threads waits for it (Fetcher(hand_over=True); bench/README.md).

store: see bench/scaleout_store.py.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # pg.py: the tests' PostgreSQL server, reused

from outlets import DESIGNS, FIRST_DAY, Outlet, build, serve  # noqa: E402
from pg import PG_BIN, Server  # noqa: E402
from scaleout_store import add_arguments, bench_store, drop_database, quick  # noqa: E402
from throughput import busy_cpu_seconds, descendants  # noqa: E402

from ingest.config import Config, load_config  # noqa: E402
from ingest.crawl.fetch import Fetcher  # noqa: E402
from ingest.models import Window  # noqa: E402
from ingest.run.pipeline import RELEASE_EVERY  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
WINDOW = Window(FIRST_DAY - timedelta(days=1), None)
STALL = 5.0  # seconds without a job ending, from which the workers are counted as stalled


@contextmanager
def postgres() -> Iterator[Server]:
    """A PostgreSQL server for the bench, stopped and removed afterwards."""
    if not (PG_BIN / "initdb").exists():
        raise SystemExit(f"no PostgreSQL binaries in {PG_BIN} (Debian's postgresql 15; PG_BIN to point elsewhere)")
    with tempfile.TemporaryDirectory(prefix="scaleout-pg-") as folder:
        server = Server(Path(folder))
        server.start()
        try:
            yield server
        finally:
            server.stop()


# --- CPU from /proc -------------------------------------------------------------------------------------

def cpu_seconds(pid: int, *, reaped: bool = False) -> float:
    """user + sys of a process (with `reaped`: plus its children it has waited for); 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return sum(int(v) for v in fields[11:15 if reaped else 13]) / TICK


def postgres_cpu(server: Server) -> float:
    """The server's CPU so far: the postmaster, the backends it reaped, and its live processes."""
    postmaster = int((server.data / "postmaster.pid").read_text().split()[0])
    return cpu_seconds(postmaster, reaped=True) + sum(cpu_seconds(p) for p in descendants(postmaster, postmaster))


class TreeCpu:
    """CPU of a process tree whose members come and go: each process's last reading, kept after it ends."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.seen: dict[int, float] = {}

    def sample(self) -> None:
        for pid in descendants(self.pid, 0):
            self.seen[pid] = max(self.seen.get(pid, 0.0), cpu_seconds(pid))

    @property
    def main(self) -> float:
        return self.seen.get(self.pid, 0.0)

    @property
    def total(self) -> float:
        return sum(self.seen.values())


# --- the loopback outlets (a child process: their CPU is not the workers') ------------------------------

def outlets(hosts: int, pages: int) -> list[Outlet]:
    """`hosts` outlets: the four designs in turn, each seed a new set of articles."""
    return [build(DESIGNS[i % len(DESIGNS)], pages, seed=i // len(DESIGNS)) for i in range(hosts)]


def serve_outlets(hosts: int, pages: int) -> None:
    """Serve the outlets, print their base URLs (JSON), until stdin closes."""
    bases = [serve(outlet)[0] for outlet in outlets(hosts, pages)]
    print(json.dumps(bases), flush=True)
    sys.stdin.read()


def write_config(path: Path, hosts: list[Outlet], bases: list[str], concurrency: int) -> Config:
    """sources.toml: one generic-adapter source per host (sitemap discovery), no delay between requests."""
    lines = ["[settings]", "per_host_delay = 0", "timeout = 30", "max_retries = 0", f"concurrency = {concurrency}",
             'user_agent = "ingest-bench/1.0 (+https://example.org/contact)"', ""]
    for i, (outlet, base) in enumerate(zip(hosts, bases, strict=True)):
        lines += [f"[sources.{outlet.slug}_{i}]", 'adapter = "generic"', f'language = "{outlet.design.language}"',
                  f'sitemaps = ["{base}{outlet.design.sitemap}"]', ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return load_config(path)


def releasing_worker(config_path: str, dsn: str, concurrency: str, every: str) -> None:
    """`ingest worker`, its Fetcher giving back the leases of hosts it has not used for `every` seconds, that often
    (what pipeline.run_source does every second during a pass; run_worker does it only when a job ends)."""
    period = float(every)
    from ingest.run import queue

    class ReleasingFetcher(Fetcher):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.releasing = threading.Event()
            threading.Thread(target=self.release_every, daemon=True).start()

        def release_every(self) -> None:
            while not self.releasing.wait(period):
                self.release_idle(period)

        def close(self) -> None:
            self.releasing.set()
            super().close()

    queue.Fetcher = ReleasingFetcher  # type: ignore[attr-defined]  # the measured variant, in this child process only
    queue.run_worker(dsn, load_config(config_path), concurrency=int(concurrency))


# --- one measurement --------------------------------------------------------------------------------------

def defer_jobs(config: Config, dsn: str, *, interleave: bool) -> int:
    """Discovery and one job per page through QueueRunner, as `ingest backfill` on PostgreSQL; the jobs' count."""
    import psycopg

    from ingest.archive.postgres import open_postgres_host_states, open_postgres_store
    from ingest.run.queue import TASK_NAME, QueueRunner

    open_postgres_store(dsn).close()
    hosts = open_postgres_host_states(dsn)
    try:
        with Fetcher(config.settings, hosts) as fetcher, QueueRunner(config, dsn, fetcher) as runner:
            for source in config.sources.values():
                runner.run_pass(source, kind="backfill", window=WINDOW)
    finally:
        hosts.close()
    with psycopg.connect(dsn, autocommit=True) as conn:
        if interleave:  # Procrastinate takes the highest priority first: each host's first job, then its second...
            conn.execute("UPDATE procrastinate_jobs j SET priority = -r.n FROM (SELECT id, row_number() OVER"
                         " (PARTITION BY args->>'source' ORDER BY id) AS n FROM procrastinate_jobs) r"
                         " WHERE j.id = r.id")
        row = conn.execute("SELECT count(*) FROM procrastinate_jobs WHERE task_name = %s", [TASK_NAME]).fetchone()
    return int(row[0]) if row else 0


def run_workers(args: argparse.Namespace, server: Server, config_path: Path, dsn: str, workers: int,
                web_pid: int) -> dict[str, Any]:
    """N `ingest worker` processes until the queue is empty: wall time, jobs done, CPU by process."""
    import psycopg

    from ingest.run.queue import pending_jobs

    if args.releasing:
        command = [sys.executable, __file__, "--releasing-worker", str(config_path), dsn, str(args.concurrency),
                   str(args.release_every)]
    else:
        command = [sys.executable, "-m", "ingest", "--config", str(config_path), "--db", dsn, "worker",
                   "--concurrency", str(args.concurrency)]
    pg_before, web_before, machine_before = postgres_cpu(server), cpu_seconds(web_pid), busy_cpu_seconds()
    start = time.perf_counter()
    logs = [config_path.with_name(f"worker-{n}.log") for n in range(workers)]  # a pipe left unread would fill
    procs = [subprocess.Popen(command, cwd=config_path.parent, stdout=subprocess.DEVNULL, stderr=log.open("w"))
             for log in logs]
    trees = [TreeCpu(p.pid) for p in procs]
    stalled, progress, progressed, timed_out = 0.0, -1, start, False
    try:
        while True:
            for tree in trees:
                tree.sample()
            jobs = pending_jobs(dsn)
            if not jobs.get("todo") and not jobs.get("doing"):
                break
            now = time.perf_counter()
            if jobs.get("succeeded", 0) != progress:  # from the first job: a gap of over STALL s without one ending
                stalled += now - progressed if progress > 0 and now - progressed > STALL else 0.0
                progress, progressed = jobs.get("succeeded", 0), now
            if now - start > args.timeout:  # recorded as it stands: the jobs done by then
                timed_out = True
                stalled += now - progressed if progress > 0 and now - progressed > STALL else 0.0
                break
            if ended := [log for p, log in zip(procs, logs, strict=True) if p.poll() is not None]:
                raise RuntimeError(f"a worker ended: {ended[0].read_text()[-2000:]}")
            time.sleep(0.2)
        wall = time.perf_counter() - start
        for tree in trees:
            tree.sample()
        pg_cpu, web_cpu = postgres_cpu(server) - pg_before, cpu_seconds(web_pid) - web_before
        machine = busy_cpu_seconds() - machine_before  # every process's, ours and other users' of the machine
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(timeout=30)
    with psycopg.connect(dsn) as conn:
        stored = conn.execute("SELECT count(*) FROM articles").fetchone()
    done = jobs.get("succeeded", 0)
    return {"workers": workers, "wall": wall, "jobs": done, "failed": jobs.get("failed", 0),
            "stored": stored[0] if stored else 0, "pps": done / wall,
            "cpu": [round(t.total, 2) for t in trees], "cpu_main": [round(t.main, 2) for t in trees],
            "pg_cpu": pg_cpu, "web_cpu": web_cpu, "stalled": stalled,
            "timed_out": timed_out, "others": max(0.0, machine - sum(t.total for t in trees) - pg_cpu - web_cpu)}


def bench_workers(args: argparse.Namespace, server: Server) -> list[dict[str, Any]]:
    """Every round: each configuration on a fresh database, alternating; ratios to 1 worker in the same round."""
    counts = [int(n) for n in args.workers.split(",")]
    hosts = outlets(args.hosts, args.pages)
    web = subprocess.Popen([sys.executable, __file__, "--serve", str(args.hosts), str(args.pages)],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert web.stdout is not None
    assert web.stdin is not None
    bases: list[str] = json.loads(web.stdout.readline())
    results: list[dict[str, Any]] = []
    variant = f"releasing_worker (every {args.release_every} s): " if args.releasing else ""
    print(f"{args.hosts} hosts x {args.pages} pages, {variant}`ingest worker --concurrency {args.concurrency}` "
          "(parse pool of "
          f"{os.cpu_count()} each), {os.cpu_count()} CPUs, {args.rounds} rounds of {counts} workers", flush=True)
    try:
        with tempfile.TemporaryDirectory(prefix="scaleout-") as tmp:
            config_path = Path(tmp) / "sources.toml"
            config = write_config(config_path, hosts, bases, args.concurrency)
            for round_number in range(1, args.rounds + 1):
                order = counts if round_number % 2 else counts[::-1]  # alternate which goes first
                for workers in order:
                    dsn = server.create_database()
                    deferred = defer_jobs(config, dsn, interleave=args.interleave)
                    result = run_workers(args, server, config_path, dsn, workers, web.pid)
                    drop_database(server, dsn.rsplit("/", 1)[1])
                    result.update(round=round_number, deferred=deferred)
                    results.append(result)
                    print(f"round {round_number}: {workers} worker(s): {result['pps']:.1f} pages/s "
                          f"({result['jobs']}/{deferred} jobs in {result['wall']:.1f} s, {result['stored']} stored, "
                          f"{result['failed']} failed, stalled {result['stalled']:.0f} s"
                          f"{', TIMED OUT' if result['timed_out'] else ''}); CPU s per worker tree "
                          f"{result['cpu']} (main process {result['cpu_main']}), PostgreSQL {result['pg_cpu']:.1f}, "
                          "loopback server "
                          f"{result['web_cpu']:.1f}, other processes {result['others']:.1f}", flush=True)
    finally:
        web.stdin.close()
        web.wait(timeout=10)
    report_workers(results, counts)
    return results


def report_workers(results: list[dict[str, Any]], counts: list[int]) -> None:
    """The table: medians over rounds of pages/s, the ratio to the first configuration of the same round, CPU."""
    def median(n: int, value: Callable[[dict[str, Any]], float]) -> float:
        return statistics.median(value(r) for r in results if r["workers"] == n)

    base = [r["pps"] for r in results if r["workers"] == counts[0]]
    print(f"\n| workers | pages/s | ratio to {counts[0]} | per round | stalled s | CPU s per worker tree (its main "
          "process) | worker CPU ms/page | PostgreSQL CPU ms/page | cores busy: workers + PostgreSQL + server |"
          " cores busy: other processes |\n|---|---|---|---|---|---|---|---|---|---|")
    for n in counts:
        ratios = [r["pps"] / b for r, b in zip((r for r in results if r["workers"] == n), base, strict=True)]
        per_tree = statistics.median(c for r in results if r["workers"] == n for c in r["cpu"])
        per_main = statistics.median(c for r in results if r["workers"] == n for c in r["cpu_main"])
        print(f"| {n} | {median(n, lambda r: r['pps']):.1f} | {statistics.median(ratios):.2f}x | "
              f"{', '.join(f'{x:.2f}' for x in ratios)} | {median(n, lambda r: r['stalled']):.0f} | "
              f"{per_tree:.1f} ({per_main:.1f}) | {median(n, lambda r: 1000 * sum(r['cpu']) / r['jobs']):.1f} | "
              f"{median(n, lambda r: 1000 * r['pg_cpu'] / r['jobs']):.1f} | "
              f"{median(n, lambda r: (sum(r['cpu']) + r['pg_cpu'] + r['web_cpu']) / r['wall']):.2f} | "
              f"{median(n, lambda r: r['others'] / r['wall']):.2f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bench", nargs="?", choices=("workers", "store", "all"), default="all")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", default="1,2,3", help="worker processes per configuration (first: baseline)")
    parser.add_argument("--hosts", type=int, default=16, help="loopback outlets, one port (host) each")
    parser.add_argument("--pages", type=int, default=40, help="article pages per outlet (at least 12)")
    parser.add_argument("--concurrency", type=int, default=4, help="jobs at once per worker process")
    parser.add_argument("--no-interleave", dest="interleave", action="store_false",
                        help="leave the jobs in the order deferred (source after source)")
    parser.add_argument("--releasing", action="store_true",
                        help="workers that give back idle host leases every second (see releasing_worker)")
    parser.add_argument("--release-every", type=float, default=RELEASE_EVERY,
                        help=f"with --releasing: seconds between looks for idle leases (default {RELEASE_EVERY})")
    parser.add_argument("--timeout", type=float, default=600, help="longest wait for the queue to empty")
    parser.add_argument("--quick", action="store_true", help="a smoke run in under two minutes")
    parser.add_argument("--serve", nargs=2, type=int, help=argparse.SUPPRESS)
    parser.add_argument("--releasing-worker", nargs=4, help=argparse.SUPPRESS)
    add_arguments(parser)
    args = parser.parse_args()
    if args.serve:
        serve_outlets(*args.serve)
        return 0
    if args.releasing_worker:
        releasing_worker(*args.releasing_worker)
        return 0
    if args.quick:
        args.rounds, args.hosts, args.pages, args.workers, args.timeout = 1, 8, 12, "1,2", 30.0
        quick(args)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # the server stopped and its folder removed on SIGTERM too
    started = time.perf_counter()
    with postgres() as server:
        if args.bench in ("workers", "all"):
            bench_workers(args, server)
        if args.bench in ("store", "all"):
            bench_store(args, server)
    print(f"total {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
