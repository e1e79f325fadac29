"""Workers on PostgreSQL: one Procrastinate task per frontier link (issue 20, "Workers").

The archive's database also holds Procrastinate's tables (`apply_queue_schema`: made once, under an advisory lock,
so any number of processes may call it). A pass (`QueueRunner.run_pass`) is the source's discovery into the
frontier, as pipeline.run_source's, then one `fetch_link` job deferred per pending link, its `queueing_lock` the
link's URL key: a link waiting in the queue is not queued a second time (AlreadyEnqueued is counted, not raised).
Workers (`run_worker`) take the jobs, N at a time, and handle each link with pipeline's own per-link steps:
`fetch_article` (one Fetcher per worker, politeness through the hosts' leases in PostgreSQL: PostgresHostStore;
a parse pool per worker) and `record` (dedup, article, topics, fetch log, frontier state in one transaction).

Two more tasks share the queue, taken before the links waiting (priority FIRST): `discover`, a source's discovery
pass run in a worker (queue_pass: the same discovery, then a job per pending link), which the scheduler (`ingest run`
on PostgreSQL: scheduler.Daemon with QueuedPasses) defers when the source's interval falls due, one waiting per
source at most; and `replay_warc`, one WARC file's records through replay.replay (`ingest backfill --warc`: one job
per file, resumable by the file's cursor in the store; a worker stopping gives it back and the next continues).

Claiming is the store's, not the queue's: a job first claims its link (store.claim_links). A link that is settled
or claimed by someone else is left alone, so a URL deferred twice (once it has started, the queueing lock no
longer holds) is still fetched once. A job that fails (the database went away) gives its claim back and the link
stays pending for the next pass; Procrastinate does not retry it.

Stopping (SIGTERM, SIGINT: `run_worker`'s own handlers) drains within DRAIN_SECONDS: the worker takes no more jobs
and cancels its Fetcher, so a job waiting on a host's politeness delay stops at once (GivenBack: Procrastinate
puts that job back in the queue, the only exception it retries); pages in flight may finish until the deadline,
then the jobs still running are given back (their claims released, their jobs `todo` again) and run_worker
returns False: the caller ends the process (their threads cannot be interrupted).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final

import procrastinate
import psycopg
from procrastinate import exceptions as queue_errors
from procrastinate.schema import SchemaManager

from ingest.archive.postgres import PostgresStore, connect_reason, open_postgres_host_states, open_postgres_store
from ingest.archive.warc import WarcArchive, WarcError
from ingest.clean.adapters import get_adapter
from ingest.config import Config, Source
from ingest.crawl.fetch import Fetcher
from ingest.models import OPEN_WINDOW, Link, Window, holder_name
from ingest.run import replay, revisit
from ingest.run.parsing import PARSE_TIMEOUT, parse_pool
from ingest.run.pipeline import (
    RELEASE_EVERY,
    REVISITING_KINDS,
    Summary,
    discover_pending,
    fetch_article,
    fetch_revisit,
    learned_for,
    record,
    record_revisit,
)
from ingest.run.sweep import heartbeat_for, job_holder, prune_jobs, sweep, sweep_every
from ingest.run.workers import WorkerPool
from ingest.storage import Revisit
from ingest.urls import url_key

log = logging.getLogger("ingest")

QUEUE: Final = "ingest-links"
TASK_NAME: Final = "ingest.fetch_link"
DISCOVER_TASK: Final = "ingest.discover"  # a source's discovery pass, deferred by the scheduler (`ingest run`)
WARC_TASK: Final = "ingest.replay_warc"  # one WARC file's records through the pipeline (`ingest backfill --warc`)
REVISIT_TASK: Final = "ingest.revisit"  # a stored article fetched again (run/revisit.py): after the new links
FIRST: Final = 10  # priority of discovery and WARC jobs: taken before the links waiting, so a due pass is not late
LAST: Final = -10  # priority of revisits: new articles first, revisits with what is left
QUEUE_SCHEMA_LOCK: Final = 0x1_6E6765_7371  # pg_advisory_xact_lock key while Procrastinate's tables are made
PRUNE_EVERY: Final = 3600.0  # seconds between two deletions of old finished jobs by the scheduler
DRAIN_SECONDS: Final = 8.0  # after SIGTERM, pages in flight may finish this long, then are given back (10 s budget)


class GivenBack(Exception):
    """A job stopped before its page was fetched (the worker is stopping): Procrastinate queues it again."""


def apply_queue_schema(dsn: str) -> bool:
    """Procrastinate's schema in the database at `dsn`, unless it is there already; True when it was made.

    One transaction under an advisory lock: a second process waits, then finds the tables and does nothing.
    """
    with psycopg.connect(dsn) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", [QUEUE_SCHEMA_LOCK])
        row = conn.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()
        if row is not None and row[0] is not None:
            return False
        conn.execute(SchemaManager.get_schema())  # no parameters: the '%' in it are literal
        return True


def link_job(link: Link, window: Window = OPEN_WINDOW) -> dict[str, Any]:
    """A `fetch_link` job's arguments (JSON): the link as the frontier gave it, and the pass's window."""
    return {"source": link.source, "url": link.url, "via": link.via,
            "published_at": link.published_at.isoformat() if link.published_at else None, "title": link.title,
            **_window_args(window)}


def _window_args(window: Window) -> dict[str, str | None]:
    return {"since": window.since.isoformat() if window.since else None,
            "until": window.until.isoformat() if window.until else None}


def _window(since: str | None, until: str | None) -> Window:
    return Window(date.fromisoformat(since) if since else None, date.fromisoformat(until) if until else None)


@contextmanager
def _database_trouble(job: str) -> Iterator[None]:
    """A job that loses its database (the server restarted, a query failed) ends with one log line, not a traceback;
    what it committed is safe, the rest stays pending for the next pass (its claim lapses or is freed)."""
    try:
        yield
    except psycopg.Error as exc:
        log.error("%s failed: PostgreSQL: %s; what it had not stored stays pending", job, connect_reason(exc))


class _Stores:
    """Connections for the worker's jobs, one per job running at once (a PostgresStore is not shared by threads:
    its batch is its connection's transaction); opened on demand, kept for the next job."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._free: list[PostgresStore] = []
        self._all: list[PostgresStore] = []
        self._lock = threading.Lock()

    @contextmanager
    def take(self) -> Iterator[PostgresStore]:
        with self._lock:
            store = self._free.pop() if self._free else None
        if store is None:
            store = open_postgres_store(self.dsn)
            with self._lock:
                self._all.append(store)
        try:
            yield store
        except BaseException:
            with self._lock:
                self._all.remove(store)
            store.close()  # its connection may be broken: the next job opens another
            raise
        with self._lock:
            self._free.append(store)

    def close(self) -> None:
        with self._lock:
            stores, self._all, self._free = self._all, [], []
        for store in stores:
            store.close()


