"""WARC records -> the pipeline: a backfill from web archives (CC-NEWS, our own db/warc files, any WARC).

Contract: `replay(store, paths, sources, pool=...)` reads each file's records (warcscan.py) and keeps the responses
whose URL belongs to one of `sources` (the first that `wants` it; `forced` takes every URL). Each goes through
the stages a fetched page does: the adapter in the parse pool under its deadline (window check included), then
pipeline.record (dedup, store, topics, fetch log, frontier), with the record's WARC-Date as the fetch time: history
without touching the outlet. A URL already stored is a refetch (unchanged, updated or duplicate), never a second
row. Foreign URLs, requests, revisits and metadata cost no row; a broken record is a `fetches` row (rejected,
`warc-broken`) and reading goes on after it; a status other than 200 is one too (`http-NNN`), the frontier untouched.

Results are written in file order, in batches, and each batch's transaction saves the file's cursor (`cursors`,
stage `warc <path>`: the offset of the first record not yet handled, with a hash of the bytes before it, so a
file changed or cut since is read from the start again). Killed at any moment, the same call goes on from there
and stores nothing twice; a finished file clears its cursor. Memory stays flat: at most two pages per parse
worker are in flight, and no other body is read. Records fetched before `window.since` are passed over unparsed
(a page cannot publish an article after it was fetched).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Final

from ingest.archive.warc import MAX_BODY, WarcArchive, WarcError, WarcRef
from ingest.archive.warcscan import Scanned, scan
from ingest.clean.adapters import get_adapter
from ingest.clean.adapters.base import Adapter
from ingest.clean.parse import HTML_TYPES
from ingest.config import Source, Topic
from ingest.crawl.harvest import window_key
from ingest.logs import fields
from ingest.models import OPEN_WINDOW, Link, Page, Rejected, Window
from ingest.run.parsing import PARSE_TIMEOUT, parse_isolated
from ingest.run.pipeline import WRITE_BATCH, WRITE_EVERY, LearnedCache, Outcome, Summary, elapsed_ms, keep_raw, record
from ingest.run.warcplan import ReplayStats, Router, early
from ingest.run.workers import WorkerPool
from ingest.storage import Store

log = logging.getLogger("ingest")

# Records handed on and not written yet: finished ones wait behind a slow page (written in file order, so the
# cursor stays exact) but hold only their article, not the page.
QUEUED: Final = 64
CURSOR_EVERY: Final = 2.0  # seconds: a long stretch of foreign records still moves the cursor this often
_MARK_BYTES: Final = 4096  # bytes before a cursor's offset that must be the same for it to be trusted
_STORED: Final = frozenset({"new", "duplicate", "updated", "unchanged"})


@dataclass
class Replayed:
    """A replay's result: a summary per source that had records, and what was read."""

    summaries: list[Summary]
    stats: ReplayStats


def replay(store: Store, paths: Sequence[Path], sources: Sequence[Source], *, pool: WorkerPool,
           forced: Source | None = None, window: Window = OPEN_WINDOW, limit: int | None = None,
           stop: threading.Event | None = None, topics: Mapping[str, Topic] | None = None,
           archive: WarcArchive | None = None, parse_timeout: float = PARSE_TIMEOUT, max_bytes: int = MAX_BODY,
           on_file: Callable[[Path, int, int], None] | None = None,
           on_bytes: Callable[[int], None] | None = None) -> Replayed:
    """Send the records of `paths` through the pipeline; see the module docstring. WarcError when a file cannot
    be opened. `on_file(path, size, start)` and `on_bytes(position)` report progress in bytes."""
    # Two threads per parse worker: one waits for it, so a worker gets its next page the moment it is free.
    with ThreadPoolExecutor(max_workers=2 * pool.size, thread_name_prefix="replay") as threads:
        run = _Replay(store, sources, forced, pool, threads, window, limit, stop or threading.Event(), topics,
                      archive, parse_timeout, max_bytes, on_file, on_bytes)
        try:
            for path in paths:
                if run.stop.is_set() or run.full:
                    break
                run.file(path)
        finally:
            run.close()
    return Replayed([r.summary for r in run.runs.values()], run.stats)


@dataclass
class _Run:
    """One source's share of a replay."""

    source: Source
    adapter: Adapter
    summary: Summary
    learned: LearnedCache
    run_id: int
    stored: int = 0
    in_flight: int = 0  # sent to a parse worker, not written yet


@dataclass
class _Item:
    """A record handed to the pipeline, queued until it is written in file order."""

    start: int
    run: _Run | None
    result: Future[Outcome]
    parsed: bool = False  # counts in its run's in_flight
    log_only: bool = False  # a fetches row alone: the frontier is left as it is


@dataclass
class _Replay:
    store: Store
    sources: Sequence[Source]
    forced: Source | None
    pool: WorkerPool
    threads: ThreadPoolExecutor
    window: Window
    limit: int | None
    stop: threading.Event
    topics: Mapping[str, Topic] | None
    archive: WarcArchive | None
    parse_timeout: float
    max_bytes: int
    on_file: Callable[[Path, int, int], None] | None
    on_bytes: Callable[[int], None] | None
    stats: ReplayStats = field(default_factory=ReplayStats)
    runs: dict[str, _Run] = field(default_factory=dict)
    queue: deque[_Item] = field(default_factory=deque)

    def __post_init__(self) -> None:
        self.route = Router(self.sources, self.forced)
        self.room = 2 * self.pool.size  # pages being parsed: never more than that in memory
        self.cursor = ("", 0)  # (stage, position: the first record not handled) of the current file
        self.full = False  # every source has its --limit
        self.mark: BinaryIO | None = None
        self.written = self.saved = time.monotonic()

    def file(self, path: Path) -> None:
        """Replay one file, from its cursor; its cursor is kept if the replay stops before its end."""
        stage = f"warc {path.resolve()}"
        try:
            handle, self.mark = path.open("rb"), path.open("rb")
        except OSError as exc:
            raise WarcError(f"{path}: cannot read: {exc.strerror or exc}") from None
        with handle, self.mark:
            size = os.fstat(handle.fileno()).st_size
            start = reported = self._resume(path, stage, size)
            self.stats.files += 1
            if self.on_file:
                self.on_file(path, size, start)
            self.cursor = (stage, start)
            own = path.name if self._own(path) else None
            finished = True
            for rec in scan(handle, start, wanted=self._wanted, max_bytes=self.max_bytes, end=size):
                if self.stop.is_set() or not self._take(rec, path, own):
                    finished = False
                    break
                self.cursor = (stage, rec.end)
                if self.on_bytes and rec.end - reported >= 2**20:
                    self.on_bytes(rec.end)
                    reported = rec.end
                self._pump()
                if not self.queue and time.monotonic() - self.saved > CURSOR_EVERY:
                    self._write([])
            self._pump(drain=True)
            self.stats.bytes += self.cursor[1] - start
            if self.on_bytes:
                self.on_bytes(self.cursor[1])
            self.stats.stopped = self.stats.stopped or self.stop.is_set()
            self._write([], finished=finished and not self.stop.is_set())
        self.mark = None

    def close(self) -> None:
        """Wait for what is in flight, write it, and close the sources' runs."""
        self._pump(drain=True)
        for run in self.runs.values():
            run.summary.stopped = self.stats.stopped
            self.store.finish_run(run.run_id, run.summary.counts(), "stopped" if self.stats.stopped else "ok")

    # --- reading -------------------------------------------------------------------------------------

    def _wanted(self, head: Scanned) -> bool:
        """Whether a response's body is worth reading: an HTML page of one of our sources, in the window."""
        return (head.status == 200 and head.content_type in HTML_TYPES and self.route(head.url) is not None
                and not early(head, self.window))

    def _take(self, rec: Scanned, path: Path, own: str | None) -> bool:
        """Hand one record to the pipeline (or count it); False: every source has its --limit, stop here."""
        if rec.kind == "broken":
            self.stats.records += 1
            self.stats.broken += 1
            run = self._run(self.route(rec.url) if rec.url else self.forced)
            url = rec.url or f"{path.resolve().as_uri()}#{rec.start}"
            error = Rejected("warc-broken", f"{path.name} bytes {rec.start}-{rec.end}: {rec.problem}")
            self._queue(rec, run, _done(Outcome(Link(url, run.source.slug if run else ""), error=error)), log=True)
            return True
        response = rec.kind == "response" and rec.status is not None
        source = self.route(rec.url) if response else None
        if source is not None and not early(rec, self.window) and not self._room_for(source):
            if all(not self._room_for(s) for s in ([self.forced] if self.forced else self.sources)):
                self.full = True
                return False  # this record is where the cursor stays: the same command goes on from here
            self.stats.records += 1
            self.stats.over_limit += 1
            return True
        self.stats.records += 1
        if source is None:
            self.stats.foreign += response
            return True
        if early(rec, self.window):
            self.stats.early += 1
            return True
        if rec.date is not None and self.store.stored_after(rec.url, rec.date):
            self.stats.older += 1  # an old snapshot: the newer text stays the article's
            return True
        run = self._run(source)
        assert run is not None
        run.summary.discovered += 1
        link = Link(rec.url, source.slug, via="warc")
        if rec.status != 200:
            outcome = Outcome(link, error=Rejected(f"http-{rec.status}", "as archived"), status=rec.status)
            self._queue(rec, run, _done(outcome), log=True)
        elif rec.content_type not in HTML_TYPES:
            self._queue(rec, run, _done(Outcome(link, error=Rejected("not-html", rec.content_type), status=200)))
        elif rec.page is None:
            error = Rejected("too-large", f"body over {self.max_bytes} bytes decoded" if rec.too_large else "no body")
            self._queue(rec, run, _done(Outcome(link, error=error, status=200)))
        else:  # a page of our own archive: its record is its raw copy already
            raw = WarcRef(own, rec.start, rec.end - rec.start) if own else None
            run.in_flight += 1
            self._queue(rec, run, self.threads.submit(self._parse, run, link, rec.page, raw), parsed=True)
        return True

    def _room_for(self, source: Source) -> bool:
        """Whether `source` may take one more article under --limit, once the pages in flight are written."""
        run = self.runs.get(source.slug)
        while run is not None and self.limit is not None and run.stored + run.in_flight >= self.limit \
                and run.in_flight:
            self._pump(head=True)  # write the oldest: it may be one of this source's
        return run is None or self.limit is None or run.stored < self.limit

    def _parse(self, run: _Run, link: Link, page: Page, raw: WarcRef | None) -> Outcome:
        """In a thread: the page through the source's adapter in a parse worker, its raw copy archived."""
        keep = raw is None and self.archive is not None and self.archive.enabled
        started = time.monotonic()
        outcome = self._parsed(run, link, page, raw, keep)
        return dataclasses.replace(outcome, ms=elapsed_ms(started))

    def _parsed(self, run: _Run, link: Link, page: Page, raw: WarcRef | None, keep: bool) -> Outcome:
        try:
            parsed = parse_isolated(self.pool, run.adapter, run.source, page, self.window, self.parse_timeout,
                                    run.learned.current, {} if keep else None)
            if parsed.packed is not None and self.archive is not None:
                raw = keep_raw(self.archive, run.source, parsed.packed, page.url)
            return Outcome(link, parsed.article, status=page.status, fingerprint=parsed.fingerprint,
                           blocks=parsed.blocks, raw=raw, digest=parsed.digest)
        except Rejected as exc:
            return Outcome(link, error=exc, status=page.status)
        except Exception as exc:  # a bug of ours must not end the replay
            log.exception("%s parse-error %s", run.source.slug, link.url,
                          extra=fields(source=run.source.slug, outcome="rejected", url=link.url, reason="parse-error"))
            return Outcome(link, error=Rejected("parse-error", f"{type(exc).__name__}: {exc}"), status=page.status)

    # --- writing -------------------------------------------------------------------------------------

    def _queue(self, rec: Scanned, run: _Run | None, result: Future[Outcome], *, parsed: bool = False,
               log: bool = False) -> None:
        self.queue.append(_Item(rec.start, run, result, parsed, log))

    def _pump(self, *, drain: bool = False, head: bool = False) -> None:
        """Write the finished records at the head of the queue, in file order (the cursor is the first one not
        written). Waits while `room` pages are being parsed (memory) or QUEUED records wait behind a slow one;
        `drain`: until every record is written, `head`: until the oldest is. Finished pages wait for WRITE_BATCH
        others or WRITE_EVERY seconds, to share a commit."""
        while self.queue:
            ready = 0
            while ready < len(self.queue) and self.queue[ready].result.done():
                ready += 1
            pressed = len(self.queue) >= QUEUED
            if ready and (drain or head or pressed or ready >= WRITE_BATCH
                          or time.monotonic() - self.written >= WRITE_EVERY):
                self._write([self.queue.popleft() for _ in range(ready)])
                if head:
                    return
                continue
            busy = [i.result for i in self.queue if not i.result.done()]
            if not (drain or head or pressed or sum(i.parsed for i in self.queue if not i.result.done()) >= self.room):
                return
            wait(busy, return_when=FIRST_COMPLETED)

    def _write(self, items: list[_Item], *, finished: bool = False) -> None:
        """Store `items` and move the file's cursor past them (or clear it), in one transaction."""
        stage, position = self.cursor
        with self.store.batch():
            for n, item in enumerate(items):
                outcome = item.result.result()
                if outcome.error is not None and outcome.error.reason == "stopped":  # the pool was closed
                    self.stop.set()
                    self.queue.clear()
                    position, finished = item.start, False
                    items = items[:n]
                    break
                if item.parsed and item.run is not None:
                    item.run.in_flight -= 1
                if item.log_only:
                    assert outcome.error is not None
                    self.store.log_fetch(url=outcome.link.url, source=outcome.link.source, outcome="rejected",
                                    status=outcome.status, reason=outcome.error.reason, detail=outcome.error.detail)
                    if item.run is not None:
                        item.run.summary.add("rejected", outcome.error.reason)
                    log.info("%s rejected %s (%s: %s)", outcome.link.source or "-", outcome.link.url,
                             outcome.error.reason, outcome.error.detail,
                             extra=fields(source=outcome.link.source, outcome="rejected", url=outcome.link.url,
                                          reason=outcome.error.reason))
                elif item.run is not None and record(self.store, outcome, item.run.summary, self.topics) in _STORED:
                    item.run.stored += 1
            if self.queue:
                position = min(position, self.queue[0].start)
            if stage and finished:
                self.store.clear_cursors(self._scope(), window_key(self.window), stage)
            elif stage:
                value = f"{position} {self._mark(position)}"
                self.store.save_cursor(self._scope(), window_key(self.window), stage, value)
        self.written = self.saved = time.monotonic()
        for run in {id(i.run): i.run for i in items if i.run is not None}.values():
            if self.store.learned_revision(run.source.slug) != run.learned.current.revision:
                run.learned.refresh(self.store)  # a block became boilerplate here, or in another process

    # --- bookkeeping ---------------------------------------------------------------------------------

    def _run(self, source: Source | None) -> _Run | None:
        if source is None:
            return None
        if source.slug not in self.runs:
            self.runs[source.slug] = _Run(source, get_adapter(source.adapter), Summary(source.slug),
                                          LearnedCache(self.store, source), self.store.start_run(source.slug, "warc"))
        return self.runs[source.slug]

    def _scope(self) -> str:
        return self.forced.slug if self.forced else "*"

    def _resume(self, path: Path, stage: str, size: int) -> int:
        """Where an interrupted replay of this file stopped, if the file still has the same bytes before it."""
        value = self.store.read_cursor(self._scope(), window_key(self.window), stage)
        if value is None:
            return 0
        offset, _, mark = value.partition(" ")
        if offset.isdigit() and 0 < int(offset) <= size and self._mark(int(offset)) == mark:
            self.stats.resumed += 1
            return int(offset)
        log.warning("%s: changed since a replay stopped at byte %s of it; reading it from the start", path, offset)
        return 0

    def _mark(self, offset: int) -> str:
        """A hash of the bytes just before `offset`: a cursor is trusted only while they are the same."""
        assert self.mark is not None
        self.mark.seek(max(0, offset - _MARK_BYTES))
        return hashlib.blake2b(self.mark.read(min(offset, _MARK_BYTES)), digest_size=8).hexdigest()

    def _own(self, path: Path) -> bool:
        """A file of our own raw-page archive: its records are the raw copies (re-archiving would feed the file
        being read)."""
        return (self.archive is not None and path.name.endswith(".warc.gz")
                and path.resolve().parent == self.archive.root.resolve())


def _done(outcome: Outcome) -> Future[Outcome]:
    future: Future[Outcome] = Future()
    future.set_result(outcome)
    return future