@dataclass
class Work:
    """What a worker's jobs share: the config (sources, topics), one Fetcher, one parse pool, the connections."""

    config: Config
    fetcher: Fetcher
    pool: WorkerPool
    stores: _Stores
    archive: WarcArchive | None = None
    parse_timeout: float = PARSE_TIMEOUT
    running: dict[int, tuple[str, Link]] = field(default_factory=dict)  # job id: (claim holder, link), in flight
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)  # the worker is draining: discovery and
    # WARC jobs stop at their next link or record


class LinkJobs:
    """A Procrastinate App on the archive's DSN with the `fetch_link` task. Deferring needs no `work`; running
    jobs does (run_worker sets it)."""

    def __init__(self, dsn: str, work: Work | None = None) -> None:
        self.dsn = dsn
        self.work = work
        # One line per page outcome, as the daemon's: Procrastinate's own (a job deferred, started, ended, to retry)
        # with -v only.
        logging.getLogger("procrastinate").setLevel(logging.NOTSET if log.isEnabledFor(logging.DEBUG)
                                                    else logging.WARNING)
        self.app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=dsn))

        def fetch_link(context: procrastinate.JobContext, source: str, url: str, via: str = "",
                       published_at: str | None = None, title: str | None = None, since: str | None = None,
                       until: str | None = None) -> str:
            link = Link(url, source, via, datetime.fromisoformat(published_at) if published_at else None, title)
            with _database_trouble(f"{source} job for {url}"):
                return self.handle(link, _window(since, until), context.job.id)
            return "database-error"

        def discover(source: str, kind: str = "run", since: str | None = None, until: str | None = None,
                     limit: int | None = None) -> str:
            with _database_trouble(f"{source} discovery job"):
                return self.handle_discovery(source, kind, _window(since, until), limit)
            return "database-error"

        def replay_warc(path: str, source: str | None = None, since: str | None = None, until: str | None = None,
                        limit: int | None = None) -> str:
            with _database_trouble(f"WARC job for {path}"):
                return self.handle_warc(path, source, _window(since, until), limit)
            return "database-error"

        retry = procrastinate.RetryStrategy(retry_exceptions={GivenBack})
        self.task = self.app.task(name=TASK_NAME, queue=QUEUE, pass_context=True, retry=retry)(fetch_link)
        self.discover_task = self.app.task(name=DISCOVER_TASK, queue=QUEUE, priority=FIRST)(discover)
        self.warc_task = self.app.task(name=WARC_TASK, queue=QUEUE, priority=FIRST, retry=retry)(replay_warc)

        def revisit_job(source: str, url_key: str) -> str:
            with _database_trouble(f"{source} revisit job for {url_key}"):
                return self.handle_revisit(source, url_key)
            return "database-error"

        self.revisit_task = self.app.task(name=REVISIT_TASK, queue=QUEUE, priority=LAST, retry=retry)(revisit_job)

    def defer(self, links: Iterable[Link], window: Window = OPEN_WINDOW) -> tuple[int, int]:
        """One job per link, the link's URL key its queueing lock (the app must be open); (deferred, already
        queued)."""
        deferred = queued = 0
        for link in links:
            try:
                self.task.configure(queueing_lock=url_key(link.url)).defer(**link_job(link, window))
                deferred += 1
            except queue_errors.AlreadyEnqueued:
                queued += 1
        return deferred, queued

    def defer_discovery(self, source: Source, kind: str = "run", window: Window = OPEN_WINDOW,
                        limit: int | None = None) -> bool:
        """A discovery job for `source`, unless one is waiting already (its queueing lock): True when deferred."""
        try:
            self.discover_task.configure(queueing_lock=f"discover:{source.slug}").defer(
                source=source.slug, kind=kind, limit=limit, **_window_args(window))
        except queue_errors.AlreadyEnqueued:
            return False
        return True

    def defer_warc(self, paths: Iterable[Path], forced: Source | None = None, window: Window = OPEN_WINDOW,
                   limit: int | None = None) -> tuple[int, int]:
        """One job per WARC file (its absolute path: the workers must read it at the same path), unless one is
        waiting for that file already; (deferred, already queued)."""
        deferred = queued = 0
        for path in paths:
            where = str(path.resolve())
            try:
                self.warc_task.configure(queueing_lock=f"warc:{where}").defer(
                    path=where, source=forced.slug if forced else None, limit=limit, **_window_args(window))
                deferred += 1
            except queue_errors.AlreadyEnqueued:
                queued += 1
        return deferred, queued

    def defer_revisits(self, source: Source, due: Iterable[Revisit]) -> tuple[int, int]:
        """A revisit job per due article, unless one waits for it already; (deferred, already queued)."""
        deferred = queued = 0
        for each in due:
            try:
                self.revisit_task.configure(queueing_lock=f"revisit:{each.url_key}").defer(
                    source=source.slug, url_key=each.url_key)
                deferred += 1
            except queue_errors.AlreadyEnqueued:
                queued += 1
        return deferred, queued

    def handle_revisit(self, slug: str, key: str) -> str:
        """A stored article fetched again in a worker, if still due (another worker may have done it): pipeline's
        fetch_article (a conditional GET) and record_revisit (unchanged, updated with its diff, removed)."""
        work = self._work()
        source = work.config.sources.get(slug)
        if source is None or not source.revisit:
            log.warning("%s does not revisit (not a source of %s, or revisit = false): job for %s dropped", slug,
                        work.config.path, key)
            return "unknown-source"
        with work.stores.take() as store:
            due = store.due_revisit(key, time.time())
            if due is None:
                return "not-due"
            outcome = fetch_revisit(store, work.fetcher, work.pool, get_adapter(source.adapter), source, due,
                                    work.parse_timeout, learned_for(store, source), work.archive)
            if outcome.error is not None and outcome.error.reason == "stopped":
                raise GivenBack(due.url)
            return record_revisit(store, due, outcome, source, Summary(source.slug), work.config.topics)

    def _work(self) -> Work:
        if self.work is None:
            raise RuntimeError("jobs run in a worker (run_worker): this app was made to defer only")
        return self.work

    def handle_discovery(self, slug: str, kind: str = "run", window: Window = OPEN_WINDOW,
                         limit: int | None = None) -> str:
        """A source's discovery pass in a worker (queue_pass: the frontier, then a job per pending link)."""
        work = self._work()
        source = work.config.sources.get(slug)
        if source is None or not source.enabled:
            log.warning("%s is not an enabled source of %s: discovery job dropped", slug, work.config.path)
            return "unknown-source"
        with work.stores.take() as store:
            summary = queue_pass(store, self, work.fetcher, source, kind=kind, window=window, limit=limit,
                                 stop=work.stopping)
        return summary.status

    def handle_warc(self, path: str, slug: str | None = None, window: Window = OPEN_WINDOW,
                    limit: int | None = None) -> str:
        """One WARC file through the pipeline in a worker (replay.replay, resumable by its cursor); GivenBack when
        the worker stopped it: the job is queued again and continues where it stopped."""
        work = self._work()
        forced = work.config.sources.get(slug) if slug else None
        if slug and forced is None:
            log.warning("%s is not a source of %s: WARC job for %s dropped", slug, work.config.path, path)
            return "unknown-source"
        enabled = [s for s in work.config.sources.values() if s.enabled]
        with work.stores.take() as store:
            try:
                done = replay.replay(store, [Path(path)], enabled, pool=work.pool, forced=forced, window=window,
                                     limit=limit, stop=work.stopping, topics=work.config.topics,
                                     archive=work.archive, parse_timeout=work.parse_timeout,
                                     max_bytes=work.config.settings.max_bytes)
            except WarcError as exc:
                log.error("%s not replayed: %s", path, exc)
                return "unreadable"
        if done.stats.stopped and work.stopping.is_set():
            log.info("%s given-back (the worker is stopping; the next worker continues where it stopped)", path)
            raise GivenBack(path)
        log.info("%s replayed: %s", path, done.stats.line())
        return "ok"

    def handle(self, link: Link, window: Window = OPEN_WINDOW, job_id: int | None = None) -> str:
        """One link: claim it, fetch and clean it, record it; its outcome ("new", "duplicate", ...), or "claimed"
        when it was settled already or another process holds it. GivenBack when the worker stopped it before its
        page was fetched (the link stays pending). While it runs, `work.running` names its job, claim and link."""
        work = self._work()
        source = work.config.sources.get(link.source)
        if source is None:
            log.warning("%s is not a source of %s: job for %s dropped", link.source, work.config.path, link.url)
            return "unknown-source"
        holder = holder_name() if job_id is None else job_holder(job_id)  # the sweeper frees a dead job's claim
        with work.stores.take() as store:
            if not store.claim_links([link], holder):
                return "claimed"
            if job_id is not None:
                with work.lock:
                    work.running[job_id] = (holder, link)
            try:
                outcome = fetch_article(work.fetcher, work.pool, get_adapter(source.adapter), source, link, window,
                                        work.parse_timeout, learned_for(store, source), work.archive)
                if outcome.error is not None and outcome.error.reason == "stopped":
                    # the worker is stopping: the link stays pending (released below), the job is queued again
                    log.info("%s given-back %s (the worker is stopping)", source.slug, link.url)
                    raise GivenBack(link.url)
                return record(store, outcome, Summary(source.slug), work.config.topics)
            finally:
                store.release_claims(holder)  # nothing once record settled the link
                if job_id is not None:
                    with work.lock:
                        work.running.pop(job_id, None)
                work.fetcher.release_idle(RELEASE_EVERY)


def run_worker(dsn: str, config: Config, *, concurrency: int = 4, wait: bool = True, pool_size: int | None = None,
               archive: WarcArchive | None = None, install_signal_handlers: bool = True,
               name: str | None = None, drain: float = DRAIN_SECONDS) -> bool:
    """Run `fetch_link` jobs, `concurrency` at once, until stopped (SIGINT/SIGTERM with the signal handlers), or,
    with `wait=False`, until the queue is empty. One Fetcher (host leases in PostgreSQL) and one parse pool.

    True when it ended cleanly. False when pages were still in flight `drain` seconds after the stop: their jobs
    were given back (claims released, jobs `todo`) and their threads still run, so the caller must end the process
    (os._exit) rather than wait for them; nothing was closed."""
    apply_queue_schema(dsn)
    sweep(dsn, task=None, stalled_after=config.settings.stalled_after)  # jobs (any task) of workers killed before
    hosts = open_postgres_host_states(dsn)
    pool = parse_pool(pool_size)
    stores = _Stores(dsn)
    fetcher = Fetcher(config.settings, hosts, hand_over=True)  # jobs of any host, in any order: see Fetcher
    loop = asyncio.new_event_loop()
    clean = True
    try:
        jobs = LinkJobs(dsn, Work(config, fetcher, pool, stores, archive))
        clean = loop.run_until_complete(_drive(jobs, fetcher, concurrency=max(1, concurrency), wait=wait,
                                               name=name or holder_name(), drain=drain,
                                               stalled_after=config.settings.stalled_after,
                                               signals=(signal.SIGINT, signal.SIGTERM) if install_signal_handlers
                                               else ()))
    finally:
        if clean:
            loop.close()
            try:
                fetcher.release_idle()
                fetcher.close()
            finally:
                stores.close()
                pool.close()
                hosts.close()
    return clean


async def _drive(jobs: LinkJobs, fetcher: Fetcher, *, concurrency: int, wait: bool, name: str, drain: float,
                 signals: tuple[signal.Signals, ...], stalled_after: float = 60.0) -> bool:
    """The worker as a task; a signal stops it (no more jobs, the fetcher cancelled), pages in flight have `drain`
    seconds; False when some had to be given back (_give_back)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    await jobs.app.connector.open_async()
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    try:
        worker = asyncio.create_task(jobs.app.run_worker_async(
            queues=[QUEUE], concurrency=concurrency, wait=wait, install_signal_handlers=False, name=name,
            update_heartbeat_interval=heartbeat_for(stalled_after), stalled_worker_timeout=stalled_after))
        sweeper = asyncio.create_task(sweep_every(jobs.dsn, task=None, stalled_after=stalled_after))
        releaser = asyncio.create_task(_release_idle(fetcher))
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({worker, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if not worker.done():
            log.info("stopping: no more jobs; pages in flight have %gs, then are given back", drain)
            if jobs.work is not None:
                jobs.work.stopping.set()
            fetcher.cancel()
            worker.cancel()  # Procrastinate's Worker.run: stop taking jobs, wait for the running ones
            await asyncio.wait({worker}, timeout=drain)
        stopped.cancel()
        sweeper.cancel()
        releaser.cancel()
        if not worker.done():
            await _give_back(jobs)
            return False
        if not worker.cancelled() and (error := worker.exception()) is not None:
            raise error
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
    await jobs.app.connector.close_async()
    return True


async def _release_idle(fetcher: Fetcher) -> None:
    """Every RELEASE_EVERY s, the leases of hosts this worker stopped using given back: after a host's last job the
    worker would keep its lease until it lapses (2 * (timeout + margin)), and other workers with jobs for it wait."""
    while True:
        await asyncio.sleep(RELEASE_EVERY)
        await asyncio.to_thread(fetcher.release_idle, RELEASE_EVERY)


async def _give_back(jobs: LinkJobs) -> None:
    """The jobs still running after the drain: their links' claims released, the jobs `todo` again for another
    worker. (A page that is recorded after all is a settled link: the job run again does nothing.)"""
    assert jobs.work is not None
    with jobs.work.lock:
        running = dict(jobs.work.running)
    store = open_postgres_store(jobs.dsn)
    try:
        for holder, _link in running.values():
            store.release_claims(holder)
    finally:
        store.close()
    for job_id, (_holder, link) in running.items():
        try:
            await jobs.app.job_manager.retry_job_by_id_async(job_id, retry_at=datetime.now(UTC))
        except queue_errors.ProcrastinateException as exc:  # e.g. a newer job holds the link's queueing lock
            log.warning("%s job %d for %s not queued again (%s): the link stays pending", link.source, job_id,
                        link.url, exc)
        log.info("%s given-back %s (still in flight when the worker stopped)", link.source, link.url)


def queue_pass(store: PostgresStore, jobs: LinkJobs, fetcher: Fetcher, source: Source, *, kind: str = "run",
               window: Window = OPEN_WINDOW, limit: int | None = None, stop: threading.Event | None = None,
               on_discovered: Callable[[int, int], None] | None = None,
               on_total: Callable[[int], None] | None = None) -> Summary:
    """pipeline.run_source's discovery into the frontier, then a `fetch_link` job per pending link (the window's,
    at most `limit`) for the workers, recorded in `runs` with discovery's counts (Summary.queued: the jobs)."""
    stop = stop or threading.Event()
    summary = Summary(source.slug, queued=0)
    status = "error"
    run_id = store.start_run(source.slug, kind)
    try:
        pending = discover_pending(store, fetcher, source, get_adapter(source.adapter), summary, kind=kind,
                                   window=window, limit=limit, stop=stop, on_discovered=on_discovered)
        fetcher.release_idle()  # this process fetches no page: the workers need the hosts' leases
        if stop.is_set():
            pending = []
        if on_total:
            on_total(len(pending))
        summary.queued, summary.already_queued = jobs.defer(pending, window)
        log.info("%s queued %d links (%d were queued already)", source.slug, summary.queued, summary.already_queued)
        if kind in REVISITING_KINDS and source.revisit and not stop.is_set():  # after the new links (lower priority)
            due = revisit.due_now(store, source, time.time(), limit, len(pending))
            queued, waiting = jobs.defer_revisits(source, due)
            summary.queued += queued
            summary.already_queued += waiting
            if due:
                log.info("%s queued %d revisits (%d were queued already)", source.slug, queued, waiting)
        summary.stopped = stop.is_set()
        status = summary.status
    finally:
        store.finish_run(run_id, summary.counts(), status)
    return summary


class QueuedPasses:
    """The daemon's runner on PostgreSQL (`ingest run`, the scheduler): a due pass becomes a discovery job that a
    worker runs (queue_pass there); one waits per source at most (its queueing lock), so a second scheduler, or a
    pass still waiting when the next falls due, queues nothing more. Nothing is fetched in this process."""

    def __init__(self, dsn: str) -> None:
        apply_queue_schema(dsn)
        self.dsn = dsn
        self.jobs = LinkJobs(dsn)
        self.jobs.app.open()
        self.stopping = threading.Event()
        self._lock = threading.Lock()  # the app's connections are closed under it, never during a defer
        self._closed = False
        self._pruned_at: float | None = None

    def run_pass(self, source: Source, *, kind: str = "run", window: Window = OPEN_WINDOW, limit: int | None = None,
                 on_discovered: Callable[[int, int], None] | None = None,
                 on_total: Callable[[int], None] | None = None,
                 on_outcome: Callable[[str], None] | None = None) -> Summary:
        """Defer the source's discovery job: Summary.queued is 1, or 0 with already_queued 1 when one waits."""
        summary = Summary(source.slug, queued=0)
        with self._lock:
            if self.stopping.is_set() or self._closed:
                summary.stopped = True
                return summary
            if self.jobs.defer_discovery(source, kind, window, limit):
                summary.queued = 1
            else:
                summary.already_queued = 1
            if self._pruned_at is None or time.monotonic() - self._pruned_at >= PRUNE_EVERY:
                self._pruned_at = time.monotonic()
                if deleted := prune_jobs(self.dsn):
                    log.info("deleted %d jobs finished over a day ago (the fetch log keeps their outcomes)", deleted)
        return summary

    def stop(self) -> None:
        """Defer nothing more."""
        self.stopping.set()

    def close(self) -> None:
        """Close the app's connections. Idempotent."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self.jobs.app.close()


class QueueRunner:
    """Passes whose fetching is queued: discovery here (the caller's Fetcher), one job per pending link for the
    workers. The pass's Summary has discovery's counts only (the pages' outcomes are the workers')."""

    def __init__(self, config: Config, dsn: str, fetcher: Fetcher | None = None) -> None:
        self.config = config
        self.dsn = dsn
        self.fetcher = fetcher
        self.stopping = threading.Event()
        apply_queue_schema(dsn)
        self.jobs = LinkJobs(dsn)
        self.jobs.app.open()
        self._closed = False

    def run_pass(self, source: Source, *, kind: str = "run", window: Window = OPEN_WINDOW, limit: int | None = None,
                 on_discovered: Callable[[int, int], None] | None = None,
                 on_total: Callable[[int], None] | None = None,
                 on_outcome: Callable[[str], None] | None = None) -> Summary:
        """Discover into the frontier, then defer a job per pending link (`on_total` is told how many links;
        `on_outcome` is never called: outcomes happen in the workers)."""
        if self.fetcher is None:
            raise ValueError("a pass needs a fetcher: this runner was made without one")
        sweep(self.dsn, task=None, stalled_after=self.config.settings.stalled_after)
        store = open_postgres_store(self.dsn)
        try:
            return queue_pass(store, self.jobs, self.fetcher, source, kind=kind, window=window, limit=limit,
                              stop=self.stopping, on_discovered=on_discovered, on_total=on_total)
        finally:
            store.close()

    def defer_warc(self, paths: Iterable[Path], forced: Source | None = None, window: Window = OPEN_WINDOW,
                   limit: int | None = None) -> tuple[int, int]:
        """A `replay_warc` job per file (LinkJobs.defer_warc): (deferred, already queued)."""
        return self.jobs.defer_warc(paths, forced, window, limit)

    def stop(self) -> None:
        """Defer nothing more; discovery waiting on a host gives up."""
        self.stopping.set()
        if self.fetcher is not None:
            self.fetcher.cancel()

    def close(self) -> None:
        """Close the app's connections (the fetcher is the caller's). Idempotent."""
        if not self._closed:
            self._closed = True
            self.jobs.app.close()

    def __enter__(self) -> QueueRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def pending_jobs(dsn: str) -> Mapping[str, int]:
    """The `fetch_link` jobs by status (todo, doing, succeeded, failed, ...)."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT status::text, count(*) FROM procrastinate_jobs WHERE task_name = %s"
                            " GROUP BY status", [TASK_NAME]).fetchall()
    return {status: count for status, count in rows}

